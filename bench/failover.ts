/**
 * Leader (primary) failover in the simulator over many seeds: the virtual time from crashing the leader to the first
 * completed operation issued after the crash, and to the first commit after it, as median, p99 and max. Each seed
 * draws its own election timeouts, latencies and crash moment, so the spread is the protocol's, not the machine's.
 */
import type { AnyProtocol } from '../core/protocol.ts'
import { runId, type RunSpec } from './matrix.ts'
import { runOne } from './run-one.ts'

export interface FailoverSummary {
  readonly protocol: string
  readonly n: number
  readonly seeds: number
  /** Runs in which service resumed within the measured window. */
  readonly recovered: number
  readonly failoverMs: Quantiles
  readonly firstCommitMs: Quantiles
}

export interface Quantiles { readonly median: number; readonly p99: number; readonly max: number }

/** Nearest-rank quantile of sorted values. */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

function quantiles(values: number[]): Quantiles {
  const s = [...values].sort((a, b) => a - b)
  return { median: quantile(s, 0.5), p99: quantile(s, 0.99), max: s.at(-1) ?? Number.NaN }
}

export function measureFailover(protocol: AnyProtocol, n: number,
  o: { seeds?: number; firstSeed?: number; clients?: number; cpu?: string } = {}): FailoverSummary {
  const failover: number[] = []
  const firstCommit: number[] = []
  const seeds = o.seeds ?? 50
  for (let i = 0; i < seeds; i++) {
    const base = {
      protocol: protocol.name, baseline: false, n, f: 1, fault: 'crash-leader', network: 'lan', readRatio: 0, valueSize: 16,
      keyDistribution: 'uniform', keys: 1000, clients: o.clients ?? 16, batch: 'default', signer: 'node', mode: 'closed',
      rate: null, warmupMs: 600, durationMs: 1000, maxOps: 1000, seed: (o.firstSeed ?? 1) + i,
      tickMs: 10, snapshotInterval: 'auto', cpu: o.cpu ?? 'reference', timelineBucketMs: 100, protocolOptions: {},
    } as const
    const spec: RunSpec = { id: runId(base), ...base }
    const r = runOne(spec, protocol)
    const f = r.figures.failover
    if (f?.failoverMs != null) failover.push(f.failoverMs)
    if (f?.firstCommitMs != null) firstCommit.push(f.firstCommitMs)
  }
  return { protocol: protocol.name, n, seeds, recovered: failover.length, failoverMs: quantiles(failover), firstCommitMs: quantiles(firstCommit) }
}
