/**
 * How fast the simulator itself runs: message deliveries and committed operations per wall-clock second for one
 * protocol and cluster size under saturating closed-loop load on the simulated LAN.
 */
import type { AnyProtocol } from '../core/protocol.ts'
import type { SignerName } from '../core/signer.ts'
import { SIMULATION_SIGNER } from '../core/signers/index.ts'
import { runId, type RunSpec } from './matrix.ts'
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
    speedup: Math.round(((spec.warmupMs + spec.durationMs) / 1000 / wallS) * 100) / 100,
  }
}
