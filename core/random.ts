/**
 * Seeded randomness. The simulator, fault generators and protocols draw only from here, so one seed gives one trace.
 * sfc32 (Chris Doty-Humphrey's Small Fast Counter): 128-bit state, passes PractRand, and is cheap in 32-bit JS ints.
 */

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number
  /** Uniform integer in [0, bound). */
  int(bound: number): number
  /** Uniform integer in [lo, hi] inclusive. */
  range(lo: number, hi: number): number
  /** true with probability p. */
  chance(p: number): boolean
  /** An independent stream derived from this one's seed and a label (stable across runs). */
  fork(label: string): Rng
}

/** Hash a string to 32 bits (FNV-1a), for deriving seeds from labels. */
export function hash32(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

class Sfc32 implements Rng {
  private a: number
  private b: number
  private c: number
  private d: number
  private readonly seedText: string

  constructor(seedText: string) {
    this.seedText = seedText
    this.a = hash32(seedText + '#a')
    this.b = hash32(seedText + '#b')
    this.c = hash32(seedText + '#c')
    this.d = 1
    for (let i = 0; i < 16; i++) this.nextUint32() // mix the state before use
  }

  private nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  next(): number {
    return this.nextUint32() / 4294967296
  }

  int(bound: number): number {
    if (!(bound > 0)) throw new RangeError(`rng.int bound must be positive, got ${bound}`)
    return Math.floor(this.next() * bound)
  }

  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }

  chance(p: number): boolean {
    return p > 0 && this.next() < p
  }

  fork(label: string): Rng {
    return new Sfc32(`${this.seedText}/${label}`)
  }
}

export function createRng(seed: number | string): Rng {
  return new Sfc32(String(seed))
}
