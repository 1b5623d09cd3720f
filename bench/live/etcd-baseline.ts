/**
 * `bench live --baseline etcd`: a production system measured in the same run as the protocols, on the same machine,
 * disk and workload. For every cluster size among the protocols measured, one local etcd cluster of that size
 * (etcd-cluster.ts) is driven with each client count in turn, `repeat` times (etcd-load.ts); every protocol
 * measurement is then set beside the etcd measurement of the same n and client count, with the ratios.
 *
 * Without an etcd binary on the PATH the baseline is recorded as absent (with how to install it) and the rest runs.
 */
import { createEtcdKvClient, measureEtcd, type EtcdKvClient, type EtcdMeasurement } from './etcd-load.ts'
import { ETCD_MISSING, etcdVersion, findEtcd, startEtcdCluster } from './etcd-cluster.ts'
import type { LiveBenchConfig } from './config.ts'
import type { LatencySummary } from '../latency.ts'

/** What etcd's figures are, in words for the reports. */
export const ETCD_DURABILITY = 'etcd defaults: every write is in the WAL and fsynced (fdatasync) before it is acknowledged, no --unsafe-no-fsync'
export const ETCD_TARGET = 'one etcd3 (gRPC) client in the bench process, one HTTP/2 connection to the leader carrying all outstanding operations'

/** Medians over the repetitions (each figure its own median); members' peak RSS is the largest seen. */
export interface EtcdMedians {
  readonly throughput: number
  readonly latencyMs: Omit<LatencySummary, 'count'>
  readonly latencySamples: number
  readonly timeouts: number
  readonly ops: number
  readonly serverCpuUsPerOp: number
  readonly clientCpuUsPerOp: number
  /** Per member (in member order): CPU ms over the measured window, peak resident bytes. */
  readonly members: readonly { readonly cpuMs: number; readonly peakRssBytes: number }[]
}

export interface EtcdRun {
  /** etcd/n<n>/c<clients> */
  readonly id: string
  readonly n: number
  readonly clients: number
  /** Wall-clock ms until the first write from the client completed (excluded). */
  readonly connectMs: number
  readonly samples: readonly EtcdMeasurement[]
  readonly median: EtcdMedians
}

/** One protocol measurement beside etcd's at the same n and client count. */
export interface EtcdComparison {
  readonly protocolRun: string
  readonly etcdRun: string
  /** Protocol ops/s over etcd's; null when etcd completed nothing. */
  readonly throughputRatio: number | null
  /** Protocol p50 over etcd's; null when either has no latency samples. */
  readonly p50Ratio: number | null
}

export interface EtcdBaselineResults {
  readonly name: 'etcd'
  /** absent: no etcd binary on the PATH; failed: etcd did not start or serve (message says why; runs so far kept). */
  readonly status: 'measured' | 'absent' | 'failed'
  /** Why it is absent (and how to install it) or failed. */
  readonly message: string | null
  readonly binary: string | null
  readonly version: string | null
  readonly durability: string
  readonly target: string
  readonly runs: readonly EtcdRun[]
  readonly comparisons: readonly EtcdComparison[]
}

export interface EtcdBaselineHooks {
  readonly onProgress?: (label: string) => void
  /** After each measurement. */
  readonly onMeasured?: () => void
}

/** The protocol measurement fields a comparison needs (LiveRun has them). */
export interface ComparableRun {
  readonly id: string
  readonly n: number
  readonly clients: number
  readonly median: { readonly throughput: number; readonly latencySamples: number; readonly latencyMs: { readonly p50: number } }
}

const r3 = (x: number) => Math.round(x * 1000) / 1000

