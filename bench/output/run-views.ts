/**
 * bench --html-runs: one HTML view per simulated run (viz/), linked from its row of report.html, so an odd figure
 * can be looked at, not only read. Each run is rerun with its history and messages recorded (same spec and seed,
 * same run), after the sweep, so recording never touches the sweep's own host measurements.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { checkHistory } from '../../core/checker/index.ts'
import type { AnyProtocol } from '../../core/protocol.ts'
import { writeRunHtml } from '../../viz/html.ts'
import { buildRunView } from '../../viz/run-view.ts'
import { recordRun } from '../run-one.ts'
import type { SweepResults } from '../sweep.ts'
import { fmt } from './table.ts'

/** A bench run at full load sends far more messages than a page should carry: keep the first this many. */
export const RUN_VIEW_MAX_MESSAGES = 300_000

export const RUN_VIEWS_DIR = 'runs'

/** A file name for a run id (ids hold spaces, '=' and ':'). */
export function runViewFile(id: string): string {
  return `${id.replace(/[^A-Za-z0-9._-]+/g, '_')}.html`
}

/** Writes `<dir>/runs/<run>.html` for every simulated run; returns run id -> path relative to `dir`. */
export function writeRunViews(results: SweepResults, dir: string, registry: ReadonlyMap<string, AnyProtocol>,
  onRun?: (id: string) => void): Map<string, string> {
  const links = new Map<string, string>()
  mkdirSync(join(dir, RUN_VIEWS_DIR), { recursive: true })
  for (const run of results.runs) {
    if (run.timebase !== 'virtual') continue
    const protocol = registry.get(run.spec.protocol)
    if (protocol === undefined) continue
    onRun?.(run.id)
    const recorded = recordRun(run.spec, protocol, RUN_VIEW_MAX_MESSAGES)
    const f = recorded.figures
    const view = buildRunView({
      title: `bench run ${run.id}`,
      details: [
        `${fmt(f.throughput, 0)} ops/s, p50 ${fmt(f.latencyMs.p50, 2)} ms, p99 ${fmt(f.latencyMs.p99, 2)} ms, `
          + `${fmt(f.messagesPerOp.total, 2)} msgs/op (theory at batch 1: ${fmt(f.theoreticalMessagesPerOp.total, 0)}); `
          + `measured window ${fmt(run.spec.warmupMs, 0)} to ${fmt(run.spec.warmupMs + f.windowMs, 0)} ms`,
        `seed ${run.spec.seed}; rerun with recording on (same spec and seed)`
          + (recorded.timeline.messagesOmitted > 0 ? `; messages after the first ${RUN_VIEW_MAX_MESSAGES} not recorded` : ''),
      ],
      history: recorded.history,
      check: checkHistory(recorded.history, { timeLimitMs: 10_000 }),
      timeline: recorded.timeline,
    })
    const file = join(RUN_VIEWS_DIR, runViewFile(run.id))
    writeRunHtml(join(dir, file), view)
    links.set(run.id, file)
  }
  return links
}
