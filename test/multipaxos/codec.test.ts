import { describe, expect, it } from 'vitest'
import { CodecError } from '../../core/errors.ts'
import { decodeAccepted, decodePromised, encodeAccepted, encodePromised } from '../../protocols/multipaxos/acceptor.ts'
import { multipaxos } from '../../protocols/multipaxos/descriptor.ts'
import { multiPaxosCodec } from '../../protocols/multipaxos/messages.ts'
import type { MultiPaxosMessage } from '../../protocols/multipaxos/messages.ts'
import { request } from './cluster.ts'

const b = { round: 7, id: 2 }
const batch = [request(1000, 1), request(1001, 9, true)]

const samples: MultiPaxosMessage[] = [
  { type: 'Prepare', ballot: b, fromSlot: 12 },
  {
    type: 'Promise', ballot: b, snapshotIndex: 10, slots: [
      { slot: 11, ballot: { round: 3, id: 1 }, chosen: true, value: batch },
      { slot: 14, ballot: { round: 6, id: 0 }, chosen: false, value: [] },
    ],
  },
  { type: 'Accept', ballot: b, slot: 15, value: batch, commitIndex: 13 },
  { type: 'Accepted', ballot: b, slot: 15 },
  { type: 'Heartbeat', ballot: b, commitIndex: 15, stamp: 120 },
  { type: 'HeartbeatAck', ballot: b, commitIndex: 14, stamp: 118 },
  { type: 'CatchUpRequest', fromSlot: 3 },
  { type: 'CatchUp', entries: [{ slot: 3, value: batch }, { slot: 4, value: [] }] },
  { type: 'Snapshot', index: 40, data: new Uint8Array([1, 2, 3]) },
  { type: 'Nack', ballot: b, promised: { round: 9, id: 0 } },
  { type: 'TakeOver', ballot: b },
]

describe('multipaxos codec', () => {
  it('round-trips every message type and names it for counting', () => {
    for (const m of samples) {
      const decoded = multiPaxosCodec.decode(multiPaxosCodec.encode(m))
      expect(decoded).toEqual(m)
      expect(multiPaxosCodec.typeName(decoded)).toBe(m.type)
    }
  })

  it('rejects truncated frames, trailing bytes and unknown types with a CodecError', () => {
    for (const m of samples) {
      const bytes = multiPaxosCodec.encode(m)
      expect(() => multiPaxosCodec.decode(bytes.subarray(0, bytes.length - 1)), m.type).toThrow(CodecError)
      const longer = new Uint8Array(bytes.length + 1)
      longer.set(bytes)
      expect(() => multiPaxosCodec.decode(longer), m.type).toThrow(/trailing bytes/)
    }
    expect(() => multiPaxosCodec.decode(new Uint8Array([200]))).toThrow(/unknown type tag 200/)
    expect(() => multiPaxosCodec.decode(new Uint8Array(0))).toThrow(CodecError)
  })

  it('round-trips the durable records (promised ballot, accepted slot)', () => {
    expect(decodePromised(encodePromised(b))).toEqual(b)
    expect(decodeAccepted(encodeAccepted(b, batch))).toEqual({ ballot: b, value: batch })
    expect(() => decodePromised(new Uint8Array([1]))).toThrow(/promised ballot/)
  })
})

describe('multipaxos descriptor', () => {
  it('states its fault model, sizes and the message cost it implements', () => {
    expect(multipaxos.name).toBe('multipaxos')
    expect(multipaxos.faultModel).toBe('crash')
    expect(multipaxos.replicasFor(2)).toBe(5)
    expect(multipaxos.faultsTolerated(5)).toBe(2)
    expect(multipaxos.checkClusterSize(1)).toBeNull()
    expect(multipaxos.checkClusterSize(0)).toMatch(/at least 1/)
    expect(multipaxos.replyFrom).toBe('proposer')
    expect(multipaxos.theoreticalMessages(5)).toEqual({ Accept: 4, Accepted: 4 })
  })
})
