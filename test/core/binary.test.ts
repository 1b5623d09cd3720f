/** The shared binary codec helpers: round trips, the ASCII fast paths, and bounds checks that name the problem. */
import { describe, expect, it } from 'vitest'
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import { CodecError } from '../../core/errors.ts'
import { createRng } from '../../core/random.ts'

describe('binary codec', () => {
  it('round-trips strings: ASCII, multi-byte UTF-8, empty, and long', () => {
    const samples = ['', 'k1', 'héllo wörld', '日本語', '😀 emoji', 'x'.repeat(1000), 'mixed ascii then ü']
    const w = new BinaryWriter()
    for (const t of samples) w.string(t)
    const r = new BinaryReader(w.finish())
    for (const t of samples) expect(r.string()).toBe(t)
    r.end()
  })

  it('decodes short ASCII strings right when many share the intern table (colliding slots, seeded)', () => {
    const rng = createRng('binary-interned-strings')
    // Far more distinct strings than the table has slots, each decoded twice: every collision must be detected.
    const samples = Array.from({ length: 20_000 }, () =>
      String.fromCharCode(...Array.from({ length: rng.int(33) }, () => 32 + rng.int(95))))
    const w = new BinaryWriter()
    for (const t of samples) w.string(t).string(t)
    const r = new BinaryReader(w.finish())
    for (const t of samples) { expect(r.string()).toBe(t); expect(r.string()).toBe(t) }
    r.end()
  })

  it('round-trips varints at their edges and random values (seeded)', () => {
    const rng = createRng('binary-varints')
    const values = [0, 1, 127, 128, 16383, 16384, 2 ** 32, Number.MAX_SAFE_INTEGER]
    for (let i = 0; i < 200; i++) values.push(Math.floor(rng.next() * Number.MAX_SAFE_INTEGER))
    const w = new BinaryWriter()
    // Signed (zig-zag) varints double the magnitude, so they take values up to 2^52.
    const signed = (v: number) => (v === 0 ? 0 : -(v % 2 ** 52))
    for (const v of values) w.uvarint(v).svarint(signed(v))
    const r = new BinaryReader(w.finish())
    for (const v of values) { expect(r.uvarint()).toBe(v); expect(r.svarint()).toBe(signed(v)) }
    r.end()
  })

  it('keeps each finished buffer independent of later encodes that reuse the scratch space', () => {
    const a = new BinaryWriter().string('first').finish()
    const b = new BinaryWriter().string('second').finish()
    expect(new BinaryReader(a).string()).toBe('first')
    expect(new BinaryReader(b).string()).toBe('second')
    const outer = new BinaryWriter().u8(1)
    const inner = new BinaryWriter().string('nested').finish() // the scratch is borrowed: this one allocates
    outer.bytes(inner)
    const r = new BinaryReader(outer.finish())
    expect(r.u8()).toBe(1)
    expect(new BinaryReader(r.bytes()).string()).toBe('nested')
  })

  it('finished arrays of every size (some sharing a slab) hold their own bytes, whatever is written later (seeded)', () => {
    const rng = createRng('binary-finish-slabs')
    const made: { bytes: Uint8Array; expected: number[] }[] = []
    const writer = (n: number, fill: number) => {
      const w = new BinaryWriter()
      for (let i = 0; i < n; i++) w.u8((fill + i) & 0xff)
      return w
    }
    for (let i = 0; i < 3000; i++) {
      // Around the thresholds (64 on the heap, 2048 the largest from a slab) and random sizes up to 5000.
      const n = rng.chance(0.5) ? [0, 1, 63, 64, 65, 66, 2047, 2048, 2049, 8192][rng.int(10)]! : rng.int(5000)
      const fill = rng.int(256)
      const w = writer(n, fill)
      const bytes = w.finish()
      const expected = Array.from({ length: n }, (_, j) => (fill + j) & 0xff)
      // A writer that goes on after finish() must not write into what it returned.
      w.u8(0xee).u8(0xef)
      made.push({ bytes, expected })
      // The caller owns its array: writing to it touches no other.
      if (n > 0 && rng.chance(0.3)) { bytes[rng.int(n)] = 0xab; expected.splice(0, n, ...bytes) }
      expect(bytes.byteOffset % 8, `size ${n}`).toBe(0)
    }
    for (const [i, m] of made.entries()) expect(Array.from(m.bytes), `array ${i} (replay: seed "binary-finish-slabs")`).toEqual(m.expected)
  })

  it('rejects invalid UTF-8, truncation, oversize lengths and trailing bytes with what and where', () => {
    expect(() => new BinaryReader(new Uint8Array([2, 0xc3, 0x28]), 'key').string()).toThrow(/malformed key: invalid UTF-8/)
    expect(() => new BinaryReader(new Uint8Array([5, 65]), 'key').string()).toThrow(/malformed key: length 5 exceeds 2/)
    expect(() => new BinaryReader(new Uint8Array([1, 1, 5]), 'pair').raw(4)).toThrow(/need 4 bytes/)
    expect(() => new BinaryReader(new Uint8Array([3, 1, 2, 3]), 'sig').bytes(2)).toThrow(/length 3 exceeds 2/)
    expect(() => new BinaryReader(new Uint8Array([0x80, 0x80]), 'n').uvarint()).toThrow(CodecError)
    const r = new BinaryReader(new Uint8Array([1, 9]), 'frame')
    r.u8()
    expect(() => r.end()).toThrow(/1 trailing bytes at byte 1/)
  })
})
