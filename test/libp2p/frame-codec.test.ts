import { fc, test } from '@fast-check/vitest'
import { describe, expect, it } from 'vitest'
import { createRng } from '../../core/random.ts'
import { encodeFrame, FrameBatch, FrameDecoder, FramingError } from '../../net/libp2p/frame-codec.ts'
import type { DecodedFrame, FrameRejection } from '../../net/libp2p/frame-codec.ts'
import type { Channel } from '../../core/transport.ts'
import { AddressBook } from '../../net/libp2p/address-book.ts'
import { ConfigError } from '../../core/errors.ts'
import { testMembers } from './helpers.ts'

function collect(maxFrameBytes: number): { decoder: FrameDecoder; frames: DecodedFrame[]; rejected: FrameRejection[] } {
  const frames: DecodedFrame[] = []
  const rejected: FrameRejection[] = []
  const decoder = new FrameDecoder(maxFrameBytes, (channel, bytes) => frames.push({ channel, bytes: bytes.slice() }), r => rejected.push(r))
  return { decoder, frames, rejected }
}

describe('frame codec', () => {
  it('round-trips frames split into arbitrary chunks (seeded)', () => {
    const seed = process.env.FRAME_SEED ?? 'frames-1'
    const rng = createRng(seed)
    const channels: Channel[] = ['protocol', 'request', 'reply']
    const sent: DecodedFrame[] = []
    const wire: Uint8Array[] = []
    for (let i = 0; i < 300; i++) {
      const bytes = new Uint8Array(rng.chance(0.1) ? rng.int(40_000) : rng.int(200))
      for (let j = 0; j < bytes.length; j++) bytes[j] = rng.int(256)
      const channel = channels[rng.int(3)]!
      sent.push({ channel, bytes })
      wire.push(encodeFrame({ channel, type: 'T', bytes }, 1 << 20))
    }
    const { decoder, frames, rejected } = collect(1 << 20)
    const all = new Uint8Array(Buffer.concat(wire))
    for (let pos = 0; pos < all.length;) {
      const n = Math.min(all.length - pos, 1 + rng.int(rng.chance(0.5) ? 8 : 70_000))
      decoder.push(all.slice(pos, pos + n))
      pos += n
    }
    expect(rejected, `replay: FRAME_SEED='${seed}'`).toEqual([])
    expect(frames, `replay: FRAME_SEED='${seed}'`).toEqual(sent)
    expect(decoder.buffered).toBe(0)
  })

  it('skips an oversized frame without buffering it, then decodes the next', () => {
    const { decoder, frames, rejected } = collect(100)
    const big = encodeFrame({ channel: 'protocol', type: 'Big', bytes: new Uint8Array(10_000).fill(7) }, 1 << 20)
    const next = encodeFrame({ channel: 'reply', type: 'Small', bytes: new Uint8Array([1, 2, 3]) }, 100)
    decoder.push(big.subarray(0, 50))
    expect(rejected).toEqual(['oversized'])
    expect(decoder.buffered).toBe(0)
    decoder.push(big.subarray(50, 5000))
    decoder.push(new Uint8Array([...big.subarray(5000), ...next]))
    expect(frames).toEqual([{ channel: 'reply', bytes: new Uint8Array([1, 2, 3]) }])
    expect(rejected).toEqual(['oversized'])
  })

  it('rejects empty frames and unknown channels but keeps the framing; a runaway length prefix is fatal', () => {
    const { decoder, frames, rejected } = collect(100)
    decoder.push(new Uint8Array([0, 3, 7, 1, 2, 2, 1, 9]))
    expect(rejected).toEqual(['malformed', 'malformed'])
    expect(frames).toEqual([{ channel: 'request', bytes: new Uint8Array([9]) }])
    expect(() => decoder.push(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x80]))).toThrow(FramingError)
  })

  it('refuses to encode a frame over the limit', () => {
    expect(() => encodeFrame({ channel: 'protocol', type: 'Huge', bytes: new Uint8Array(100) }, 100)).toThrow(/protocol\/Huge frame of 101 bytes/)
    const batch = new FrameBatch(100)
    expect(() => batch.append({ channel: 'protocol', type: 'Huge', bytes: new Uint8Array(100) })).toThrow(/protocol\/Huge frame of 101 bytes/)
    expect(batch.frames).toBe(0)
    expect(batch.bytes).toBe(0)
  })
})

