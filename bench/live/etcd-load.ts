/**
 * The `bench live` workload driven through etcd's gRPC KV API, for the etcd baseline: one client (the `etcd3` npm
 * client on @grpc/grpc-js) with one HTTP/2 connection to the leader, carrying all C outstanding operations at once,
 * as etcd's own `benchmark put --conns 1 --clients C` does. The closed loop, keys, values and seed are the protocols'
 * (live-load.ts), so both sides see the same sequence of writes.
 *
 * Figures are taken over the measured window only: throughput and latency as for the protocols, and each member's
 * CPU time and peak resident memory from /proc (etcd-cluster.ts), beside the client process's own CPU time.
 */
import { noop } from 'cockatiel'
import { Etcd3, EtcdError, GRPCDeadlineExceededError, GRPCResourceExhastedError, GRPCUnavailableError } from 'etcd3'
import { RequestTimeoutError } from '../../core/client-host.ts'
import type { KvCommand } from '../../core/kv.ts'
import { createRng } from '../../core/random.ts'
import { windowFigures } from '../figures.ts'
import type { LatencySummary } from '../latency.ts'
import { runLiveLoad } from './live-load.ts'
import type { EtcdCluster, EtcdProcessStats } from './etcd-cluster.ts'
import type { LiveWorkload } from './measure.ts'

export interface EtcdKvClient {
  readonly url: string
  /** One command, retried on etcd's transient refusals until the deadline; RequestTimeoutError past it. */
  run(command: KvCommand, options?: { timeoutMs?: number }): Promise<void>
  close(): void
}

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

/**
 * Refusals a client waits out rather than fails on, as the protocols' clients do within their deadline: no leader or
 * connection (Unavailable), "too many requests" when apply lags commit, and etcd's own "request timed out" or
 * "leader changed" answers.
 */
function transient(e: unknown): boolean {
  return e instanceof GRPCUnavailableError || e instanceof GRPCResourceExhastedError || e instanceof EtcdError
}

export function createEtcdKvClient(url: string, defaultTimeoutMs = 5000): EtcdKvClient {
  // No retry policy and no circuit breaker (etcd3's defaults retry three times and stop sending to a host for 5 s
  // after three failures): under overload every request is retried here until its own deadline, then a timeout.
  const etcd = new Etcd3({ hosts: url, faultHandling: { global: noop, host: () => noop } })
  return {
    url,
    async run(command, options = {}) {
      const deadline = Date.now() + (options.timeoutMs ?? defaultTimeoutMs)
      for (;;) {
        try {
          const call = { deadline }
          if (command.type === 'put') await etcd.put(command.key).value(command.value).options(call).exec()
          else if (command.type === 'get') await etcd.get(command.key).options(call).string()
          else throw new Error(`the etcd baseline drives puts and gets only, not ${command.type}`)
          return
        } catch (e) {
          if (e instanceof GRPCDeadlineExceededError || (transient(e) && Date.now() + 10 >= deadline)) {
            throw new RequestTimeoutError(`etcd ${command.type} ${command.key}: no answer within the deadline`)
          }
          if (!transient(e)) throw e
          await sleep(10)
        }
      }
    },
    close: () => etcd.close(),
  }
}

/** One member over the measured window. */
export interface EtcdMemberFigures {
  readonly pid: number
  readonly cpuMs: number
  readonly peakRssBytes: number
}

export interface EtcdMeasurement {
  readonly ops: number
  readonly timeouts: number
  readonly windowMs: number
  readonly throughput: number
  readonly latencyMs: LatencySummary
  readonly maxGapMs: number
  readonly members: readonly EtcdMemberFigures[]
  /** CPU time of all members per completed operation. */
  readonly serverCpuUsPerOp: number
  /** CPU time of this (client) process per completed operation. */
  readonly clientCpuUsPerOp: number
}

/** `clients` closed-loop callers sharing the one etcd client (C operations outstanding on one connection). */
export async function measureEtcd(cluster: EtcdCluster, client: EtcdKvClient, clients: number, w: LiveWorkload): Promise<EtcdMeasurement> {
  if (!Number.isInteger(clients) || clients < 1) throw new RangeError(`clients must be a positive integer, got ${clients}`)
  let before: EtcdProcessStats[] = []
  let after: EtcdProcessStats[] = []
  let clientBefore = process.cpuUsage()
  let clientCpuUs = 0
  const load = await runLiveLoad(Array.from({ length: clients }, () => client), {
    // The protocols' fork label: the same seed gives the same keys in the same order.
    ...w, rng: createRng(w.seed).fork('bench-live-load'),
    onWindowStart: () => { before = cluster.processStats(); clientBefore = process.cpuUsage() },
    onWindowEnd: () => {
      after = cluster.processStats()
      const c = process.cpuUsage(clientBefore)
      clientCpuUs = c.user + c.system
    },
  })
  const f = windowFigures(load, new Map(), new Map(), {})
  const members = after.map((a, i) => ({ pid: a.pid, cpuMs: a.cpuMs - (before[i]?.cpuMs ?? 0), peakRssBytes: a.peakRssBytes }))
  const serverCpuMs = members.reduce((s, m) => s + m.cpuMs, 0)
  const perOp = (us: number) => f.ops > 0 ? Math.round(us / f.ops) : 0
  return {
    ops: f.ops, timeouts: f.timeouts, windowMs: f.windowMs, throughput: f.throughput, latencyMs: f.latencyMs,
    maxGapMs: f.maxGapMs, members, serverCpuUsPerOp: perOp(serverCpuMs * 1000), clientCpuUsPerOp: perOp(clientCpuUs),
  }
}
