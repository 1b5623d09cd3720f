/**
 * A closed-loop key-value workload for the simulator: every client keeps one operation outstanding, draws it from a
 * seeded mix of reads, writes, compare-and-sets and deletes over a small key space (so operations contend), and every
 * operation is recorded in a Jepsen-style history for the linearizability checker.
 */
import type { ClientHost, ClientOutcome } from '../../core/client-host.ts'
import { ConfigError } from '../../core/errors.ts'
import { HistoryRecorder, type HistoryEvent, type PendingOperation } from '../../core/history.ts'
import { decodeKvResult, encodeKvCommand, type KvCommand } from '../../core/kv.ts'
import type { Rng } from '../../core/random.ts'
import type { SimCluster } from './cluster.ts'

export interface WorkloadOptions {
  /** Operations to issue in total, across clients. */
  readonly ops: number
  readonly keys?: number
  /** Fractions of reads, compare-and-sets and deletes; the rest are writes. */
  readonly readRatio?: number
  readonly casRatio?: number
  readonly deleteRatio?: number
  readonly keyDistribution?: 'uniform' | 'zipfian'
  /** Extra bytes of padding in written values. */
  readonly valueSize?: number
  /** A request with no answer after this long is recorded as `info` (outcome unknown). */
  readonly timeoutMs?: number
  /** Pause between one operation's completion and the client's next (spreads a workload over a fault window). */
  readonly thinkMs?: number
  /** Virtual-time bound for the whole run. */
  readonly maxDurationMs?: number
  readonly rng: Rng
}

export interface WorkloadResult {
  readonly history: readonly HistoryEvent[]
  readonly ok: number
  readonly fail: number
  readonly info: number
  /** All operations completed (false if the time bound was hit first). */
  readonly finished: boolean
  readonly startMs: number
  readonly endMs: number
  /** Latency of each ok operation, in virtual ms, in completion order. */
  readonly latencies: number[]
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

export function validateWorkload(o: WorkloadOptions): void {
  const ratio = (name: string, v: number | undefined) => {
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new ConfigError(name, `must be between 0 and 1, got ${v}`)
  }
  if (!Number.isInteger(o.ops) || o.ops < 0) throw new ConfigError('ops', `must be a non-negative integer, got ${o.ops}`)
  if (o.keys !== undefined && (!Number.isInteger(o.keys) || o.keys < 1)) throw new ConfigError('keys', `must be an integer >= 1, got ${o.keys}`)
  ratio('readRatio', o.readRatio)
  ratio('casRatio', o.casRatio)
  ratio('deleteRatio', o.deleteRatio)
  if (o.thinkMs !== undefined && !(o.thinkMs >= 0)) throw new ConfigError('thinkMs', `must be >= 0, got ${o.thinkMs}`)
  if ((o.readRatio ?? 0.5) + (o.casRatio ?? 0.15) + (o.deleteRatio ?? 0.05) > 1) {
    throw new ConfigError('readRatio', 'read, cas and delete ratios add up to more than 1')
  }
}

/** Run the workload on the cluster's clients until every operation completes or the time bound passes. */
export function runWorkload(cluster: SimCluster, o: WorkloadOptions): WorkloadResult {
  validateWorkload(o)
  if (cluster.clients.length === 0) throw new ConfigError('clients', 'the workload needs at least one client')
  const keys = o.keys ?? 8
  const readRatio = o.readRatio ?? 0.5
  const casRatio = o.casRatio ?? 0.15
  const deleteRatio = o.deleteRatio ?? 0.05
  const timeoutMs = o.timeoutMs ?? 5000
  const pad = 'x'.repeat(o.valueSize ?? 0)
  const thinkMs = o.thinkMs ?? 0
  const pickKey = o.keyDistribution === 'zipfian' ? zipfSampler(keys) : (rng: Rng) => rng.int(keys)
  const rng = o.rng
  const sim = cluster.sim
  const recorder = new HistoryRecorder()
  const latencies: number[] = []
  const startMs = sim.now()
  let issued = 0
  let completed = 0
  let ok = 0
  let fail = 0
  let info = 0
  const lastWritten = new Map<number, number>()

  const nextCommand = (client: ClientHost): KvCommand => {
    const key = `k${pickKey(rng)}`
    const roll = rng.next()
    const n = (lastWritten.get(client.id) ?? 0) + 1
    lastWritten.set(client.id, n)
    const value = `${client.id}-${n}${pad}`
    if (roll < readRatio) return { type: 'get', key }
    if (roll < readRatio + casRatio) {
      // Expect a value some client may have written (or absence), so some swaps succeed.
      const expected = rng.chance(0.2) ? null : `${1000 + rng.int(cluster.clients.length)}-${Math.max(1, n - 1 - rng.int(3))}${pad}`
      return { type: 'cas', key, expected, value }
    }
    if (roll < readRatio + casRatio + deleteRatio) return { type: 'delete', key }
    return { type: 'put', key, value }
  }

  const issue = (client: ClientHost): void => {
    if (issued >= o.ops) return
    issued++
    const command = nextCommand(client)
    const op = record(recorder, client.id, command, sim.now())
    const invokedAt = sim.now()
    client.submit(encodeKvCommand(command), command.type === 'get', timeoutMs, (outcome: ClientOutcome) => {
      completed++
      const now = sim.now()
      if (outcome.status === 'timeout') {
        op.info(now)
        info++
      } else {
        const result = decodeKvResult(outcome.result)
        if (result.type === 'value') { op.ok(now, result.value); ok++ }
        else if (result.type === 'cas' && !result.ok) { op.fail(now); fail++ }
        else if (result.type === 'error') { op.info(now); info++ } // e.g. a stale retry: outcome not known to this client
        else { op.ok(now); ok++ }
        if (result.type !== 'error') latencies.push(now - invokedAt)
      }
      // Start the next operation from a fresh event, not from inside the completion callback.
      sim.setTimer(thinkMs, () => issue(client))
    })
  }

  for (const client of cluster.clients) issue(client)
  const finished = sim.runUntil(() => completed >= o.ops, o.maxDurationMs ?? 600_000)
  return { history: recorder.events, ok, fail, info, finished, startMs, endMs: sim.now(), latencies }
}

function record(recorder: HistoryRecorder, process: number, c: KvCommand, time: number): PendingOperation {
  switch (c.type) {
    case 'get': return recorder.invoke(process, 'read', c.key, null, time)
    case 'put': return recorder.invoke(process, 'write', c.key, c.value, time)
    case 'delete': return recorder.invoke(process, 'delete', c.key, null, time)
    case 'cas': return recorder.invoke(process, 'cas', c.key, [c.expected, c.value], time)
  }
}
