/**
 * Predicted commit latency from an RTT matrix: what geography alone costs, before any processing, batching or jitter.
 *
 * Crash-fault protocols with a stable leader (Raft, Multi-Paxos): the client's round trip to the leader plus the
 * leader's round trip to the farthest member of the nearest majority (the (majority - 1)-th closest other replica).
 * Byzantine protocols: the PBFT message pattern (request, PRE-PREPARE, PREPARE and COMMIT quorums of 2f + 1, f + 1
 * matching replies), played out over one-way delays of rtt / 2.
 */
import type { FaultModel } from '../core/protocol.ts'
import type { RegionTopology } from '../net/sim/latency.ts'

export interface WanPrediction {
  readonly predictedMs: number
  /** How the prediction was formed, for the report. */
  readonly model: string
}

function kthSmallest(values: number[], k: number): number {
  if (k <= 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(k, sorted.length) - 1]!
}

export function predictCommitLatency(o: {
  readonly faultModel: FaultModel
  readonly n: number
  readonly f: number
  readonly leader: number
  readonly placement: readonly number[]
  readonly clientRegion: number
  readonly topology: RegionTopology
}): WanPrediction {
  const rtt = (a: number, b: number) => o.topology.rttMs[a]![b]!
  const regionOf = (id: number) => o.placement[id] ?? 0
  const d = (a: number, b: number) => (a === b ? 0 : rtt(regionOf(a), regionOf(b)) / 2)
  const dClient = (id: number) => rtt(o.clientRegion, regionOf(id)) / 2
  const ids = [...Array(o.n).keys()]
  const L = o.leader
  if (o.faultModel === 'crash') {
    const majority = Math.floor(o.n / 2) + 1
    const others = ids.filter(j => j !== L).map(j => 2 * d(L, j))
    const quorumRtt = kthSmallest(others, majority - 1)
    return {
      predictedMs: 2 * dClient(L) + quorumRtt,
      model: `client<->leader RTT ${2 * dClient(L)} ms + leader's RTT to the farthest of the nearest majority ${quorumRtt} ms`,
    }
  }
  const f = o.f
  const prePrepare = ids.map(j => dClient(L) + d(L, j))
  const backups = ids.filter(j => j !== L)
  const prepared = ids.map(j => {
    const arrivals = backups.map(k => (k === j ? prePrepare[j]! : prePrepare[k]! + d(k, j)))
    return Math.max(prePrepare[j]!, kthSmallest(arrivals, 2 * f))
  })
  const committed = ids.map(j => kthSmallest(ids.map(k => prepared[k]! + d(k, j)), 2 * f + 1))
  const accepted = kthSmallest(ids.map(j => committed[j]! + dClient(j)), f + 1)
  return { predictedMs: accepted, model: 'PBFT pattern: request, PRE-PREPARE, 2f PREPAREs, 2f+1 COMMITs, f+1 replies' }
}
