/**
 * The workload a benchmark run offers and the window it measures, one shape for simulated (bench/load.ts) and live
 * (bench/live/) runs, so a figure means the same operations whichever network produced it.
 */
import type { KeyDistribution } from './config.ts'
import type { RunSpec } from './matrix.ts'

export interface Workload {
  /** Share of operations that are linearizable reads; the rest are puts. */
  readonly readRatio: number
  readonly valueSize: number
  readonly keys: number
  readonly keyDistribution: KeyDistribution
  /** Load runs this long before the measured window opens (leader elected, pipelines full). */
  readonly warmupMs: number
  readonly durationMs: number
  /** Close the window early after this many measured operations. */
  readonly maxOps: number
  readonly timelineBucketMs: number
  /** A request with no accepted answer after this long counts as a timeout. */
  readonly timeoutMs: number
  /** Live open loop: operations arriving per second (bench/live/live-load.ts); absent or null: closed loop. */
  readonly ratePerSec?: number | null
}

/**
 * Requests stay outstanding long enough for a failover to complete inside the deadline (the client protocol retries
 * other replicas meanwhile), and never less than this.
 */
const MIN_REQUEST_TIMEOUT_MS = 5000

/** The workload a sweep's run spec describes. */
export function workloadOf(spec: RunSpec): Workload {
  return {
    readRatio: spec.readRatio, valueSize: spec.valueSize, keys: spec.keys, keyDistribution: spec.keyDistribution,
    warmupMs: spec.warmupMs, durationMs: spec.durationMs, maxOps: spec.maxOps, timelineBucketMs: spec.timelineBucketMs,
    timeoutMs: Math.max(MIN_REQUEST_TIMEOUT_MS, spec.durationMs),
  }
}