/** What goes on the wire in the property below: frames the sender coalesces, or bytes a faulty peer could send. */
const MAX = 512
const varint = (n: number): number[] => { const out: number[] = []; while (n >= 0x80) { out.push((n % 0x80) | 0x80); n = Math.floor(n / 0x80) } out.push(n); return out }
const items = fc.array(fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('frame' as const), channel: fc.constantFrom<Channel>('protocol', 'request', 'reply'),
    bytes: fc.uint8Array({ maxLength: MAX - 1 }), flushAfter: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('oversized' as const), size: fc.integer({ min: MAX + 1, max: 4 * MAX }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unknown-channel' as const), code: fc.integer({ min: 3, max: 255 }), bytes: fc.uint8Array({ maxLength: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('empty' as const) }) },
), { maxLength: 60 })

describe('coalesced frames (property)', () => {
  test.prop([items, fc.array(fc.integer({ min: 1, max: 3 * MAX }), { minLength: 1, maxLength: 200 })], { numRuns: 300 })(
    'any sequence of frames, batched into writes and split into arbitrary chunks, decodes to the same frames in order; bad frames are rejected and counted',
    (sequence, cuts) => {
      // The sender's side: good frames coalesced into batches (one write each), bad ones as a faulty peer writes them.
      const writes: Uint8Array[] = []
      const batch = new FrameBatch(MAX)
      const flush = () => { if (batch.frames > 0) writes.push(batch.take()) }
      const expected: DecodedFrame[] = []
      const expectedRejections: FrameRejection[] = []
      for (const item of sequence) {
        if (item.kind === 'frame') {
          batch.append({ channel: item.channel, type: 'T', bytes: item.bytes })
          expected.push({ channel: item.channel, bytes: item.bytes })
          if (item.flushAfter) flush()
          continue
        }
        flush()
        if (item.kind === 'oversized') { writes.push(new Uint8Array([...varint(item.size), 0, ...new Uint8Array(item.size - 1)])); expectedRejections.push('oversized') }
        if (item.kind === 'unknown-channel') { writes.push(new Uint8Array([...varint(1 + item.bytes.length), item.code, ...item.bytes])); expectedRejections.push('malformed') }
        if (item.kind === 'empty') { writes.push(new Uint8Array([0])); expectedRejections.push('malformed') }
      }
      flush()
      expect(batch.bytes).toBe(0)
      // Coalescing does not change the bytes: the writes are exactly the frames encoded one by one.
      const stream = new Uint8Array(Buffer.concat(writes))
      const oneByOne = sequence.filter(i => i.kind === 'frame').map(i => encodeFrame({ channel: i.channel, type: 'T', bytes: i.bytes }, MAX))
      if (expectedRejections.length === 0) expect(stream).toEqual(new Uint8Array(Buffer.concat(oneByOne)))

      // The receiver's side: the byte stream split into arbitrary chunks.
      const { decoder, frames, rejected } = collect(MAX)
      let pos = 0
      for (let i = 0; pos < stream.length; i++) {
        const n = Math.min(stream.length - pos, cuts[i % cuts.length]!)
        decoder.push(stream.slice(pos, pos + n))
        pos += n
      }
      expect(frames).toEqual(expected)
      expect(rejected).toEqual(expectedRejections)
      expect(decoder.buffered).toBe(0)
    })
})

describe('address book', () => {
  it('rejects duplicate ids, duplicate keys, bad keys and bad multiaddrs by field', async () => {
    const [a, b] = (await testMembers(2)).map(m => m.address)
    expect(() => new AddressBook([a!, { ...b!, id: a!.id }])).toThrow(/peers\[1\]\.id: node 0 appears twice/)
    expect(() => new AddressBook([a!, { ...b!, publicKey: a!.publicKey }])).toThrow(/peers\[1\]\.publicKey: node 1 has the same key as node 0/)
    expect(() => new AddressBook([{ ...a!, publicKey: new Uint8Array(31) }])).toThrow(ConfigError)
    expect(() => new AddressBook([{ ...a!, addrs: ['not a multiaddr'] }])).toThrow(/peers\[0\]\.addrs\[0\]/)
    expect(() => new AddressBook([{ ...a!, addrs: [`/ip4/127.0.0.1/tcp/1/p2p/${new AddressBook([b!]).get(1)!.peerId.toString()}`] }]))
      .toThrow(/leave out the \/p2p\//)
    const book = new AddressBook([a!, b!])
    expect(book.byPeer(book.get(1)!.peerId)?.id).toBe(1)
    expect(book.get(0)!.dialAddrs[0]!.toString()).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/)
  })
})
