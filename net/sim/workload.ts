/**
 * A closed-loop key-value workload for the simulator: every client keeps one operation outstanding, draws it from the
 * seeded mix in core/kv-workload.ts, and every operation is recorded in a Jepsen-style history for the checker.
 */
import type { ClientOutcome, CommandClient } from '../../core/client-host.ts'
import { ConfigError } from '../../core/errors.ts'
import { HistoryRecorder, type HistoryEvent } from '../../core/history.ts'
import { encodeKvCommand } from '../../core/kv.ts'
import { createKvOpGenerator, recordInvoke, recordOutcome, type KvMix } from '../../core/kv-workload.ts'
import type { Rng } from '../../core/random.ts'
import type { Simulator } from './simulator.ts'

export { zipfSampler } from '../../core/kv-workload.ts'

export interface WorkloadOptions extends KvMix {
  /** Operations to issue in total, across clients. */
  readonly ops: number
  /** A request with no answer after this long is recorded as `info` (outcome unknown). */
  readonly timeoutMs?: number
  /** Pause between one operation's completion and the client's next (spreads a workload over a fault window). */
  readonly thinkMs?: number
  /** Virtual-time bound for the whole run. */
  readonly maxDurationMs?: number
  readonly rng: Rng
  /** Record into this history (a later workload continues an earlier one's); default a new one. */
  readonly recorder?: HistoryRecorder
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

/** Clients on a simulator: a SimCluster, or a multi-group one (group-cluster.ts). */
export interface SimulatedClients {
  readonly sim: Simulator
  readonly clients: readonly CommandClient[]
}

/** Run the workload on the cluster's clients until every operation completes or the time bound passes. */
export function runWorkload(cluster: SimulatedClients, o: WorkloadOptions): WorkloadResult {
  if (!Number.isInteger(o.ops) || o.ops < 0) throw new ConfigError('ops', `must be a non-negative integer, got ${o.ops}`)
  if (o.thinkMs !== undefined && !(o.thinkMs >= 0)) throw new ConfigError('thinkMs', `must be >= 0, got ${o.thinkMs}`)
  if (cluster.clients.length === 0) throw new ConfigError('clients', 'the workload needs at least one client')
  const next = createKvOpGenerator(o, cluster.clients.map(c => c.id), o.rng)
  const timeoutMs = o.timeoutMs ?? 5000
  const thinkMs = o.thinkMs ?? 0
  const sim = cluster.sim
  const recorder = o.recorder ?? new HistoryRecorder()
  const latencies: number[] = []
  const counts = { ok: 0, fail: 0, info: 0 }
  const startMs = sim.now()
  let issued = 0
  let completed = 0

  const issue = (client: CommandClient): void => {
    if (issued >= o.ops) return
    issued++
    const command = next(client.id)
    const invokedAt = sim.now()
    const op = recordInvoke(recorder, client.id, command, invokedAt)
    client.submit(encodeKvCommand(command), command.type === 'get', timeoutMs, (outcome: ClientOutcome) => {
      completed++
      const kind = recordOutcome(op, outcome, sim.now())
      counts[kind]++
      if (kind !== 'info') latencies.push(sim.now() - invokedAt)
      // Start the next operation from a fresh event, not from inside the completion callback.
      sim.setTimer(thinkMs, () => issue(client))
    })
  }

  for (const client of cluster.clients) issue(client)
  const finished = sim.runUntil(() => completed >= o.ops, o.maxDurationMs ?? 600_000)
  return { history: recorder.events, ...counts, finished, startMs, endMs: sim.now(), latencies }
}
