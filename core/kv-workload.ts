/**
 * The key-value operation mix shared by the simulator's workload and live chaos runs, and how each operation and its
 * outcome is written into a Jepsen-style history.
 */
import type { ClientOutcome } from './client-host.ts'
import { ConfigError } from './errors.ts'
import type { HistoryRecorder, PendingOperation } from './history.ts'
import { decodeKvResult, type KvCommand } from './kv.ts'
import type { Rng } from './random.ts'
import type { NodeId } from './types.ts'

export interface KvMix {
  readonly keys?: number
  /** Fractions of reads, compare-and-sets and deletes; the rest are writes. */
  readonly readRatio?: number
  readonly casRatio?: number
  readonly deleteRatio?: number
  readonly keyDistribution?: 'uniform' | 'zipfian'
  /** Extra bytes of padding in written values. */
  readonly valueSize?: number
  /** Prepended to every key, so a run can use keys no earlier run touched (the checker assumes they start absent). */
  readonly keyPrefix?: string
  /** Prepended to every written value, so a second workload on the same keys writes values the first never did. */
  readonly valuePrefix?: string
  /**
   * 'any' (default): every client writes every key. 'single': key i is written (put, cas, delete) only by client
   * i mod clients, and read by all, so no two writes of a key are concurrent: without faults even a store with no
   * consensus (quorum-kv with R + W > N) gives linearizable histories, which shows what concurrent writers break.
   */
  readonly writersPerKey?: 'any' | 'single'
}

export function validateKvMix(o: KvMix): void {
  const ratio = (name: string, v: number | undefined) => {
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new ConfigError(name, `must be between 0 and 1, got ${v}`)
  }
  if (o.keys !== undefined && (!Number.isInteger(o.keys) || o.keys < 1)) throw new ConfigError('keys', `must be an integer >= 1, got ${o.keys}`)
  ratio('readRatio', o.readRatio)
  ratio('casRatio', o.casRatio)
  ratio('deleteRatio', o.deleteRatio)
  if ((o.readRatio ?? 0.5) + (o.casRatio ?? 0.15) + (o.deleteRatio ?? 0.05) > 1) {
    throw new ConfigError('readRatio', 'read, cas and delete ratios add up to more than 1')
  }
  if (o.valueSize !== undefined && (!Number.isInteger(o.valueSize) || o.valueSize < 0)) throw new ConfigError('valueSize', `must be an integer >= 0, got ${o.valueSize}`)
  if (o.writersPerKey !== undefined && o.writersPerKey !== 'any' && o.writersPerKey !== 'single') {
    throw new ConfigError('writersPerKey', `expected any or single, got ${JSON.stringify(o.writersPerKey)}`)
  }
}

/**
 * How a benchmark picks the key of each command: 'uniform' or 'zipfian' over `keys` shared keys, or 'hot:<p>', the
 * conflict workload of the EPaxos evaluation (Moraru et al., SOSP 2013, §7): with probability p a command touches the
 * one hot key every client shares, otherwise a key of its own client, so only the hot share of commands interferes.
 */
export type KeyDistribution = 'uniform' | 'zipfian' | `hot:${number}`

/** The share of commands on the hot key of a 'hot:<p>' distribution, else null. */
export function hotShare(distribution: string): number | null {
  const m = /^hot:(\d*\.?\d+)$/.exec(distribution)
  if (m === null) return null
  const p = Number(m[1])
  return p >= 0 && p <= 1 ? p : null
}

/** Whether a distribution name is known (a hot share must lie in [0, 1]). */
export function isKeyDistribution(v: unknown): v is KeyDistribution {
  return v === 'uniform' || v === 'zipfian' || (typeof v === 'string' && hotShare(v) !== null)
}

export const HOT_KEY = 'hot'

/** The key chooser of a distribution: called with the run's seeded stream and the client issuing the command. */
export function keyChooser(distribution: KeyDistribution, keys: number): (rng: Rng, client: NodeId) => string {
  const hot = hotShare(distribution)
  if (hot !== null) return (rng, client) => rng.chance(hot) ? HOT_KEY : `c${client}-k${rng.int(keys)}`
  if (distribution === 'zipfian') {
    const zipf = zipfSampler(keys)
    return rng => `k${zipf(rng)}`
  }
  return rng => `k${rng.int(keys)}`
}

