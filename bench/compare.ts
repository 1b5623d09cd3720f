/**
 * `bench compare a.json b.json`: the change of every figure between two result files, run by run (matched on the run
 * id), with regressions beyond a threshold flagged. Simulated figures are deterministic, so any change there is a
 * change in the code or configuration; host figures (CPU, memory, simulator speed) are noisy and only flagged when
 * asked.
 */
import { readFileSync } from 'node:fs'
import { ConfigError } from '../core/errors.ts'
import { FIGURES } from './output/rows.ts'
import { fmt, formatTable } from './output/table.ts'
import type { RunResult } from './figures.ts'
import { RESULTS_SCHEMA, type SweepResults } from './sweep.ts'

export interface FigureChange {
  readonly run: string
  readonly figure: string
  readonly kind: 'sim' | 'host'
  readonly before: number | null
  readonly after: number | null
  /** Relative change (after - before) / |before|; null when either side is missing or before is 0 and after is 0. */
  readonly change: number | null
  readonly regression: boolean
}

export interface Comparison {
  readonly changes: FigureChange[]
  readonly regressions: FigureChange[]
  readonly onlyInA: string[]
  readonly onlyInB: string[]
}

export function loadResults(path: string): SweepResults {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new ConfigError(path, `cannot read a results file: ${(e as Error).message}`)
  }
  const r = parsed as Partial<SweepResults>
  if (r === null || typeof r !== 'object' || r.schema !== RESULTS_SCHEMA || !Array.isArray(r.runs)) {
    throw new ConfigError(path, `not a bench results.json (expected "schema": "${RESULTS_SCHEMA}" and a runs list)`)
  }
  return r as SweepResults
}

export function compareResults(a: SweepResults, b: SweepResults, o: { threshold: number; includeHost?: boolean }): Comparison {
  const byId = (runs: readonly RunResult[]) => new Map(runs.map(r => [r.id, r]))
  const A = byId(a.runs)
  const B = byId(b.runs)
  const changes: FigureChange[] = []
  for (const [id, ra] of A) {
    const rb = B.get(id)
    if (rb === undefined) continue
    for (const f of FIGURES) {
      const before = f.get(ra)
      const after = f.get(rb)
      let change: number | null = null
      if (before !== null && after !== null) {
        if (before !== 0) change = (after - before) / Math.abs(before)
        else if (after !== 0) change = after > 0 ? Infinity : -Infinity
        else change = 0
      }
      const worse = change === null ? 0 : f.better === 'higher' ? -change : change
      // A figure that appears (e.g. a failover that no longer completes) counts as worse too.
      const vanished = f.better === 'lower' && before !== null && after === null && f.name === 'failover_ms'
      const regression = (f.kind === 'sim' || o.includeHost === true) && (worse > o.threshold || vanished)
      changes.push({ run: id, figure: f.name, kind: f.kind, before, after, change, regression })
    }
  }
  return {
    changes,
    regressions: changes.filter(c => c.regression),
    onlyInA: [...A.keys()].filter(id => !B.has(id)),
    onlyInB: [...B.keys()].filter(id => !A.has(id)),
  }
}

function pct(x: number | null): string {
  if (x === null) return '-'
  if (!Number.isFinite(x)) return x > 0 ? '+inf' : '-inf'
  return `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`
}

export function formatComparison(c: Comparison, threshold: number, all: boolean): string {
  const lines: string[] = []
  const shown = all ? c.changes : c.changes.filter(x => x.change !== 0 || x.regression)
  if (shown.length === 0) lines.push('no figure changed')
  else {
    lines.push(formatTable(['run', 'figure', 'before', 'after', 'change', ''], shown.map(x => [
      x.run, x.figure + (x.kind === 'host' ? ' (host)' : ''), fmt(x.before, 3), fmt(x.after, 3), pct(x.change),
      x.regression ? 'REGRESSION' : '',
    ])))
  }
  for (const id of c.onlyInA) lines.push(`only in the first file: ${id}`)
  for (const id of c.onlyInB) lines.push(`only in the second file: ${id}`)
  lines.push('', c.regressions.length === 0
    ? `no regression beyond ${(threshold * 100).toFixed(1)}%`
    : `${c.regressions.length} regression${c.regressions.length === 1 ? '' : 's'} beyond ${(threshold * 100).toFixed(1)}%`)
  return lines.join('\n') + '\n'
}
