/**
 * The per-node mux: group frames round-trip through a wire frame, frames for one peer in one turn leave as one wire
 * frame (split only at the size limit), each group's transport counts its own messages, and bad input (malformed
 * batches, unknown groups) is refused with a reason, never delivered.
 */
import { fc, test } from '@fast-check/vitest'
import { describe, expect, it } from 'vitest'
import { CodecError } from '../../core/errors.ts'
import { decodeGroupFrames, encodeGroupFrames } from '../../core/groups/group-frames.ts'
import { GroupMux } from '../../core/groups/group-mux.ts'
import { MessageStats } from '../../core/message-stats.ts'
import type { FrameHandler, InboundFrame, OutboundFrame, Transport } from '../../core/transport.ts'
import type { NodeId } from '../../core/types.ts'

/** Two transports wired back to back; what one sends, the other receives when `deliver()` runs (bytes only). */
function pair(): { a: Transport; b: Transport; wire: Array<{ to: NodeId; frame: OutboundFrame }>; deliver: () => void } {
  const handlers = new Map<NodeId, FrameHandler>()
  const wire: Array<{ to: NodeId; frame: OutboundFrame }> = []
  const make = (id: NodeId): Transport => ({
    id, stats: new MessageStats(),
    send: (to, frame) => { wire.push({ to, frame }) },
    onFrame: h => { handlers.set(id, h) },
  })
  const a = make(1)
  const b = make(2)
  return {
    a, b, wire,
    deliver: () => {
      for (const { to, frame } of wire.splice(0)) handlers.get(to)?.(to === 1 ? 2 : 1, { channel: frame.channel, bytes: frame.bytes })
    },
  }
}

describe('group frames', () => {
  test.prop([fc.array(fc.record({ group: fc.integer({ min: 0, max: 65_535 }), bytes: fc.uint8Array({ maxLength: 40 }) }), { minLength: 1, maxLength: 30 })])(
    'decode(encode(frames)) gives the frames back', frames => {
      expect(decodeGroupFrames(encodeGroupFrames(frames)).map(f => ({ group: f.group, bytes: [...f.bytes] })))
        .toEqual(frames.map(f => ({ group: f.group, bytes: [...f.bytes] })))
    })

  it('refuses empty, truncated, trailing and out-of-range batches with a CodecError', () => {
    const bytes = encodeGroupFrames([{ group: 3, bytes: new Uint8Array([1, 2, 3]) }])
    expect(() => decodeGroupFrames(new Uint8Array([0]))).toThrow(/empty batch/)
    expect(() => decodeGroupFrames(bytes.subarray(0, bytes.length - 1))).toThrow(CodecError)
    expect(() => decodeGroupFrames(new Uint8Array([...bytes, 0]))).toThrow(/trailing bytes/)
    expect(() => decodeGroupFrames(encodeGroupFrames([{ group: 70_000, bytes: new Uint8Array(0) }]))).toThrow(/group 70000 out of range/)
  })
})

describe('GroupMux', () => {
  it('sends what many groups queue for one peer in one turn as one wire frame, and each group gets its own', () => {
    const net = pair()
    const turn: Array<() => void> = []
    const ma = new GroupMux({ transport: net.a, endOfTurn: fn => { turn.push(fn) } })
    const mb = new GroupMux({ transport: net.b, endOfTurn: fn => { turn.push(fn) } })
    const got: Array<[number, InboundFrame]> = []
    for (let g = 0; g < 10; g++) mb.transportFor(g).onFrame((_from, f) => got.push([g, f]))
    for (let g = 0; g < 10; g++) ma.transportFor(g).send(2, { channel: 'protocol', type: 'Heartbeat', bytes: new Uint8Array([g]) })
    ma.transportFor(4).send(2, { channel: 'reply', type: 'ClientReply', bytes: new Uint8Array([44]) })
    expect(net.wire).toHaveLength(0) // nothing leaves before the turn ends
    for (const fn of turn.splice(0)) fn()
    // One wire frame per channel: ten heartbeats in one, the reply in another.
    expect(net.wire.map(w => w.frame.channel)).toEqual(['protocol', 'reply'])
    expect(ma.framesSent).toBe(11)
    expect(ma.wireFramesSent).toBe(2)
    net.deliver()
    expect(got.map(([g, f]) => `${g}:${f.channel}:${f.bytes[0]}`)).toEqual([
      ...Array.from({ length: 10 }, (_, g) => `${g}:protocol:${g}`), '4:reply:44',
    ])
    // Each group's transport counted its own message; the merged view sums them.
    expect(ma.transportFor(3).stats.total('protocol').messages).toBe(1)
    expect(ma.groupStats().total('protocol').messages).toBe(10)
  })

  it('without coalescing sends each frame alone; a batch over the size limit is split', () => {
    const net = pair()
    const solo = new GroupMux({ transport: net.a, endOfTurn: fn => fn(), coalesce: false })
    for (let g = 0; g < 3; g++) solo.transportFor(g).send(2, { channel: 'protocol', type: 'X', bytes: new Uint8Array(10) })
    expect(net.wire).toHaveLength(3)
    net.wire.length = 0
    const turn: Array<() => void> = []
    const small = new GroupMux({ transport: net.b, endOfTurn: fn => { turn.push(fn) }, maxBatchBytes: 100 })
    for (let g = 0; g < 10; g++) small.transportFor(g).send(1, { channel: 'protocol', type: 'X', bytes: new Uint8Array(30) })
    for (const fn of turn.splice(0)) fn()
    expect(net.wire.length).toBeGreaterThan(2)
    expect(net.wire.every(w => decodeGroupFrames(w.frame.bytes).length <= 3)).toBe(true)
  })

  it('refuses a malformed batch and frames for groups not hosted here, saying why, and delivers the rest', () => {
    const net = pair()
    const rejected: string[] = []
    const mb = new GroupMux({ transport: net.b, endOfTurn: fn => fn(), onReject: (from, reason) => rejected.push(`${from}: ${reason}`) })
    const got: number[] = []
    mb.transportFor(1).onFrame((_f, frame) => got.push(frame.bytes[0]!))
    net.a.send(2, { channel: 'protocol', type: 'GroupFrames', bytes: new Uint8Array([5, 1]) })
    net.a.send(2, { channel: 'protocol', type: 'GroupFrames', bytes: encodeGroupFrames([{ group: 7, bytes: new Uint8Array([9]) }, { group: 1, bytes: new Uint8Array([8]) }]) })
    net.deliver()
    expect(got).toEqual([8])
    expect(rejected).toHaveLength(2)
    expect(rejected[0]).toMatch(/^1: malformed GroupFrames: count 5 exceeds/)
    expect(rejected[1]).toBe('1: protocol frame for group 7, which is not hosted here')
  })
})
