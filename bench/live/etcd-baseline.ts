/**
 * `bench live --baseline etcd`: a production system measured in the same run as the protocols, on the same machine,
 * disk and workload. Each protocol measurement is paired with an etcd measurement taken right before it, at the same
 * cluster size n and the same number of outstanding operations, with the same seed: on a shared machine whose load
 * moves from minute to minute, back-to-back measurements see the same machine, so their ratio means something even
 * when the absolute figures are noisy. One local etcd cluster per size (etcd-cluster.ts) is started when first needed
 * and kept (idle between its measurements, as the protocol's cluster is during etcd's) until the run ends; the load
 * is driven through one gRPC connection (etcd-load.ts).
 *
 * Without an etcd binary on the PATH the baseline is recorded as absent (with how to install it) and the rest runs;
 * an etcd that fails is recorded as failed, and the rest runs.
 */
import { createEtcdKvClient, measureEtcd, type EtcdKvClient, type EtcdMeasurement } from './etcd-load.ts'
import { ETCD_MISSING, etcdVersion, findEtcd, startEtcdCluster, type EtcdCluster } from './etcd-cluster.ts'
import type { LiveBenchConfig } from './config.ts'
import type { LatencySummary } from '../latency.ts'

/** What etcd's figures are, in words for the reports. */
export const ETCD_DURABILITY = 'etcd defaults: every write is in the WAL and fsynced (fdatasync) before it is acknowledged, no --unsafe-no-fsync'
export const ETCD_TARGET = 'one etcd3 (gRPC) client in the bench process, one HTTP/2 connection to the leader carrying all outstanding operations'
export const ETCD_PAIRING = 'each protocol measurement is paired with an etcd measurement taken right before it (same n, ' +
  'outstanding operations and seed); ratios are against the paired etcd measurements'

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

