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
