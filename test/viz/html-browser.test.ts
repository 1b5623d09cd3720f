/**
 * The HTML view of a run, opened in a real headless Chromium: a fault-free run, a run with faults and a run with a
 * deliberately injected violation (a key-value store that answers some reads with a stale value). Under CI=true a
 * missing browser fails; elsewhere these tests say plainly that they did not run and how to make them run.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { replayCommand, runSimulation, type SimulationOptions, type SimulationReport } from '../../net/sim/run.ts'
import { getProtocol } from '../../protocols/index.ts'
import type { ChaosReport } from '../../live/chaos.ts'
import { chaosView } from '../../viz/chaos.ts'
import { writeRunHtml } from '../../viz/html.ts'
import { simulationView, type RunView } from '../../viz/run-view.ts'
import { BROWSER_MISSING, browserAvailable, startBrowser, type BrowserSession } from '../support/browser.ts'
import { staleReadKv } from '../support/stale-read-kv.ts'

const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false'
const haveBrowser = browserAvailable()
if (!haveBrowser && !inCi) process.stderr.write(`\n*** ${BROWSER_MISSING} ***\n\n`)

const raft = getProtocol('raft')
const RUNS = {
  faultFree: { protocol: raft, n: 3, seed: 1, ops: 20, clients: 2 },
  faults: { protocol: raft, n: 3, seed: 4, ops: 150, clients: 3, faults: 'crash@100:0,restart@300:0,partition@400:1|0.2,heal@600' },
  violation: { protocol: raft, n: 3, seed: 2, ops: 80, clients: 3, workload: { keys: 2 }, stateMachine: staleReadKv(3) },
} satisfies Record<string, SimulationOptions>

/** Choose the page's time window as a user would with the window inputs. */
async function setWindow(page: Page, from: number, to: number): Promise<void> {
  await page.fill('#from', String(from))
  await page.fill('#to', String(to))
  await page.click('button[data-act="apply"]')
}

/** Replica-to-replica events in the trace (an independent count of the arrows the diagram must draw). */
function replicaTraceEvents(r: SimulationReport): number {
  return r.traceLines!.filter(l => l.split(' ')[1]!.split('->').every(id => Number(id) < 1000)).length
}

