/**
 * One-way message latency models: per-link distributions, and region topologies given as an RTT matrix.
 */
import type { Rng } from '../../core/random.ts'
import { ConfigError } from '../../core/errors.ts'

export type LatencyDistribution =
  | { readonly kind: 'constant'; readonly ms: number }
  | { readonly kind: 'uniform'; readonly minMs: number; readonly maxMs: number }
  /** Heavy-tailed, like real networks: exp(N(ln median, sigma)). */
  | { readonly kind: 'lognormal'; readonly medianMs: number; readonly sigma: number }

export function sampleLatency(d: LatencyDistribution, rng: Rng): number {
  switch (d.kind) {
    case 'constant': return d.ms
    case 'uniform': return d.minMs + rng.next() * (d.maxMs - d.minMs)
    case 'lognormal': {
      // Box-Muller from two uniforms (1 - u keeps log away from 0).
      const u1 = 1 - rng.next()
      const u2 = rng.next()
      const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
      return d.medianMs * Math.exp(d.sigma * z)
    }
  }
}

export function validateLatency(d: LatencyDistribution, field: string): void {
  const bad = (msg: string) => { throw new ConfigError(field, msg) }
  switch (d.kind) {
    case 'constant': if (!(d.ms >= 0)) bad(`constant latency must be >= 0 ms, got ${d.ms}`); break
    case 'uniform': if (!(d.minMs >= 0 && d.maxMs >= d.minMs)) bad(`uniform latency needs 0 <= minMs <= maxMs, got ${d.minMs}..${d.maxMs}`); break
    case 'lognormal': if (!(d.medianMs > 0 && d.sigma >= 0)) bad(`lognormal latency needs medianMs > 0 and sigma >= 0`); break
    default: bad(`unknown latency kind ${JSON.stringify((d as { kind: unknown }).kind)} (constant, uniform, lognormal)`)
  }
}

/**
 * Regions with a symmetric round-trip-time matrix. A message between regions a and b takes rtt[a][b] / 2 plus the
 * per-link jitter distribution; within a region rtt[a][a] / 2 (LAN).
 */
export interface RegionTopology {
  readonly names: readonly string[]
  readonly rttMs: readonly (readonly number[])[]
}

export function validateTopology(t: RegionTopology): void {
  const k = t.names.length
  if (k === 0) throw new ConfigError('network.regions.names', 'at least one region is needed')
  if (t.rttMs.length !== k || t.rttMs.some(row => row.length !== k)) {
    throw new ConfigError('network.regions.rttMs', `expected a ${k}x${k} matrix for regions ${t.names.join(', ')}`)
  }
  for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) {
    const v = t.rttMs[a]![b]!
    if (!(v >= 0)) throw new ConfigError('network.regions.rttMs', `rtt[${a}][${b}] must be >= 0, got ${v}`)
    if (v !== t.rttMs[b]![a]) throw new ConfigError('network.regions.rttMs', `matrix must be symmetric: rtt[${a}][${b}] != rtt[${b}][${a}]`)
  }
}

/** A preset: US-East, US-West, EU (approximate public-cloud RTTs in ms). */
export const THREE_REGION_WAN: RegionTopology = {
  names: ['us-east', 'us-west', 'eu-west'],
  rttMs: [
    [1, 62, 76],
    [62, 1, 138],
    [76, 138, 1],
  ],
}
