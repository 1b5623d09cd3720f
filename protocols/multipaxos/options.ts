/**
 * Multi-Paxos options: timeouts in ticks, batching and pipelining limits, and the two quorum sizes of Flexible Paxos
 * (Howard, Malkhi, Spiegelman 2016): Phase 1 and Phase 2 quorums only need to intersect, q1 + q2 > n.
 */
import { ConfigError } from '../../core/errors.ts'
import { checkFlexibleQuorums, majority } from '../../core/quorum.ts'
import { boolOption, intOption, rejectUnknownOptions } from '../../core/options.ts'

export interface MultiPaxosOptions {
  /** Ticks between leader heartbeats (sent only to followers that got nothing else) and Accept retransmissions. */
  readonly heartbeatTicks: number
  /** Ticks without word from the leader before a replica suspects it; the actual timeout is randomized in [t, 2t). */
  readonly leaderTimeoutTicks: number
  /** Most client requests in one slot. */
  readonly maxBatchCount: number
  /** Most request bytes (ops) in one slot; a single larger request still gets a slot of its own. */
  readonly maxBatchBytes: number
  /** Most slots proposed and not yet chosen at once (pipelining depth). */
  readonly window: number
  /** Promises a new leader needs (Phase 1 quorum). */
  readonly phase1Quorum: number
  /** Accepts that choose a value (Phase 2 quorum). */
  readonly phase2Quorum: number
  /** Serve reads at the leader under a lease instead of through the log (see README: bounded clock drift). */
  readonly leaseReads: boolean
  /**
   * The leader sends Accept while its own acceptance is still being synced and counts itself once durable, so one
   * fsync (the acceptors') sits on the commit path instead of two in a row (as Raft's dissertation §10.2.1).
   */
  readonly parallelLeaderAccept: boolean
}

export const MULTIPAXOS_OPTION_NAMES = [
  'heartbeatTicks', 'leaderTimeoutTicks', 'maxBatchCount', 'maxBatchBytes', 'window', 'phase1Quorum', 'phase2Quorum',
  'leaseReads', 'parallelLeaderAccept',
] as const

export function parseMultiPaxosOptions(raw: Readonly<Record<string, unknown>>, n: number): MultiPaxosOptions {
  rejectUnknownOptions(raw, MULTIPAXOS_OPTION_NAMES, 'multipaxos')
  const heartbeatTicks = intOption(raw, 'heartbeatTicks', 2, 1)
  const leaderTimeoutTicks = intOption(raw, 'leaderTimeoutTicks', 10, 2)
  if (leaderTimeoutTicks <= heartbeatTicks) {
    throw new ConfigError('leaderTimeoutTicks',
      `must exceed heartbeatTicks (${heartbeatTicks}), or followers suspect a healthy leader, got ${leaderTimeoutTicks}`)
  }
  const maxBatchCount = intOption(raw, 'maxBatchCount', 64, 1)
  const maxBatchBytes = intOption(raw, 'maxBatchBytes', 1 << 20, 1)
  const window = intOption(raw, 'window', 32, 1)
  const phase1Quorum = intOption(raw, 'phase1Quorum', majority(n), 1, n)
  const phase2Quorum = intOption(raw, 'phase2Quorum', majority(n), 1, n)
  const quorumError = checkFlexibleQuorums(n, phase1Quorum, phase2Quorum)
  if (quorumError !== null) throw new ConfigError(raw.phase2Quorum !== undefined ? 'phase2Quorum' : 'phase1Quorum', quorumError)
  const leaseReads = boolOption(raw, 'leaseReads', false)
  const parallelLeaderAccept = boolOption(raw, 'parallelLeaderAccept', true)
  return {
    heartbeatTicks, leaderTimeoutTicks, maxBatchCount, maxBatchBytes, window, phase1Quorum, phase2Quorum, leaseReads,
    parallelLeaderAccept,
  }
}
