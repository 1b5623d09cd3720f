/**
 * Plain-text tables for the terminal summary (and the Markdown report, which uses the same rows).
 */
import type { SweepResults } from '../sweep.ts'
import type { RunResult } from '../figures.ts'

export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()
  return [line(header), widths.map(w => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const esc = (s: string) => s.replaceAll('|', '\\|')
  return [`| ${header.map(esc).join(' | ')} |`, `|${header.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...rows.map(r => `| ${r.map(esc).join(' | ')} |`)].join('\n')
}

export function fmt(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined) return '-'
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US')
  return x.toFixed(digits)
}

/** Columns that differ between runs of this sweep, so the table shows only dimensions that vary. */
function varying(runs: readonly RunResult[]): Set<string> {
  const keys = ['network', 'readRatio', 'valueSize', 'keyDistribution', 'clients', 'batch', 'signer', 'rate'] as const
  const out = new Set<string>()
  for (const k of keys) if (new Set(runs.map(r => String(r.spec[k]))).size > 1) out.add(k)
  return out
}

export function summaryRows(results: SweepResults): { header: string[]; rows: string[][] } {
  const vary = varying(results.runs)
  const extra = [...vary]
  // Real (libp2p) runs measure wall-clock time, simulated ones virtual time: say which, whenever both kinds are present.
  const mixed = results.runs.some(r => r.timebase === 'wall-clock')
  const header = ['protocol', 'fault', 'n', 'f', ...extra, ...(mixed ? ['time'] : []), 'ops/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms',
    'msgs/op', 'theory@b1', 'bytes/op', 'failover ms', 'sig cpu %', 'cpu us/op']
  const rows = results.runs.map(r => {
    const fg = r.figures
    const lat = (v: number) => fg.latencyMs.count === 0 ? '-' : fmt(v, 2)
    return [
      r.spec.protocol + (r.spec.baseline ? ' (baseline)' : ''), r.spec.fault, String(r.spec.n), String(r.spec.f),
      ...extra.map(k => String(r.spec[k as keyof typeof r.spec])),
      ...(mixed ? [r.timebase === 'wall-clock' ? 'wall-clock' : 'virtual'] : []),
      // No operation issued in the window completed (an overloaded run): there is no latency to show, not zero.
      fmt(fg.throughput, 0), lat(fg.latencyMs.p50), lat(fg.latencyMs.p99), lat(fg.latencyMs.p999), lat(fg.latencyMs.max), fmt(fg.messagesPerOp.total, 2), fmt(fg.theoreticalMessagesPerOp.total, 0),
      fmt(fg.bytesPerOp.total, 0), fmt(fg.failover?.failoverMs, 0),
      fg.signatureCpuShare == null ? '-' : fmt(fg.signatureCpuShare * 100, 0),
      fmt(r.host.cpuUsPerOp, 0),
    ]
  })
  return { header, rows }
}

export function terminalSummary(results: SweepResults, outDir: string | null): string {
  const { header, rows } = summaryRows(results)
  const lines = [formatTable(header, rows)]
  const bad = results.runs.filter(r => r.figures.safetyViolations > 0)
  for (const r of bad) lines.push(`SAFETY VIOLATIONS in ${r.id}: ${r.figures.safetyViolations}`)
  for (const r of results.runs) {
    const l = r.figures.liveness
    if (l !== null && l !== undefined && !l.ok) lines.push(`NO PROGRESS in ${r.id}: ${l.problems.join('; ')}`)
  }
  if (results.skipped.length > 0) {
    lines.push('', `skipped (${results.skipped.length}):`)
    for (const s of results.skipped) lines.push(`  ${s.what}: ${s.reason}`)
  }
  lines.push('', `${results.runs.length} runs in ${(results.wallMs / 1000).toFixed(1)} s wall` +
    (outDir !== null ? `; results in ${outDir}` : ''))
  return lines.join('\n') + '\n'
}
