/**
 * The "What linearizability costs" section (bench/cap.ts) as table rows and explanatory text, shared by report.md,
 * report.html and the terminal summary so all three say the same.
 */
import type { CapReport, PhaseFigures } from '../cap.ts'
import { fmt } from './table.ts'

export const CAP_TITLE = 'What linearizability costs'

const pct = (x: number | null) => (x === null ? '-' : `${fmt(100 * x, 1)}%`)
const lat = (p: PhaseFigures) => (p.answered === 0 ? '-' : `${fmt(p.latencyMs.p50, 2)} / ${fmt(p.latencyMs.p99, 2)}`)

export function capTable(report: CapReport): { header: string[]; rows: string[][] } {
  const header = ['network', 'protocol', 'consistency', 'p50 / p99 ms before', 'answered during: minority', 'majority',
    'p50 / p99 ms during (majority)', 'runs not linearizable', 'keys not linearizable']
  const rows = report.rows.map(r => [
    r.network,
    r.variant + (r.weakQuorums ? ' [weak quorums: R + W <= N]' : ''),
    r.consistency,
    lat(r.before),
    `${pct(r.duringMinority.availability)} of ${r.duringMinority.invoked}`,
    `${pct(r.duringMajority.availability)} of ${r.duringMajority.invoked}`,
    lat(r.duringMajority),
    `${r.runsNotLinearizable} of ${r.runs}${r.runsUnknown > 0 ? ` (${r.runsUnknown} unknown)` : ''}`,
    `${r.keysFailed} of ${r.keysChecked} (${pct(r.keysChecked === 0 ? null : r.keysFailed / r.keysChecked)})`,
  ])
  return { header, rows }
}

/** What the table measured, in words. */
export function capExplanation(report: CapReport): string {
  const o = report.options
  return `Networks ${o.networks.join(', ')} (wan: three regions, replica i in region i mod 3, clients spread over the ` +
    `regions, each at its nearest replica); n = ${o.n}, ${o.clients} closed-loop clients over ${o.keys} keys (${fmt(100 * o.readRatio, 0)}% reads, the ` +
    `rest writes, compare-and-sets and deletes, every client writing every key), the same ${o.seeds} seeds ` +
    `(${o.firstSeed}..${o.firstSeed + o.seeds - 1}) for every protocol. At ${o.partitionAtMs} ms the network splits replicas ` +
    `${report.minority.join(', ')} (the minority) from the rest, each client on the side of the replica it prefers ` +
    `(ClientContext.preferredReplica); it heals at ${o.healAtMs} ms and the workload stops at ${o.endMs} ms. ` +
    `"before": operations invoked from ${o.warmupMs} ms to the partition; "answered": the share of operations invoked ` +
    `during the partition that got an answer while it lasted, within ${o.timeoutMs} ms (the rest timed out, outcome ` +
    'unknown, or were answered only after the heal); the ' +
    'checker judges each run\'s whole history, key by key. Consensus and strict quorums refuse the minority side ' +
    'rather than answer it wrongly; weak quorums answer everyone, and the checker shows what that costs.'
}
