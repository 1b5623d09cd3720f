/**
 * Compact binary encoding helpers shared by every codec: unsigned varints (LEB128, as protobuf), length-prefixed bytes
 * and strings. Readers check every bound and throw `CodecError` saying what was truncated or too large, so a
 * malformed frame from the network is rejected instead of crashing a replica.
 */
import { CodecError } from '../errors.ts'

const textEncoder = new TextEncoder()
/** Shared empty result of zero-length reads (never written to: typed arrays of length 0 have nothing to write). */
const NO_BYTES = new Uint8Array(0)
const textDecoder = new TextDecoder('utf-8', { fatal: true })

/**
 * One shared scratch buffer for encoding: most messages are encoded start to finish without another encode nested
 * inside, so a writer borrows it and `finish()` copies out exactly the bytes written. That is one allocation per
 * message instead of a buffer, a view and regrowth (the simulator's hottest allocation). A writer that finds the
 * scratch borrowed (a nested encode) simply allocates its own.
 */
let scratch = new Uint8Array(64 * 1024)
let scratchBorrowed = false

/** Grows as needed; `finish()` returns exactly the bytes written. */
export class BinaryWriter {
  private buf: Uint8Array
  private view: DataView | null = null
  private pos = 0
  private borrowed = false

  constructor(initialSize = 64) {
    if (!scratchBorrowed && initialSize <= scratch.length) {
      scratchBorrowed = true
      this.borrowed = true
      this.buf = scratch
    } else {
      this.buf = new Uint8Array(initialSize)
    }
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return
    // At least 64: a writer finished with nothing written holds an empty array, and doubling 0 never grows it.
    let size = Math.max(64, this.buf.length * 2)
    while (size < this.pos + extra) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    if (this.borrowed) {
      this.borrowed = false
      scratchBorrowed = false
      // Next time, a scratch big enough for messages this large (bounded).
      if (size <= 4 * 1024 * 1024) scratch = new Uint8Array(size)
    }
    this.buf = next
    this.view = null
  }

  u8(value: number): this {
    this.ensure(1)
    this.buf[this.pos++] = value & 0xff
    return this
  }

  /** Unsigned integer up to 2^53 - 1 as LEB128. */
  uvarint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new CodecError(`cannot encode ${value} as an unsigned varint`)
    this.ensure(8)
    while (value >= 0x80) {
      this.buf[this.pos++] = (value % 0x80) | 0x80
      value = Math.floor(value / 0x80)
    }
    this.buf[this.pos++] = value
    return this
  }

  /** Signed integer (zig-zag), for values such as "no leader" = -1. */
  svarint(value: number): this {
    return this.uvarint(value < 0 ? -2 * value - 1 : 2 * value)
  }

  bool(value: boolean): this {
    return this.u8(value ? 1 : 0)
  }

  f64(value: number): this {
    this.ensure(8)
    this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength)
    this.view.setFloat64(this.pos, value, true)
    this.pos += 8
    return this
  }

  /** Raw bytes, no length (fixed-size fields such as signatures and digests). */
  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
    return this
  }

  bytes(bytes: Uint8Array): this {
    this.uvarint(bytes.length)
    return this.raw(bytes)
  }

  string(text: string): this {
    // Keys and values are nearly always ASCII: then the byte length is known up front and the characters go straight
    // into the buffer, with no intermediate array (encoding snapshots of many keys made this a hot spot).
    const n = text.length
    let ascii = true
    for (let i = 0; i < n; i++) if (text.charCodeAt(i) > 0x7f) { ascii = false; break }
    if (!ascii) return this.bytes(textEncoder.encode(text))
    this.uvarint(n)
    this.ensure(n)
    const buf = this.buf
    let pos = this.pos
    for (let i = 0; i < n; i++) buf[pos++] = text.charCodeAt(i)
    this.pos = pos
    return this
  }

  get length(): number {
    return this.pos
  }

  /** The bytes written, as a new array the caller owns (the writer may go on writing after it). */
  finish(): Uint8Array {
    const out = copyOut(this.buf, this.pos)
    if (this.borrowed) {
      this.borrowed = false
      scratchBorrowed = false
      this.buf = out
      this.view = null
    }
    return out
  }
}

/**
 * Results of 65 bytes to 2 KB are carved out of shared 8 KB slabs, as Node's Buffer pool does: an array of that size
 * otherwise gets an ArrayBuffer of its own, allocated outside the JS heap and tracked by the garbage collector one by
 * one, which cost 5-10x the copy itself (finish() was the top self-time entry of a PBFT soak). Arrays up to 64 bytes
 * V8 keeps on its own heap, cheaper still, and large ones are rare. A slab is freed once no array carved from it is
 * alive; an array's `buffer` is then the slab, so users of `.buffer` must respect `byteOffset` (they all do).
 */
const ON_HEAP_MAX = 64
const SLAB_SIZE = 8192
const SLAB_MAX = 2048
let slab = new ArrayBuffer(SLAB_SIZE)
let slabUsed = SLAB_SIZE