/** One protocol run beside the etcd measurements paired with its samples (medians of those). */
export interface EtcdComparison {
  readonly protocolRun: string
  readonly etcdRun: string
  /** etcd measurements paired with the protocol's samples (one before each). */
  readonly etcdSamples: number
  readonly etcdThroughput: number
  readonly etcdP50Ms: number | null
  readonly etcdP99Ms: number | null
  readonly etcdTimeouts: number
  /** Protocol ops/s over the paired etcd ops/s; null when etcd completed nothing. */
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
  readonly pairing: string
  /** Every etcd measurement at each n and client count, whichever protocol run it was paired with. */
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

/** As live-bench.ts's median (which imports this module, so it is not imported from there). */
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

/** Measurements the baseline will make (0 without etcd): one beside each protocol measurement. */
export function etcdMeasurementsPlanned(config: LiveBenchConfig, binary = findEtcd()): number {
  return config.baseline === 'etcd' && binary !== null
    ? config.protocols.length * config.fsync.length * config.forms.length * config.clients.length * config.repeat : 0
}

/** The first write through a fresh client: the leader is known and the connection is up (bounded attempts). */
async function firstWrite(client: EtcdKvClient, attempts = 5): Promise<number> {
  const t0 = performance.now()
  for (let attempt = 1; ; attempt++) {
    try {
      await client.run({ type: 'put', key: 'connect-etcd', value: 'x' }, { timeoutMs: 5000 })
      return performance.now() - t0
    } catch (e) {
      if (attempt >= attempts) throw new Error(`the etcd client could not complete a write after ${attempt} attempts: ${(e as Error).message}`)
    }
  }
}

export interface EtcdBaselineSession extends AsyncDisposable {
  /**
   * One etcd measurement at cluster size n with `clients` outstanding operations and repetition i's seed, to be paired
   * with the protocol measurement that follows. Starts the cluster of that size when first needed. Never throws for
   * etcd's sake: a failure marks the baseline failed and later calls do nothing.
   */
  measureBeside(n: number, clients: number, repetition: number): Promise<void>
  /** Pairs the etcd measurements taken since the last call with this protocol run. */
  pairWith(run: ComparableRun): void
  results(): EtcdBaselineResults
  /** Stops every etcd process (by PID) and removes the data; also what `await using` calls. */
  close(): Promise<void>
}

const pairedMedian = (samples: readonly EtcdMeasurement[], get: (s: EtcdMeasurement) => number) => r3(median(samples.map(get)))

export function openEtcdBaseline(config: LiveBenchConfig, hooks: EtcdBaselineHooks = {}, binary = findEtcd()): EtcdBaselineSession {
  const base = { name: 'etcd' as const, binary, durability: ETCD_DURABILITY, target: ETCD_TARGET, pairing: ETCD_PAIRING }
  const clusters = new Map<number, { cluster: EtcdCluster; client: EtcdKvClient | null; connectMs: number }>()
  /** All samples per `${n}/${clients}`, in the order taken. */
  const byCount = new Map<string, { n: number; clients: number; samples: EtcdMeasurement[] }>()
  const comparisons: EtcdComparison[] = []
  let pending: EtcdMeasurement[] = []
  let failure: string | null = binary === null ? ETCD_MISSING : null
  let version: string | null = null
  const idOf = (n: number, clients: number) => `etcd/n${n}/c${clients}`

  const clusterOf = async (n: number) => {
    const known = clusters.get(n)
    if (known !== undefined) return known
    hooks.onProgress?.(`etcd n=${n}: starting`)
    const cluster = await startEtcdCluster({ binary: binary!, n })
    const entry = { cluster, client: null as EtcdKvClient | null, connectMs: 0 }
    clusters.set(n, entry)
    version = cluster.version ?? etcdVersion(binary!)
    hooks.onProgress?.(`etcd n=${n}: healthy in ${Math.round(cluster.startMs)} ms ` +
      `(pids ${cluster.members.map(m => m.pid).join(', ')}; data in ${cluster.dir})`)
    entry.client = createEtcdKvClient(await cluster.leaderClientUrl(), config.timeoutMs)
    entry.connectMs = Math.round(await firstWrite(entry.client))
    return entry
  }

  const close = async () => {
    for (const { cluster, client } of clusters.values()) {
      client?.close()
      await cluster.close()
    }
    clusters.clear()
  }
  return {
    async measureBeside(n, clients, repetition) {
      if (binary === null) return
      // Planned measurements count as done after a failure too, so the progress reaches its total.
      if (failure !== null) { hooks.onMeasured?.(); return }
      try {
        const { cluster, client } = await clusterOf(n)
        hooks.onProgress?.(`etcd n=${n} clients=${clients}` + (config.repeat > 1 ? ` (${repetition + 1}/${config.repeat})` : ''))
        const m = await measureEtcd(cluster, client!, clients, {
          readRatio: 0, valueSize: config.valueSize, keys: config.keys, keyDistribution: 'uniform',
          warmupMs: config.warmupMs, durationMs: config.durationMs, maxOps: Number.MAX_SAFE_INTEGER,
          timelineBucketMs: 100, timeoutMs: config.timeoutMs, seed: config.seed + repetition,
        })
        const key = `${n}/${clients}`
        if (!byCount.has(key)) byCount.set(key, { n, clients, samples: [] })
        byCount.get(key)!.samples.push(m)
        pending.push(m)
      } catch (e) {
        // etcd failing (a port race lost twice, a broken install) is reported; the protocols' figures still come.
        failure = `etcd baseline failed: ${(e as Error).message}`
        hooks.onProgress?.(failure)
      } finally {
        hooks.onMeasured?.()
      }
    },
    pairWith(run) {
      const paired = pending
      pending = []
      if (paired.length === 0) return
      const etcdThroughput = pairedMedian(paired, s => s.throughput)
      const withLatency = paired.filter(s => s.latencyMs.count > 0)
      const etcdP50Ms = withLatency.length > 0 ? pairedMedian(withLatency, s => s.latencyMs.p50) : null
      comparisons.push({
        protocolRun: run.id, etcdRun: idOf(run.n, run.clients), etcdSamples: paired.length, etcdThroughput,
        etcdP50Ms, etcdP99Ms: withLatency.length > 0 ? pairedMedian(withLatency, s => s.latencyMs.p99) : null,
        etcdTimeouts: pairedMedian(paired, s => s.timeouts),
        throughputRatio: etcdThroughput > 0 ? r3(run.median.throughput / etcdThroughput) : null,
        p50Ratio: run.median.latencySamples > 0 && etcdP50Ms !== null && etcdP50Ms > 0 ? r3(run.median.latencyMs.p50 / etcdP50Ms) : null,
      })
    },
    results() {
      const runs: EtcdRun[] = [...byCount.values()].sort((a, b) => a.n - b.n || a.clients - b.clients).map(x => ({
        id: idOf(x.n, x.clients), n: x.n, clients: x.clients, connectMs: clusters.get(x.n)?.connectMs ?? 0,
        samples: x.samples, median: medians(x.samples),
      }))
      const status = binary === null ? 'absent' : failure !== null ? 'failed' : 'measured'
      return { ...base, status, message: failure, version, runs, comparisons }
    },
    close,
    [Symbol.asyncDispose]: close,
  }
}
