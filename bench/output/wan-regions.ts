/**
 * The table of commit latency by client region (the WAN preset with clients in every region): where a leader-based
 * protocol serves the leader's region fast and makes every other pay the trip to it, a leaderless one commits near
 * each client. One row per protocol, n and key distribution (the conflicting share of commands, hot:<p>).
 */
import type { SweepResults } from '../sweep.ts'
import { fmt } from './table.ts'

export function wanRegionsTable(results: SweepResults): { header: string[]; rows: string[][] } | null {
  const runs = results.runs.filter(r => r.spec.network === 'wan-spread' && r.figures.wan !== null && !r.spec.baseline)
  if (runs.length === 0) return null
  const regions = [...new Set(runs.flatMap(r => r.figures.wan!.regions.map(g => g.region)))]
  const header = ['protocol', 'n', 'keys', 'leader', ...regions.map(g => `${g} p50 ms (predicted)`), 'all clients p50 ms', 'p99 ms']
  const rows = runs.map(r => {
    const w = r.figures.wan!
    const cell = (region: string) => {
      const g = w.regions.find(x => x.region === region)
      if (g === undefined) return '-'
      return `${fmt(g.p50, 1)}${g.predictedMs === null ? '' : ` (${fmt(g.predictedMs, 1)})`}`
    }
    return [r.spec.protocol, String(r.spec.n), r.spec.keyDistribution, w.leader === null ? 'none' : String(w.leader),
      ...regions.map(cell), fmt(r.figures.latencyMs.p50, 1), fmt(r.figures.latencyMs.p99, 1)]
  })
  return { header, rows }
}
