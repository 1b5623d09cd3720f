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

export const OUTPUT_FILES = ['results.json', 'results.csv', 'report.md', 'report.html'] as const

/** results/<timestamp>/ under `base`, e.g. results/2026-11-22T17-01-02Z. */
export function timestampedDir(base: string, startedAt: string): string {
  return join(base, startedAt.replace(/\.\d+Z$/, 'Z').replaceAll(':', '-'))
}

export async function writeResults(results: SweepResults, dir: string): Promise<string[]> {
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
  put('report.html', toHtml(results, rendered))
  return written
}
