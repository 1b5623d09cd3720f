/**
 * EPaxos options, validated once by the descriptor (ConfigError names the bad field) and read by the replica.
 * Timeouts are in ticks: the host decides how long a tick is.
 */
import { ConfigError } from '../../core/errors.ts'
import { boolOption, intOption, rejectUnknownOptions } from '../../core/options.ts'

// A type alias (not an interface) so it is assignable to the contract's Record<string, unknown>.
export type EpaxosOptions = {
  /** Most client requests in one instance (batching: deps and seq are the union over the batch). */
  readonly maxBatchCount: number
  /**
   * Most of its own instances a command leader keeps undecided at once; requests arriving meanwhile wait and go out
   * together in the next instance, so load does not cost one instance per request (one client with one request
   * outstanding still gives batch size 1).
   */
  readonly maxInflight: number
  /**
   * Thrifty (§4.3 "optimization"): send PreAccept to the fast quorum only, and Accept to a majority only; the rest
   * hear about the instance from its Commit. Off: PreAccept and Accept go to everyone.
   */
  readonly thrifty: boolean
  /** Ticks a phase may wait for its quorum before it re-sends to every replica (a member of the quorum is slow or down). */
  readonly phaseTimeoutTicks: number
  /**
   * Ticks an instance another replica leads may stay undecided here (or a dependency unknown) before this replica
   * starts explicit prepare (§4.5) for it; each replica waits a seeded random extra up to the same again, so two do
   * not keep outbidding each other.
   */
  readonly recoveryTicks: number
  /** Ticks between broadcasts of the durable executed frontier (compaction, §4.7 checkpoints). */
  readonly frontierTicks: number
  /**
   * The least a client waits for an answer before resending to the next replica (it waits longer once it has measured
   * its round trip): a retry elsewhere is a second instance of the same command, which conflicts with the first (its
   * session) and sends both down the slow path.
   */
  readonly clientRetryTicks: number
}

export const EPAXOS_OPTION_NAMES = [
  'maxBatchCount', 'maxInflight', 'thrifty', 'phaseTimeoutTicks', 'recoveryTicks', 'frontierTicks', 'clientRetryTicks',
] as const

export const DEFAULT_EPAXOS_OPTIONS: EpaxosOptions = {
  maxBatchCount: 64,
  maxInflight: 4,
  thrifty: true,
  phaseTimeoutTicks: 5,
  recoveryTicks: 10,
  frontierTicks: 20,
  clientRetryTicks: 15,
}

export function parseEpaxosOptions(raw: Readonly<Record<string, unknown>>, n: number): EpaxosOptions {
  rejectUnknownOptions(raw, EPAXOS_OPTION_NAMES, 'epaxos')
  if (!Number.isInteger(n) || n < 1) throw new ConfigError('n', `epaxos needs at least 1 replica, got ${n}`)
  const d = DEFAULT_EPAXOS_OPTIONS
  const options: EpaxosOptions = {
    maxBatchCount: intOption(raw, 'maxBatchCount', d.maxBatchCount, 1, 1_000_000),
    maxInflight: intOption(raw, 'maxInflight', d.maxInflight, 1, 100_000),
    thrifty: boolOption(raw, 'thrifty', d.thrifty),
    phaseTimeoutTicks: intOption(raw, 'phaseTimeoutTicks', d.phaseTimeoutTicks, 1, 1_000_000),
    recoveryTicks: intOption(raw, 'recoveryTicks', d.recoveryTicks, 1, 1_000_000),
    frontierTicks: intOption(raw, 'frontierTicks', d.frontierTicks, 1, 1_000_000),
    clientRetryTicks: intOption(raw, 'clientRetryTicks', d.clientRetryTicks, 1, 1_000_000),
  }
  if (options.recoveryTicks <= options.phaseTimeoutTicks) {
    throw new ConfigError('recoveryTicks', `must exceed phaseTimeoutTicks (${options.phaseTimeoutTicks}), got ` +
      `${options.recoveryTicks}: a command leader that merely re-sends must not be pre-empted by recovery`)
  }
  return options
}