describe('HTML view (headless Chromium)', () => {
  if (!haveBrowser && inCi) {
    it('needs Chromium under CI', () => { throw new Error(BROWSER_MISSING) })
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'viz-html-'))
  const built = new Map<keyof typeof RUNS, { report: SimulationReport; view: RunView; file: string }>()
  for (const [name, options] of Object.entries(RUNS) as [keyof typeof RUNS, SimulationOptions][]) {
    const report = runSimulation({ ...options, timeline: true, traceLines: true })
    const view = simulationView(report, replayCommand(options))
    const file = join(dir, `${name}.html`)
    writeRunHtml(file, view)
    built.set(name, { report, view, file })
  }
  let browser: BrowserSession | undefined
  beforeAll(async () => { if (haveBrowser) browser = await startBrowser() })
  afterAll(async () => {
    await browser?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('is one self-contained file: no external scripts, styles or links', () => {
    for (const { file } of built.values()) {
      const html = readFileSync(file, 'utf8')
      expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\//)
    }
  })

  const skip = haveBrowser ? '' : ` [NOT RUN: ${BROWSER_MISSING}]`

  it.skipIf(!haveBrowser)(`fault-free run: loads cleanly, one bar per operation, one arrow per message${skip}`, async () => {
    const { report, view, file } = built.get('faultFree')!
    expect(report.check.verdict).toBe('linearizable')
    const { page, errors } = await browser!.open(file)
    await setWindow(page, 0, 1e12)
    expect(await page.locator('rect.op').count()).toBe(view.ops.length)
    // The workload's operations and the liveness probe's, every one drawn.
    expect(report.ops.requested).toBeGreaterThan(RUNS.faultFree.ops)
    expect(await page.locator('rect.op').count()).toBe(report.ops.requested)
    const arrows = replicaTraceEvents(report)
    expect(arrows).toBeGreaterThan(0)
    expect(await page.locator('line.msg').count()).toBe(arrows)
    expect(await page.locator('.verdict.good').count()).toBe(1)
    expect(await page.locator('[class*="hl-"]:not(.sw)').count()).toBe(0)
    expect(errors).toEqual([])
    await page.close()
  })

  it.skipIf(!haveBrowser)(`run with faults: crash, restart, partition and heal drawn on the replica lines${skip}`, async () => {
    const { report, view, file } = built.get('faults')!
    const { page, errors } = await browser!.open(file)
    await setWindow(page, 0, 1e12)
    for (const kind of ['crash', 'restart', 'partition', 'heal']) expect(await page.locator(`#diagram .fault-${kind}`).count(), kind).toBeGreaterThan(0)
    expect(await page.locator('#diagram line.life.down').count()).toBeGreaterThan(0)
    expect(await page.locator('rect.op').count()).toBe(view.ops.length)
    expect(await page.locator('line.msg').count()).toBe(Math.min(replicaTraceEvents(report), 4000))
    // Zooming in redraws only the window.
    await setWindow(page, 90, 110)
    const inWindow = view.timeline!.messages.at.filter((at, i) => at >= 90 && view.timeline!.messages.sent[i]! <= 110).length
    expect(await page.locator('line.msg').count()).toBe(inWindow)
    expect(errors).toEqual([])
    await page.close()
  })

  it.skipIf(!haveBrowser)(`live chaos run (no message trace): history, faults and polled status${skip}`, async () => {
    // A chaos report has the live run's shape; its history and verdict come from a simulated run here, so the test
    // needs no processes (test/live/processes/ checks a real chaos run's report).
    const { report: sim } = built.get('faults')!
    const chaos: ChaosReport = {
      history: sim.history, check: sim.check, liveness: sim.liveness, ops: sim.ops, durationMs: sim.timeline!.endMs, replicas: [0, 1, 2],
      faults: [{ atMs: 100, description: 'kill -9 replica 0' }, { atMs: 300, description: 'restarted replica 0' },
        { atMs: 400, description: 'partitioned replica 1 from 0, 2' }, { atMs: 600, description: 'healed partition of replica 1' }],
      status: sim.timeline!.status.map(s => ({ ...s, atMs: s.at })),
    }
    const file = join(dir, 'chaos.html')
    writeRunHtml(file, chaosView(chaos, 'chaos'))
    const { page, errors } = await browser!.open(file)
    await setWindow(page, 0, 1e12)
    expect(await page.locator('rect.op').count()).toBe(sim.ops.requested)
    expect(await page.locator('line.msg').count()).toBe(0)
    expect(await page.locator('#diagram-info').textContent()).toContain('no message trace')
    for (const kind of ['crash', 'restart', 'partition', 'heal']) expect(await page.locator(`#diagram .fault-${kind}`).count(), kind).toBeGreaterThan(0)
    expect(errors).toEqual([])
    await page.close()
  })

  it.skipIf(!haveBrowser)(`injected violation: opens on it, with the blocked operation, prefix and producers highlighted${skip}`, async () => {
    const { report, view, file } = built.get('violation')!
    expect(report.check.verdict).toBe('not-linearizable')
    const h = view.highlight!
    const { page, errors } = await browser!.open(file)
    expect(await page.locator('.verdict.bad').count()).toBe(1)
    // The default window shows the violation: the failing key first, its blocked operation outlined.
    expect(await page.locator('svg.key-timeline').first().getAttribute('data-key')).toBe(h.key)
    const blocked = page.locator('rect.op.hl-blocked')
    expect(await blocked.count()).toBe(1)
    expect(await blocked.getAttribute('data-op')).toBe(String(h.blocked))
    expect(await page.locator('rect.op.hl-producer').count()).toBe(h.producers.filter(i => i !== h.blocked).length)
    expect(await page.locator('rect.op.hl-producer').count()).toBeGreaterThan(0)
    expect(await page.locator('rect.op.hl-prefix, rect.op.hl-producer, rect.op.hl-candidate, rect.op.hl-needed, rect.op.hl-blocked').count()).toBeGreaterThan(1)
    expect(await page.locator('#verdict').textContent()).toContain(`not linearizable: key "${h.key}"`)
    // Clicking the blocked operation opens the window on it.
    await blocked.click()
    const op = view.ops[h.blocked]!
    expect(Number(await page.inputValue('#from'))).toBeLessThanOrEqual(op.t0)
    expect(Number(await page.inputValue('#to'))).toBeGreaterThanOrEqual(op.t1!)
    expect(Number(await page.inputValue('#to')) - Number(await page.inputValue('#from'))).toBeLessThanOrEqual((op.t1! - op.t0) * 1.4 + 1.001)
    expect(errors).toEqual([])
    await page.close()
  })
})
