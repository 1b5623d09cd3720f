/**
 * The README's screenshots of the HTML view, made with the browser-test harness from real simulated runs:
 *   npx node test/viz/make-screenshots.ts      (writes docs/viz-*.png)
 * Not a test (vitest runs *.test.ts only); rerun it when the page's look changes.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { replayCommand, runSimulation, type SimulationOptions } from '../../net/sim/run.ts'
import { getProtocol } from '../../protocols/index.ts'
import { writeRunHtml } from '../../viz/html.ts'
import { simulationView } from '../../viz/run-view.ts'
import { startBrowser } from '../support/browser.ts'
import { staleReadKv } from '../support/stale-read-kv.ts'

const raft = getProtocol('raft')
const dir = mkdtempSync(join(tmpdir(), 'viz-shots-'))
const browser = await startBrowser()

async function shoot(name: string, options: SimulationOptions, section: string, window?: [number, number]): Promise<void> {
  const report = runSimulation({ ...options, timeline: true })
  const file = join(dir, `${name}.html`)
  writeRunHtml(file, simulationView(report, replayCommand(options)))
  const { page, errors } = await browser.open(file, { width: 1200, height: 1000 })
  if (window !== undefined) {
    await page.fill('#from', String(window[0]))
    await page.fill('#to', String(window[1]))
    await page.click('button[data-act="apply"]')
  }
  if (errors.length > 0) throw new Error(`${name}: ${errors.join('; ')}`)
  await page.locator(section).screenshot({ path: `docs/viz-${name}.png` })
  await page.close()
  process.stdout.write(`docs/viz-${name}.png: ${report.check.verdict}, replay: ${replayCommand(options)}\n`)
}

try {
  // A stale read injected into the key-value store: the timeline opens on the violation.
  await shoot('history', { protocol: raft, n: 3, seed: 2, ops: 80, clients: 3, workload: { keys: 2 }, stateMachine: staleReadKv(3) },
    'body > #app > section:nth-of-type(3)')
  // A leader crash and restart, then a partition: messages around the crash.
  await shoot('messages', { protocol: raft, n: 3, seed: 4, ops: 150, clients: 3, faults: 'crash@100:0,restart@300:0,partition@400:1|0.2,heal@600' },
    'body > #app > section:nth-of-type(2)', [96, 160])
  await shoot('status', { protocol: raft, n: 5, seed: 10, ops: 1500, clients: 5, faults: 'random' }, 'body > #app > section:nth-of-type(1)')
} finally {
  await browser.close()
  rmSync(dir, { recursive: true, force: true })
}