function copyOut(buf: Uint8Array, length: number): Uint8Array {
  if (length <= ON_HEAP_MAX || length > SLAB_MAX) return buf.slice(0, length)
  if (slabUsed + length > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE)
    slabUsed = 0
  }
  const out = new Uint8Array(slab, slabUsed, length)
  // Keep each array 8-byte aligned, as a fresh ArrayBuffer would be.
  slabUsed += (length + 7) & ~7
  out.set(buf.subarray(0, length))
  return out
}

/** Strings up to this many bytes are looked up in the intern table before being decoded. */
const INTERNED_MAX_LENGTH = 32
/** Slots of the intern table (a power of two): one string per slot, a newer one replacing an older. */
const INTERNED_SLOTS = 4096
const interned: (string | undefined)[] = new Array<string | undefined>(INTERNED_SLOTS).fill(undefined)

/**
 * The short ASCII string in `buf[pos, pos + length)`, from a table of recently decoded ones, or null when it is not
 * ASCII. Every replica decodes the same few keys and values from every command it applies: building each anew cost
 * more than the rest of the decoding, and the fresh copies that a key-value store then held were promoted by the GC.
 * Strings are values, so which copy a reader gets is unobservable.
 */
function internedAscii(buf: Uint8Array, pos: number, length: number): string | null {
  let hash = 0x811c9dc5
  for (let i = pos; i < pos + length; i++) {
    const b = buf[i]!
    if (b > 0x7f) return null
    hash = Math.imul(hash ^ b, 0x01000193)
  }
  const slot = (hash ^ (hash >>> 15)) & (INTERNED_SLOTS - 1)
  const candidate = interned[slot]
  if (candidate !== undefined && candidate.length === length) {
    let same = true
    for (let i = 0; i < length; i++) if (candidate.charCodeAt(i) !== buf[pos + i]) { same = false; break }
    if (same) return candidate
  }
  const decoded = String.fromCharCode.apply(null, buf.subarray(pos, pos + length) as unknown as number[])
  interned[slot] = decoded
  return decoded
}

/** Reads what BinaryWriter wrote; every read checks bounds. `what` names the structure in error messages. */
export class BinaryReader {
  private readonly buf: Uint8Array
  private view: DataView | null = null
  private pos = 0
  private readonly what: string

  constructor(bytes: Uint8Array, what = 'message') {
    this.buf = bytes
    this.what = what
  }

  private fail(reason: string): never {
    throw new CodecError(`malformed ${this.what}: ${reason} at byte ${this.pos} of ${this.buf.length}`)
  }

  u8(): number {
    if (this.pos >= this.buf.length) this.fail('truncated')
    return this.buf[this.pos++]!
  }

  uvarint(): number {
    let result = 0
    let scale = 1
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.buf.length) this.fail('truncated varint')
      const b = this.buf[this.pos++]!
      result += (b & 0x7f) * scale
      if (b < 0x80) {
        if (!Number.isSafeInteger(result)) this.fail('varint out of range')
        return result
      }
      scale *= 0x80
    }
    return this.fail('varint too long')
  }

  svarint(): number {
    const z = this.uvarint()
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2
  }

  bool(): boolean {
    const b = this.u8()
    if (b > 1) this.fail(`boolean byte ${b}`)
    return b === 1
  }

  f64(): number {
    if (this.pos + 8 > this.buf.length) this.fail('truncated float')
    this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength)
    const v = this.view.getFloat64(this.pos, true)
    this.pos += 8
    return v
  }

  raw(length: number): Uint8Array {
    if (length === 0) return NO_BYTES // most signatures and many values are empty: skip the view allocation
    if (this.pos + length > this.buf.length) this.fail(`need ${length} bytes`)
    const out = this.buf.subarray(this.pos, this.pos + length)
    this.pos += length
    return out
  }

  bytes(maxLength = this.buf.length): Uint8Array {
    const length = this.uvarint()
    if (length > maxLength) this.fail(`length ${length} exceeds ${maxLength}`)
    return this.raw(length)
  }

  string(maxLength = this.buf.length): string {
    const length = this.uvarint()
    if (length > maxLength) this.fail(`length ${length} exceeds ${maxLength}`)
    if (length <= INTERNED_MAX_LENGTH) {
      if (this.pos + length > this.buf.length) this.fail(`need ${length} bytes`)
      const interned = internedAscii(this.buf, this.pos, length)
      if (interned !== null) {
        this.pos += length
        return interned
      }
    }
    const bytes = this.raw(length)
    // Short ASCII strings (the usual key or value) decode faster by hand than through TextDecoder.
    if (bytes.length <= 64) {
      let ascii = true
      for (let i = 0; i < bytes.length; i++) if (bytes[i]! > 0x7f) { ascii = false; break }
      if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[])
    }
    try {
      return textDecoder.decode(bytes)
    } catch {
      return this.fail('invalid UTF-8')
    }
  }

  /** A count of following items, bounded by the bytes left (each item needs at least one byte). */
  count(): number {
    const n = this.uvarint()
    if (n > this.buf.length - this.pos) this.fail(`count ${n} exceeds remaining bytes`)
    return n
  }

  get remaining(): number {
    return this.buf.length - this.pos
  }

  /** Call after the last field: trailing bytes mean the sender and receiver disagree on the layout. */
  end(): void {
    if (this.pos !== this.buf.length) this.fail(`${this.buf.length - this.pos} trailing bytes`)
  }
}
