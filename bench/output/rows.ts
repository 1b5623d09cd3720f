/**
 * One flat row per run: the shape shared by the CSV file, the terminal table and `bench compare`.
 */
import type { RunResult } from '../figures.ts'

export interface Figure {
  readonly name: string
  /** 'higher' when a larger value is better (throughput), 'lower' otherwise. */
  readonly better: 'higher' | 'lower'
  /** Simulated (deterministic) or measured on this host (noisy). */
  readonly kind: 'sim' | 'host'
  readonly get: (r: RunResult) => number | null
}

/** Every figure a run reports, in a stable order. */
export const FIGURES: readonly Figure[] = [
  { name: 'throughput_ops_s', better: 'higher', kind: 'sim', get: r => r.figures.throughput },
  { name: 'latency_p50_ms', better: 'lower', kind: 'sim', get: r => r.figures.latencyMs.p50 },
  { name: 'latency_p90_ms', better: 'lower', kind: 'sim', get: r => r.figures.latencyMs.p90 },
  { name: 'latency_p99_ms', better: 'lower', kind: 'sim', get: r => r.figures.latencyMs.p99 },
  { name: 'latency_p999_ms', better: 'lower', kind: 'sim', get: r => r.figures.latencyMs.p999 },
  { name: 'latency_max_ms', better: 'lower', kind: 'sim', get: r => r.figures.latencyMs.max },
  { name: 'latency_mean_ms', better: 'lower', kind: 'sim', get: r => r.figures.latencyMs.meanMs },
  { name: 'messages_per_op', better: 'lower', kind: 'sim', get: r => r.figures.messagesPerOp.total },
  { name: 'bytes_per_op', better: 'lower', kind: 'sim', get: r => r.figures.bytesPerOp.total },
  { name: 'failover_ms', better: 'lower', kind: 'sim', get: r => r.figures.failover?.failoverMs ?? null },
  { name: 'first_commit_after_crash_ms', better: 'lower', kind: 'sim', get: r => r.figures.failover?.firstCommitMs ?? null },
  { name: 'max_gap_ms', better: 'lower', kind: 'sim', get: r => r.figures.maxGapMs },
  { name: 'timeouts', better: 'lower', kind: 'sim', get: r => r.figures.timeouts },
  { name: 'signature_cpu_share', better: 'lower', kind: 'sim', get: r => r.figures.signatureCpuShare ?? null },
  { name: 'cpu_ms', better: 'lower', kind: 'host', get: r => r.host.cpuUserMs + r.host.cpuSystemMs },
  { name: 'cpu_us_per_op', better: 'lower', kind: 'host', get: r => r.host.cpuUsPerOp },
  { name: 'peak_rss_mb', better: 'lower', kind: 'host', get: r => Math.round(r.host.peakRssBytes / 1048576) },
  { name: 'peak_heap_mb', better: 'lower', kind: 'host', get: r => Math.round(r.host.peakHeapBytes / 1048576) },
  { name: 'retained_heap_kib', better: 'lower', kind: 'host', get: r => retainedKiB(r) },
  { name: 'sim_deliveries_per_s', better: 'higher', kind: 'host', get: r => r.host.deliveriesPerSec },
]

/** The cluster's retained heap in KiB (see HostFigures.retainedHeapBytes), or null where it was not measured. */
export function retainedKiB(r: RunResult): number | null {
  const bytes = r.host.retainedHeapBytes ?? null
  return bytes === null ? null : Math.round(bytes / 1024)
}

/** The dimensions of a run, as columns. */
export function specColumns(r: RunResult): Record<string, string | number> {
  const s = r.spec
  return {
    id: r.id, protocol: s.protocol, n: s.n, f: s.f, fault: s.fault, network: s.network, read_ratio: s.readRatio,
    value_size: s.valueSize, key_distribution: s.keyDistribution, clients: s.clients, batch: s.batch, signer: s.signer,
    mode: s.mode, rate: s.rate ?? '', seed: s.seed,
  }
}

export function toRow(r: RunResult): Record<string, string | number> {
  const row: Record<string, string | number> = specColumns(r)
  row.ops = r.figures.ops
  for (const f of FIGURES) row[f.name] = f.get(r) ?? ''
  row.theoretical_messages_per_op = r.figures.theoreticalMessagesPerOp.total
  row.wan_predicted_ms = r.figures.wan?.predictedMs ?? ''
  row.safety_violations = r.figures.safetyViolations
  return row
}
