/** results.csv: one row per run, every dimension and figure a column (RFC 4180 quoting). */
import type { SweepResults } from '../sweep.ts'
import { toRow } from './rows.ts'

function cell(v: string | number): string {
  const s = String(v)
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

export function toCsv(results: SweepResults): string {
  const rows = results.runs.map(toRow)
  if (rows.length === 0) return ''
  const header = Object.keys(rows[0]!)
  return [header.join(','), ...rows.map(r => header.map(h => cell(r[h] ?? '')).join(','))].join('\n') + '\n'
}
