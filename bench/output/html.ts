/**
 * report.html: the Markdown report's content as a self-contained page with the charts inlined as SVG.
 */
import type { SweepResults } from '../sweep.ts'
import { CAP_TITLE, capExplanation, capTable } from './cap-section.ts'
import { wanRegionsTable } from './wan-regions.ts'
import { MEMORY_EXPLANATION, MEMORY_TITLE, memoryTable } from './memory-section.ts'
import { messagesTable } from './markdown.ts'
import { fmt, summaryRows } from './table.ts'

function esc(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')
}

/** `links[i]`, when given, makes row i open that file (the run's HTML view). */
function table(header: readonly string[], rows: readonly (readonly string[])[], links?: readonly (string | undefined)[]): string {
  const linkHead = links !== undefined ? '<th>view</th>' : ''
  const linkCell = (i: number) => {
    if (links === undefined) return ''
    const href = links[i]
    return href === undefined ? '<td>-</td>' : `<td><a href="${esc(href)}">run</a></td>`
  }
  return `<table><thead><tr>${header.map(h => `<th>${esc(h)}</th>`).join('')}${linkHead}</tr></thead><tbody>` +
    rows.map((r, i) => `<tr>${r.map(c => `<td>${esc(c)}</td>`).join('')}${linkCell(i)}</tr>`).join('') + '</tbody></table>'
}

/** `runViews`: run id -> relative path of its HTML view (bench --html-runs). */
export function toHtml(results: SweepResults, charts: readonly { title: string; svg: string }[],
  runViews?: ReadonlyMap<string, string>): string {
  const e = results.environment
  const s = summaryRows(results)
  const parts: string[] = []
  parts.push(`<h1>Benchmark report</h1><p>Started ${esc(results.startedAt)}; ${results.runs.length} runs; Node ${esc(e.node)}, ` +
    `${e.cpuCount} x ${esc(e.cpuModel)}; commit ${esc(e.commit ?? 'unknown')}${e.dirty === true ? ' (dirty)' : ''}; seed ${results.config.seed}.</p>`)
  parts.push('<p>Figures other than host measurements are simulated in virtual time and reproducible from the seed' +
    (results.runs.some(r => r.timebase === 'wall-clock')
      ? ', except runs on network libp2p (time = wall-clock): real clusters on 127.0.0.1, measured on this machine, not reproducible.</p>'
      : '.</p>'))
  parts.push('<h2>Summary</h2>', table(s.header, s.rows, runViews === undefined ? undefined : results.runs.map(r => runViews.get(r.id))))
  parts.push('<h2>Charts</h2>')
  for (const c of charts) parts.push(`<figure><figcaption>${esc(c.title)}</figcaption>${c.svg}</figure>`)
  if (results.messageComplexity.length > 0) {
    const m = messagesTable(results)
    parts.push('<h2>Messages per command at batch size 1 vs theory</h2>', table(m.header, m.rows))
  }
  const wan = results.runs.filter(r => r.spec.network === 'wan' && r.figures.wan !== null && !r.spec.baseline)
  if (wan.length > 0) {
    parts.push('<h2>WAN latency tax</h2>', table(['protocol', 'n', 'leader', 'predicted ms', 'measured p50 ms'],
      wan.map(r => [r.spec.protocol, String(r.spec.n), String(r.figures.wan!.leader ?? 'none'), fmt(r.figures.wan!.predictedMs, 1), fmt(r.figures.latencyMs.p50, 1)])))
  }
  if (results.linearizabilityCost !== undefined) {
    const t = capTable(results.linearizabilityCost)
    parts.push(`<h2>${esc(CAP_TITLE)}</h2>`, `<p>${esc(capExplanation(results.linearizabilityCost))}</p>`, table(t.header, t.rows))
  }
  const regions = wanRegionsTable(results)
  if (regions !== null) parts.push('<h2>Commit latency by client region</h2>', table(regions.header, regions.rows))
  const memory = memoryTable(results)
  if (memory !== null) parts.push(`<h2>${esc(MEMORY_TITLE)}</h2>`, `<p>${esc(MEMORY_EXPLANATION)}</p>`, table(memory.header, memory.rows))
  if (results.skipped.length > 0) {
    parts.push('<h2>Skipped</h2><ul>' + results.skipped.map(x => `<li>${esc(x.what)}: ${esc(x.reason)}</li>`).join('') + '</ul>')
  }
  parts.push('<h2>Configuration</h2>', `<pre>${esc(JSON.stringify(results.config, null, 2))}</pre>`)
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Benchmark report</title><style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:first-child,th:first-child{text-align:left}
figure{display:inline-block;margin:1em}figcaption{font-weight:600}pre{background:#f6f6f6;padding:1em}
</style></head><body>${parts.join('\n')}</body></html>\n`
}