/** Zipf(s) over n items, by inverse CDF. */
export function zipfSampler(n: number, s = 0.99): (rng: Rng) => number {
  const cdf: number[] = []
  let total = 0
  for (let i = 1; i <= n; i++) { total += 1 / Math.pow(i, s); cdf.push(total) }
  return rng => {
    const u = rng.next() * total
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid]! < u) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/** Keys a workload draws from unless told otherwise: few, so operations contend. */
export const DEFAULT_WORKLOAD_KEYS = 8

/** Every key createKvOpGenerator may draw for `mix` (a sharded store pre-splits its ranges over them). */
export function kvKeySpace(mix: Pick<KvMix, 'keys' | 'keyPrefix'>): string[] {
  return Array.from({ length: mix.keys ?? DEFAULT_WORKLOAD_KEYS }, (_, i) => `${mix.keyPrefix ?? ''}k${i}`)
}

/**
 * Draws commands over a small key space so operations contend. Written values are unique (`<client>-<n>`), which is
 * what lets the checker tell writes apart; compare-and-sets expect a value some client may have written, so some succeed.
 */
export function createKvOpGenerator(mix: KvMix, clientIds: readonly NodeId[], rng: Rng): (client: NodeId) => KvCommand {
  validateKvMix(mix)
  const keys = mix.keys ?? DEFAULT_WORKLOAD_KEYS
  const readRatio = mix.readRatio ?? 0.5
  const casRatio = mix.casRatio ?? 0.15
  const deleteRatio = mix.deleteRatio ?? 0.05
  const pad = 'x'.repeat(mix.valueSize ?? 0)
  const pickKey = mix.keyDistribution === 'zipfian' ? zipfSampler(keys) : (r: Rng) => r.int(keys)
  const written = new Map<NodeId, number>()
  const prefix = mix.keyPrefix ?? ''
  const valuePrefix = mix.valuePrefix ?? ''
  const singleWriter = mix.writersPerKey === 'single'
  /** With a single writer per key: the key indexes each client writes. */
  const owned = (client: NodeId): number[] => {
    const at = clientIds.indexOf(client)
    const out: number[] = []
    for (let k = at; at >= 0 && k < keys; k += clientIds.length) out.push(k)
    return out
  }
  return client => {
    let key = `${prefix}k${pickKey(rng)}`
    const roll = rng.next()
    const n = (written.get(client) ?? 0) + 1
    written.set(client, n)
    const value = `${valuePrefix}${client}-${n}${pad}`
    if (roll < readRatio) return { type: 'get', key }
    if (singleWriter) {
      const mine = owned(client)
      if (mine.length === 0) return { type: 'get', key } // more clients than keys: this one only reads
      key = `${prefix}k${mine[rng.int(mine.length)]!}`
    }
    if (roll < readRatio + casRatio) {
      const other = singleWriter ? client : clientIds[rng.int(clientIds.length)]!
      const expected = rng.chance(0.2) ? null : `${valuePrefix}${other}-${Math.max(1, n - 1 - rng.int(3))}${pad}`
      return { type: 'cas', key, expected, value }
    }
    if (roll < readRatio + casRatio + deleteRatio) return { type: 'delete', key }
    return { type: 'put', key, value }
  }
}

export function recordInvoke(recorder: HistoryRecorder, process: NodeId, c: KvCommand, time: number): PendingOperation {
  switch (c.type) {
    case 'get': return recorder.invoke(process, 'read', c.key, null, time)
    case 'put': return recorder.invoke(process, 'write', c.key, c.value, time)
    case 'delete': return recorder.invoke(process, 'delete', c.key, null, time)
    case 'cas': return recorder.invoke(process, 'cas', c.key, [c.expected, c.value], time)
  }
}

export type RecordedOutcome = 'ok' | 'fail' | 'info'

/**
 * Complete a history operation from a client outcome: a timeout is `info` (it may still apply), a compare-and-set
 * whose compare failed is `fail` (it did not apply), an error result is `info` (e.g. a stale retry).
 */
export function recordOutcome(op: PendingOperation, outcome: ClientOutcome, time: number): RecordedOutcome {
  if (outcome.status === 'timeout') { op.info(time); return 'info' }
  const result = decodeKvResult(outcome.result)
  if (result.type === 'value') { op.ok(time, result.value); return 'ok' }
  if (result.type === 'cas' && !result.ok) { op.fail(time); return 'fail' }
  if (result.type === 'error') { op.info(time); return 'info' }
  op.ok(time)
  return 'ok'
}
