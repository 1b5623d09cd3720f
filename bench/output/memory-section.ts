/**
 * report.md's "Retained heap against n": for every setting a sweep ran at two or more cluster sizes, the JavaScript
 * heap the simulated cluster held at the end of each run (HostFigures.retainedHeapBytes) and how fast it grows with n.
 * Crash-fault protocols should grow about linearly (every replica holds its own log). PBFT's replicas hold certificates
 * of n votes per slot, n^2 references, but in the simulator a handed-over vote is one object however many certificates
 * hold it, so it grows far less than n^2 here; growth well above the protocol's points at state that should not be there.
 */
import type { RunResult } from '../figures.ts'
import type { SweepResults } from '../sweep.ts'
import { growthExponent } from '../growth-exponent.ts'
import { fmt } from './table.ts'

export const MEMORY_TITLE = 'Retained heap against n'

export const MEMORY_EXPLANATION = 'JavaScript heap the simulated cluster still held at the end of each run: heap in use ' +
  'after a forced full collection with the cluster, less the same once it is dropped (replica logs not yet compacted, ' +
  'certificates, sessions), in MiB with the operations the run completed. `growth` is the slope of log(heap) against log(n): ' +
  '1 is linear in n, 2 quadratic. A host figure (allocation sizes repeat, what the process holds besides does not); ' +
  'runs that stop at different operation counts are not strictly comparable.'

/** Everything of a run's spec but n (and its id), as a grouping key and a readable label. */
function settingOf(r: RunResult): string {
  const s = r.spec
  return [`f=${s.f}`, s.fault, s.network, `clients=${s.clients}`, `read=${s.readRatio}`, `value=${s.valueSize}`,
    s.keyDistribution, `batch=${s.batch}`, s.signer, s.mode, ...(s.rate === null ? [] : [`rate=${s.rate}`])].join(' ')
}

/** The section's table, or null when no setting ran at two sizes with the figure measured. */
export function memoryTable(results: SweepResults): { header: string[]; rows: string[][] } | null {
  const groups = new Map<string, RunResult[]>()
  for (const r of results.runs) {
    if (r.timebase !== 'virtual' || (r.host.retainedHeapBytes ?? null) === null) continue
    const key = `${r.spec.protocol}\u0000${settingOf(r)}`
    const list = groups.get(key) ?? []
    list.push(r)
    groups.set(key, list)
  }
  const grown = [...groups.values()].filter(runs => new Set(runs.map(r => r.spec.n)).size >= 2)
  if (grown.length === 0) return null
  const sizes = [...new Set(grown.flat().map(r => r.spec.n))].sort((a, b) => a - b)
  // Only the settings that differ between groups are worth a column's width.
  const settings = new Set(grown.map(runs => settingOf(runs[0]!)))
  const header = ['protocol', ...(settings.size > 1 ? ['setting'] : []), ...sizes.map(n => `n=${n}`), 'growth']
  const rows = grown.map(runs => {
    const byN = new Map(runs.map(r => [r.spec.n, r]))
    const cells = sizes.map(n => {
      const r = byN.get(n)
      return r === undefined ? '-' : `${fmt(r.host.retainedHeapBytes! / 2 ** 20, 1)} (${r.figures.ops} ops)`
    })
    const exponent = growthExponent(runs.map(r => ({ n: r.spec.n, value: r.host.retainedHeapBytes! })))
    return [runs[0]!.spec.protocol, ...(settings.size > 1 ? [settingOf(runs[0]!)] : []), ...cells, fmt(exponent, 2)]
  })
  return { header, rows }
}
