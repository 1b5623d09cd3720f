/**
 * Raft's options, validated once by the descriptor (ConfigError names the bad field) and read by the replica.
 * Timeouts are in ticks: the host decides how long a tick is.
 */
import { ConfigError } from '../../core/errors.ts'
import { boolOption, intOption, rejectUnknownOptions } from '../../core/options.ts'

// A type alias (not an interface) so it is assignable to the contract's Record<string, unknown>.
export type RaftOptions = {
  /** Base election timeout; each wait is drawn uniformly from [electionTicks, 2 * electionTicks - 1]. */
  readonly electionTicks: number
  /** Leader heartbeat interval; must be well below electionTicks. */
  readonly heartbeatTicks: number
  /** Most entries in one AppendEntries. */
  readonly maxBatchCount: number
  /** Most (approximate) entry bytes in one AppendEntries; a single larger entry still goes alone. */
  readonly maxBatchBytes: number
  /** Most AppendEntries in flight (unacknowledged) per follower: the pipelining window. */
  readonly maxInflight: number
  /** Dissertation §9.6: a candidate first checks that it could win, so a partitioned node cannot disrupt by rejoining. */
  readonly preVote: boolean
  /** Dissertation §6.2: a leader that has not heard from a majority for an election timeout steps down. */
  readonly checkQuorum: boolean
  /**
   * Dissertation §6.4.1: serve reads without a heartbeat round while the leader's lease holds. Assumes clocks (tick
   * rates) drift by less than the margin of one heartbeat interval over an election timeout. Needs checkQuorum.
   */
  readonly leaseReads: boolean
  /**
   * Dissertation §10.2.1: the leader sends AppendEntries while its own write of the entries is still being synced, so
   * one fsync (the followers') sits on the commit path instead of two in a row; it counts itself once durable.
   */
  readonly parallelLeaderAppend: boolean
}

export const RAFT_OPTION_NAMES = [
  'electionTicks', 'heartbeatTicks', 'maxBatchCount', 'maxBatchBytes', 'maxInflight', 'preVote', 'checkQuorum',
  'leaseReads', 'parallelLeaderAppend',
] as const

export const DEFAULT_RAFT_OPTIONS: RaftOptions = {
  electionTicks: 10,
  heartbeatTicks: 1,
  maxBatchCount: 64,
  maxBatchBytes: 1 << 20,
  maxInflight: 4,
  preVote: true,
  checkQuorum: true,
  leaseReads: false,
  parallelLeaderAppend: true,
}

export function parseRaftOptions(raw: Readonly<Record<string, unknown>>): RaftOptions {
  rejectUnknownOptions(raw, RAFT_OPTION_NAMES, 'raft')
  const d = DEFAULT_RAFT_OPTIONS
  const electionTicks = intOption(raw, 'electionTicks', d.electionTicks, 2, 1_000_000)
  const heartbeatTicks = intOption(raw, 'heartbeatTicks', d.heartbeatTicks, 1, 1_000_000)
  if (heartbeatTicks >= electionTicks) {
    throw new ConfigError('heartbeatTicks', `must be below electionTicks (${electionTicks}), got ${heartbeatTicks}`)
  }
  const options: RaftOptions = {
    electionTicks,
    heartbeatTicks,
    maxBatchCount: intOption(raw, 'maxBatchCount', d.maxBatchCount, 1, 1_000_000),
    maxBatchBytes: intOption(raw, 'maxBatchBytes', d.maxBatchBytes, 1, 1 << 30),
    maxInflight: intOption(raw, 'maxInflight', d.maxInflight, 1, 100_000),
    preVote: boolOption(raw, 'preVote', d.preVote),
    checkQuorum: boolOption(raw, 'checkQuorum', d.checkQuorum),
    leaseReads: boolOption(raw, 'leaseReads', d.leaseReads),
    parallelLeaderAppend: boolOption(raw, 'parallelLeaderAppend', d.parallelLeaderAppend),
  }
  if (options.leaseReads && !options.checkQuorum) {
    throw new ConfigError('leaseReads', 'needs checkQuorum: without it a deposed leader may not notice and serve stale reads')
  }
  return options
}