function median(values: readonly number[]): number {
  if (values.length === 0) return 0
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

function medians(samples: readonly EtcdMeasurement[]): EtcdMedians {
  const m = (get: (s: EtcdMeasurement) => number) => r3(median(samples.map(get)))
  const members = samples[0]?.members.map((_, i) => ({
    cpuMs: m(s => s.members[i]?.cpuMs ?? 0), peakRssBytes: Math.max(...samples.map(s => s.members[i]?.peakRssBytes ?? 0)),
  })) ?? []
  return {
    throughput: m(s => s.throughput),
    latencyMs: {
      meanMs: m(s => s.latencyMs.meanMs), p50: m(s => s.latencyMs.p50), p90: m(s => s.latencyMs.p90),
      p99: m(s => s.latencyMs.p99), p999: m(s => s.latencyMs.p999), max: m(s => s.latencyMs.max),
    },
    latencySamples: m(s => s.latencyMs.count),
    timeouts: m(s => s.timeouts), ops: m(s => s.ops),
    serverCpuUsPerOp: m(s => s.serverCpuUsPerOp), clientCpuUsPerOp: m(s => s.clientCpuUsPerOp),
    members,
  }
}

/** Measurements the baseline will make (0 without etcd): one per size, client count and repetition. */
export function etcdMeasurementsPlanned(config: LiveBenchConfig, sizes: readonly number[], binary = findEtcd()): number {
  return config.baseline === 'etcd' && binary !== null ? sizes.length * config.clients.length * config.repeat : 0
}

/** The first write through a fresh client: the leader is known and the connection is up (bounded attempts). */
async function firstWrite(run: (timeoutMs: number) => Promise<void>, attempts = 5): Promise<number> {
  const t0 = performance.now()
  for (let attempt = 1; ; attempt++) {
    try {
      await run(5000)
      return performance.now() - t0
    } catch (e) {
      if (attempt >= attempts) throw new Error(`the etcd client could not complete a write after ${attempt} attempts: ${(e as Error).message}`)
    }
  }
}

export async function runEtcdBaseline(config: LiveBenchConfig, sizes: readonly number[], hooks: EtcdBaselineHooks = {},
  binary = findEtcd()): Promise<EtcdBaselineResults> {
  const base = { name: 'etcd' as const, binary, durability: ETCD_DURABILITY, target: ETCD_TARGET, comparisons: [] }
  if (binary === null) return { ...base, status: 'absent', message: ETCD_MISSING, version: null, runs: [] }
  const clientCounts = [...config.clients].sort((a, b) => a - b)
  const runs: EtcdRun[] = []
  let version: string | null = null
  try {
    for (const n of [...sizes].sort((a, b) => a - b)) {
      hooks.onProgress?.(`etcd n=${n}: starting`)
      const cluster = await startEtcdCluster({ binary, n })
      let client: EtcdKvClient | null = null
      try {
        version = cluster.version ?? etcdVersion(binary)
        hooks.onProgress?.(`etcd n=${n}: healthy in ${Math.round(cluster.startMs)} ms ` +
          `(pids ${cluster.members.map(m => m.pid).join(', ')}; data in ${cluster.dir})`)
        const c = client = createEtcdKvClient(await cluster.leaderClientUrl(), config.timeoutMs)
        const connectMs = await firstWrite(timeoutMs => c.run({ type: 'put', key: 'connect-etcd', value: 'x' }, { timeoutMs }))
        for (const clients of clientCounts) {
          const samples: EtcdMeasurement[] = []
          for (let i = 0; i < config.repeat; i++) {
            hooks.onProgress?.(`etcd n=${n} clients=${clients}` + (config.repeat > 1 ? ` (${i + 1}/${config.repeat})` : ''))
            samples.push(await measureEtcd(cluster, c, clients, {
              readRatio: 0, valueSize: config.valueSize, keys: config.keys, keyDistribution: 'uniform',
              warmupMs: config.warmupMs, durationMs: config.durationMs, maxOps: Number.MAX_SAFE_INTEGER,
              timelineBucketMs: 100, timeoutMs: config.timeoutMs, seed: config.seed + i,
            }))
            hooks.onMeasured?.()
          }
          runs.push({ id: `etcd/n${n}/c${clients}`, n, clients, connectMs: Math.round(connectMs), samples, median: medians(samples) })
        }
      } finally {
        client?.close()
        await cluster.close()
      }
    }
  } catch (e) {
    // etcd failing (a port race lost twice, a broken install) is reported; the protocols' figures still come.
    return { ...base, status: 'failed', message: `etcd baseline failed: ${(e as Error).message}`, version, runs }
  }
  return { ...base, status: 'measured', message: null, version, runs }
}

/** Every protocol measurement that has an etcd measurement of the same n and client count, with the ratios. */
export function compareWithEtcd(baseline: EtcdBaselineResults, runs: readonly ComparableRun[]): EtcdBaselineResults {
  const comparisons: EtcdComparison[] = []
  for (const r of runs) {
    const e = baseline.runs.find(x => x.n === r.n && x.clients === r.clients)
    if (e === undefined) continue
    comparisons.push({
      protocolRun: r.id, etcdRun: e.id,
      throughputRatio: e.median.throughput > 0 ? r3(r.median.throughput / e.median.throughput) : null,
      p50Ratio: r.median.latencySamples > 0 && e.median.latencySamples > 0 && e.median.latencyMs.p50 > 0
        ? r3(r.median.latencyMs.p50 / e.median.latencyMs.p50) : null,
    })
  }
  return { ...baseline, comparisons }
}
