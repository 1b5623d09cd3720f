/**
 * quorum-kv's options, validated once by the descriptor (ConfigError names the bad field) and read by the replica.
 * Timeouts are in ticks: the host decides how long a tick is.
 */
import { ConfigError } from '../../core/errors.ts'
import { boolOption, enumOption, intOption, rejectUnknownOptions } from '../../core/options.ts'
import { majority } from '../../core/quorum.ts'

export type ReadRepairMode = 'blocking' | 'async'

// A type alias (not an interface) so it is assignable to the contract's Record<string, unknown>.
export type QuorumKvOptions = {
  /** R: replies a read waits for (the coordinator's own copy counts as one). */
  readonly readQuorum: number
  /** W: durable acknowledgements a write waits for (the coordinator's own counts as one). */
  readonly writeQuorum: number
  /**
   * Allow R + W <= N. Then a read quorum need not meet the last write quorum, so reads can miss acknowledged writes:
   * allowed only when asked for, with a warning at start and `weakQuorums` set so reports can say what breaks.
   */
  readonly allowWeakQuorums: boolean
  /** Whether these quorums are weak (R + W <= N); derived, not settable. */
  readonly weakQuorums: boolean
  /**
   * 'blocking' (Cassandra 4.0): a read is answered only once the value it returns is on a W-quorum, so a later quorum
   * read cannot return anything older (monotonic quorum reads). 'async' (Dynamo §4.5/§4.7): repairs are sent, not
   * awaited.
   */
  readonly readRepair: ReadRepairMode
  /** Every this many ticks a replica sends its per-bucket digest to the next peer (anti-entropy, Dynamo §4.7). */
  readonly antiEntropyTicks: number
  /** Key buckets of the digest (keys hash into them; a mismatched bucket is exchanged whole). */
  readonly antiEntropyBuckets: number
  /** A coordinator forgets an operation still short of its quorum after this many ticks (the client has retried). */
  readonly requestTimeoutTicks: number
  /** Write a snapshot of the store (compacting the log of writes) after this many logged writes. */
  readonly compactEvery: number
}

export const QUORUM_KV_OPTION_NAMES = [
  'readQuorum', 'writeQuorum', 'allowWeakQuorums', 'readRepair', 'antiEntropyTicks', 'antiEntropyBuckets',
  'requestTimeoutTicks', 'compactEvery',
] as const

export const DEFAULT_QUORUM_KV_OPTIONS = {
  allowWeakQuorums: false,
  readRepair: 'blocking' as ReadRepairMode,
  antiEntropyTicks: 10,
  antiEntropyBuckets: 16,
  requestTimeoutTicks: 100,
  compactEvery: 256,
}

export function parseQuorumKvOptions(raw: Readonly<Record<string, unknown>>, n: number): QuorumKvOptions {
  rejectUnknownOptions(raw, QUORUM_KV_OPTION_NAMES, 'quorum-kv')
  if (!Number.isInteger(n) || n < 1) throw new ConfigError('n', `quorum-kv needs at least 1 replica, got ${n}`)
  const d = DEFAULT_QUORUM_KV_OPTIONS
  const readQuorum = intOption(raw, 'readQuorum', majority(n), 1, n)
  const writeQuorum = intOption(raw, 'writeQuorum', majority(n), 1, n)
  const allowWeakQuorums = boolOption(raw, 'allowWeakQuorums', d.allowWeakQuorums)
  const weakQuorums = readQuorum + writeQuorum <= n
  if (weakQuorums && !allowWeakQuorums) {
    throw new ConfigError(raw['readQuorum'] !== undefined ? 'readQuorum' : 'writeQuorum',
      `R + W must exceed N so every read quorum meets every write quorum (R = ${readQuorum}, W = ${writeQuorum}, ` +
      `N = ${n}); set allowWeakQuorums: true to run weak quorums anyway (reads may then miss acknowledged writes)`)
  }
  return {
    readQuorum,
    writeQuorum,
    allowWeakQuorums,
    weakQuorums,
    readRepair: enumOption(raw, 'readRepair', d.readRepair, ['blocking', 'async']),
    antiEntropyTicks: intOption(raw, 'antiEntropyTicks', d.antiEntropyTicks, 1, 1_000_000),
    antiEntropyBuckets: intOption(raw, 'antiEntropyBuckets', d.antiEntropyBuckets, 1, 65_536),
    requestTimeoutTicks: intOption(raw, 'requestTimeoutTicks', d.requestTimeoutTicks, 1, 1_000_000),
    compactEvery: intOption(raw, 'compactEvery', d.compactEvery, 1, 1_000_000_000),
  }
}

/** The warning a replica logs at start when its quorums are weak. */
export function weakQuorumWarning(o: QuorumKvOptions, n: number): string | null {
  if (!o.weakQuorums) return null
  return `quorum-kv runs weak quorums: R = ${o.readQuorum} + W = ${o.writeQuorum} <= N = ${n}, so a read may miss an ` +
    'acknowledged write (histories are expected not to be linearizable)'
}
