/**
 * EPaxos wire and durable formats: every message type round-trips; truncated, trailing or out-of-range bytes are a
 * CodecError naming what is wrong (the host counts and drops such frames); options are validated by name.
 */
import { describe, expect, it } from 'vitest'
import { ConfigError, CodecError } from '../../core/errors.ts'
import { epaxos } from '../../protocols/epaxos/descriptor.ts'
import { decodeExecutedSet, encodeExecutedSet } from '../../protocols/epaxos/executed-set.ts'
import { decodeInstanceRecord, encodeInstanceRecord, newInstance } from '../../protocols/epaxos/instance.ts'
import { decodeMessage, encodeMessage, type EpaxosMessage } from '../../protocols/epaxos/messages.ts'
import { parseEpaxosOptions } from '../../protocols/epaxos/options.ts'
import { put } from './fixtures.ts'

const batch = [put(1000, 3, 'a', 'x'), put(1001, 1, 'b', 'y')]
const deps = [0, 7, 2]
const samples: EpaxosMessage[] = [
  { type: 'PreAccept', ballot: 0, replica: 1, num: 9, requests: batch, seq: 4, deps },
  { type: 'PreAcceptOK', ballot: 5, replica: 1, num: 9, seq: 5, deps, unchanged: false },
  { type: 'Accept', ballot: 8, replica: 2, num: 1, requests: [], seq: 0, deps },
  { type: 'AcceptOK', ballot: 8, replica: 2, num: 1 },
  { type: 'Commit', replica: 0, num: 3, requests: batch, seq: 2, deps },
  { type: 'Prepare', ballot: 11, replica: 0, num: 3 },
  { type: 'PrepareOK', ballot: 11, replica: 0, num: 3, status: 'preaccepted', vballot: 0, unchanged: true, requests: batch, seq: 2, deps },
  { type: 'Nack', ballot: 3, replica: 0, num: 3, promised: 14 },
  { type: 'Frontier', executed: [10, 0, 4] },
]

describe('epaxos codec', () => {
  it('round-trips every message type', () => {
    for (const m of samples) expect(decodeMessage(encodeMessage(m)), m.type).toEqual(m)
  })

  it('rejects truncated frames, trailing bytes, unknown tags and statuses with a CodecError', () => {
    for (const m of samples) {
      const bytes = encodeMessage(m)
      expect(() => decodeMessage(bytes.subarray(0, bytes.length - 1)), m.type).toThrow(CodecError)
      expect(() => decodeMessage(new Uint8Array([...bytes, 0])), m.type).toThrow(/trailing/)
    }
    expect(() => decodeMessage(new Uint8Array([200]))).toThrow(/unknown type tag 200/)
    const ok = encodeMessage(samples[6]!)
    const badStatus = ok.slice()
    badStatus[4] = 9 // tag, ballot, replica, num, then the status byte
    expect(() => decodeMessage(badStatus)).toThrow(/unknown instance status 9/)
  })

  it('round-trips the durable instance record and the snapshot meta', () => {
    const inst = newInstance(2, 41, 3)
    Object.assign(inst, { status: 'accepted', requests: batch, seq: 7, deps: [3, 0, 40], ballot: 14, vballot: 11, unchanged: false })
    const back = decodeInstanceRecord(encodeInstanceRecord(inst), 3)
    expect({ ...back, keys: [] }).toEqual({ ...inst, keys: [] })
    const meta = { frontier: [4, 0, 9], above: [[0, 6], [2, 11]] as Array<[number, number]>, pending: [[1, 1]] as Array<[number, number]> }
    expect(decodeExecutedSet(encodeExecutedSet(meta))).toEqual(meta)
  })
})

describe('epaxos options', () => {
  it('fills defaults and rejects unknown or impossible values by name', () => {
    expect(parseEpaxosOptions({}, 3).thrifty).toBe(true)
    expect(() => parseEpaxosOptions({ maxBatchCount: 0 }, 3)).toThrow(/maxBatchCount/)
    expect(() => parseEpaxosOptions({ thrifty: 'yes' }, 3)).toThrow(ConfigError)
    expect(() => parseEpaxosOptions({ recoveryTicks: 3, phaseTimeoutTicks: 5 }, 3)).toThrow(/recoveryTicks/)
    expect(() => parseEpaxosOptions({ fastQuorum: 2 }, 3)).toThrow(/fastQuorum/)
    expect(epaxos.checkClusterSize(0)).toMatch(/at least 1/)
  })
})
