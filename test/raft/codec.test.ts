/** The wire codec, the durable records, options validation and the descriptor's contract values. */
import { describe, expect, it } from 'vitest'
import { CodecError, ConfigError } from '../../core/errors.ts'
import { decodeHardState, decodeSnapshotMeta, encodeHardState, encodeSnapshotMeta, recoverRaftState } from '../../protocols/raft/durable.ts'
import type { RaftMessage } from '../../protocols/raft/messages.ts'
import { decodeEntry, encodeEntry, raftCodec } from '../../protocols/raft/messages.ts'
import { DEFAULT_RAFT_OPTIONS, parseRaftOptions } from '../../protocols/raft/options.ts'
import { raft } from '../../protocols/raft/descriptor.ts'
import { getProtocol } from '../../protocols/index.ts'
import { request } from './harness.ts'

const samples: RaftMessage[] = [
  { type: 'RequestVote', term: 3, lastLogIndex: 10, lastLogTerm: 2, transfer: true },
  { type: 'RequestVoteResponse', term: 3, granted: true },
  { type: 'PreVote', term: 4, lastLogIndex: 10, lastLogTerm: 2 },
  { type: 'PreVoteResponse', term: 4, granted: false },
  {
    type: 'AppendEntries', term: 5, prevLogIndex: 9, prevLogTerm: 4, leaderCommit: 8, entries: [
      { term: 5, type: 'noop' },
      { term: 5, type: 'command', request: request(1000, 7) },
      { term: 5, type: 'config', config: { voters: [0, 1, 2], learners: [3] } },
    ],
  },
  { type: 'AppendEntriesResponse', term: 5, success: false, index: 9, conflictTerm: 3, conflictIndex: 6 },
  { type: 'Heartbeat', term: 5, commit: 8, round: 77 },
  { type: 'HeartbeatResponse', term: 5, round: 77 },
  { type: 'InstallSnapshot', term: 6, lastIncludedIndex: 100, lastIncludedTerm: 5, config: { voters: [1, 2, 4], learners: [] }, data: new Uint8Array([1, 2, 3]) },
  { type: 'InstallSnapshotResponse', term: 6, index: 100 },
  { type: 'TimeoutNow', term: 6 },
]

describe('raft codec', () => {
  it('round-trips every message type and names it for counting', () => {
    for (const m of samples) {
      expect(raftCodec.decode(raftCodec.encode(m))).toEqual(m)
      expect(raftCodec.typeName(m)).toBe(m.type)
    }
  })

  it('rejects malformed frames with a CodecError saying what is wrong', () => {
    expect(() => raftCodec.decode(new Uint8Array([99, 1]))).toThrow(/unknown type code 99/)
    const good = raftCodec.encode(samples[4]!)
    for (let cut = 1; cut < good.length; cut++) expect(() => raftCodec.decode(good.subarray(0, cut))).toThrow(CodecError)
    expect(() => raftCodec.decode(new Uint8Array([...good, 0]))).toThrow(/trailing/)
    expect(() => decodeEntry(new Uint8Array([1, 9]))).toThrow(/unknown entry type 9/)
  })

  it('round-trips durable records and refuses a log with a gap', () => {
    expect(decodeHardState(encodeHardState({ term: 9, votedFor: -1 }))).toEqual({ term: 9, votedFor: -1 })
    const meta = { lastIncludedTerm: 4, config: { voters: [0, 2], learners: [5] } }
    expect(decodeSnapshotMeta(encodeSnapshotMeta(meta))).toEqual(meta)
    const value = encodeEntry({ term: 1, type: 'noop' })
    expect(() => recoverRaftState({ hard: new Map(), snapshot: null, log: [{ index: 1, value }, { index: 3, value }] }))
      .toThrow(/gap/)
  })
})

describe('raft options and descriptor', () => {
  it('fills defaults and names the bad field', () => {
    expect(parseRaftOptions({})).toEqual(DEFAULT_RAFT_OPTIONS)
    expect(DEFAULT_RAFT_OPTIONS.preVote && DEFAULT_RAFT_OPTIONS.checkQuorum && !DEFAULT_RAFT_OPTIONS.leaseReads).toBe(true)
    const bad = (raw: Record<string, unknown>, field: string): void => {
      try {
        parseRaftOptions(raw)
        expect.unreachable(`accepted ${JSON.stringify(raw)}`)
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError)
        expect((e as ConfigError).field).toBe(field)
      }
    }
    bad({ electionTicks: 1 }, 'electionTicks')
    bad({ heartbeatTicks: 10, electionTicks: 10 }, 'heartbeatTicks')
    bad({ maxInflight: 0 }, 'maxInflight')
    bad({ maxBatchBytes: 'big' }, 'maxBatchBytes')
    bad({ preVote: 'yes' }, 'preVote')
    bad({ leaseReads: true, checkQuorum: false }, 'leaseReads')
    bad({ electionTimeout: 5 }, 'electionTimeout')
  })

  it('declares crash faults, 2f+1 replicas, proposer replies and 2(n-1) messages per command', () => {
    expect(getProtocol('raft')).toBe(raft)
    expect(raft.faultModel).toBe('crash')
    expect([0, 1, 2, 3].map(raft.replicasFor)).toEqual([1, 3, 5, 7])
    expect([1, 2, 3, 4, 5].map(raft.faultsTolerated)).toEqual([0, 0, 1, 1, 2])
    expect(raft.checkClusterSize(1)).toBeNull()
    expect(raft.checkClusterSize(0)).toMatch(/at least 1/)
    expect(raft.replyFrom).toBe('proposer')
    expect(raft.theoreticalMessages(5)).toEqual({ AppendEntries: 4, AppendEntriesResponse: 4 })
  })
})
