/**
 * Write a sweep's results folder: results.json (everything), results.csv, report.md, report.html and one SVG per chart.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { SweepResults } from '../sweep.ts'
import { buildCharts, renderSvg } from './charts.ts'
import { toCsv } from './csv.ts'
import { toHtml } from './html.ts'
import { toMarkdown } from './markdown.ts'
import { writeRunViews } from './run-views.ts'
import type { AnyProtocol } from '../../core/protocol.ts'

export const OUTPUT_FILES = ['results.json', 'results.csv', 'report.md', 'report.html'] as const

/** results/<timestamp>/ under `base`, e.g. results/2026-11-22T17-01-02Z. */
export function timestampedDir(base: string, startedAt: string): string {
  return join(base, startedAt.replace(/\.\d+Z$/, 'Z').replaceAll(':', '-'))
}

export interface WriteOptions {
  /** Also write one HTML view per simulated run under runs/ and link each from its row of report.html. */
  readonly runViews?: { readonly registry: ReadonlyMap<string, AnyProtocol>; readonly onRun?: (id: string) => void }
}

export async function writeResults(results: SweepResults, dir: string, options: WriteOptions = {}): Promise<string[]> {
  mkdirSync(dir, { recursive: true })
  const written: string[] = []
  const put = (name: string, text: string) => {
    writeFileSync(join(dir, name), text)
    written.push(name)
  }
  put('results.json', JSON.stringify(results, null, 2) + '\n')
  put('results.csv', toCsv(results))
  const charts = buildCharts(results)
  const rendered: { title: string; svg: string }[] = []
  for (const chart of charts) {
    const svg = await renderSvg(chart.spec)
    put(`${chart.name}.svg`, svg)
    rendered.push({ title: chart.title, svg })
  }
  put('report.md', toMarkdown(results, charts))
  let runViews: Map<string, string> | undefined
  if (options.runViews !== undefined) {
    runViews = writeRunViews(results, dir, options.runViews.registry, options.runViews.onRun)
    written.push(...runViews.values())
  }
  put('report.html', toHtml(results, rendered, runViews))
  return written
}
