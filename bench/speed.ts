/**
 * How fast the simulator itself runs: message deliveries and committed operations per wall-clock second for one
 * protocol and cluster size under saturating closed-loop load on the simulated LAN.
 */
import type { AnyProtocol } from '../core/protocol.ts'
import type { SignerName } from '../core/signer.ts'
import { SIMULATION_SIGNER } from '../core/signers/index.ts'
import { runId, type RunSpec } from './matrix.ts'
import { growthExponent } from './growth-exponent.ts'
import { runOne } from './run-one.ts'

export interface SpeedResult {
  readonly protocol: string
  readonly n: number
  readonly clients: number
  readonly virtualMs: number
  readonly wallMs: number
  readonly deliveries: number
  readonly ops: number
  readonly deliveriesPerSec: number
  readonly opsPerSec: number
  /** CPU time of this process during the run (user + system; GC helper threads count too). */
  readonly cpuMs: number
  /**
   * Deliveries per second of CPU time: on a machine shared with other work, wall-clock figures understate what the
   * simulator does with a core of its own; this does not (it overstates slightly when GC runs on helper threads).
   */
  readonly deliveriesPerCpuSec: number
  /** Virtual seconds simulated per wall-clock second. */
  readonly speedup: number
}

export function measureSimulatorSpeed(protocol: AnyProtocol, n: number,
  o: { clients?: number; virtualMs?: number; seed?: number; signer?: SignerName } = {}): SpeedResult {
  const base = {
    protocol: protocol.name, baseline: false, n, f: 0, fault: 'none', network: 'lan', readRatio: 0, valueSize: 16,
    keyDistribution: 'uniform', keys: 1000, clients: o.clients ?? 64, batch: 'default', signer: o.signer ?? SIMULATION_SIGNER, mode: 'closed',
    rate: null, warmupMs: 500, durationMs: o.virtualMs ?? 3000, maxOps: Number.MAX_SAFE_INTEGER, seed: o.seed ?? 1,
    tickMs: 10, snapshotInterval: 'auto', cpu: 'none', timelineBucketMs: 100, protocolOptions: {},
  } as const
  const spec: RunSpec = { id: runId(base), ...base }
  const r = runOne(spec, protocol)
  const wallS = r.host.wallMs / 1000
  return {
    protocol: protocol.name, n, clients: spec.clients, virtualMs: spec.warmupMs + spec.durationMs, wallMs: r.host.wallMs,
    deliveries: r.figures.deliveries, ops: r.figures.ops,
    deliveriesPerSec: Math.round(r.figures.deliveries / wallS), opsPerSec: Math.round(r.figures.ops / wallS),
    cpuMs: r.host.cpuUserMs + r.host.cpuSystemMs,
    deliveriesPerCpuSec: Math.round(r.figures.deliveries / ((r.host.cpuUserMs + r.host.cpuSystemMs) / 1000)),
    speedup: Math.round(((spec.warmupMs + spec.durationMs) / 1000 / wallS) * 100) / 100,
  }
}

export interface WarmSpeedResult extends SpeedResult {
  /**
   * The same run done first, in a fresh process: its hot paths start interpreted and are compiled as they run, which
   * took most of a 3 s run's wall time. The top-level figures are the second run's, what a long sweep runs at.
   */
  readonly cold: SpeedResult
}

/** The simulator's speed once the JIT has compiled it: the run twice, the first reported as `cold`. */
export function measureWarmSimulatorSpeed(protocol: AnyProtocol, n: number,
  o: { clients?: number; virtualMs?: number; seed?: number; signer?: SignerName } = {}): WarmSpeedResult {
  const cold = measureSimulatorSpeed(protocol, n, o)
  return { ...measureSimulatorSpeed(protocol, n, o), cold }
}

export interface ScalingRow extends SpeedResult {
  /** Wall-clock microseconds per committed operation (the whole run's wall time over the measured operations). */
  readonly wallUsPerOp: number
}

export interface ScalingResult {
  readonly protocol: string
  readonly rows: readonly ScalingRow[]
  /** Least-squares slope of log(wall per op) against log(n): 1 means linear in n, 2 quadratic. Null below 2 sizes. */
  readonly exponent: number | null
}

/** Default sizes of `bench speed --scaling`: a doubling ladder from the smallest fault-tolerant cluster. */
export function scalingSizes(protocol: AnyProtocol): number[] {
  return protocol.faultModel === 'byzantine' ? [4, 7, 13, 25] : [3, 5, 9, 17, 33]
}

/** What a committed operation costs in wall-clock time as n grows, so a user sees what a bigger sweep will cost. */
export function measureScaling(protocol: AnyProtocol, sizes: readonly number[],
  o: { clients?: number; virtualMs?: number; seed?: number; signer?: SignerName } = {}): ScalingResult {
  const rows = sizes.map((n): ScalingRow => {
    const r = measureSimulatorSpeed(protocol, n, o)
    return { ...r, wallUsPerOp: r.ops === 0 ? Infinity : Math.round((r.wallMs * 1000 / r.ops) * 10) / 10 }
  })
  const exponent = growthExponent(rows.map(r => ({ n: r.n, value: r.wallUsPerOp })))
  return { protocol: protocol.name, rows, exponent }
}
