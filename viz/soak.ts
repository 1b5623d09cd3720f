/**
 * soak --html: the view of a failing seed. Soak runs record nothing extra; a failing seed is rerun with the
 * timeline on (the same seed gives the same run), so only failures pay for recording.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { replayCommand, runSimulation, type SimulationOptions } from '../net/sim/run.ts'
import { writeRunHtml } from './html.ts'
import { simulationView } from './run-view.ts'

/** Returns the file written, or why none could be. */
export function writeFailingSeedHtml(dir: string, options: SimulationOptions): string {
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${options.protocol.name}-n${options.n}-seed${options.seed}.html`)
  try {
    const report = runSimulation({ ...options, timeline: true })
    writeRunHtml(file, simulationView(report, replayCommand(options)))
    return file
  } catch (e) {
    return `not written (the rerun threw: ${(e as Error).message})`
  }
}
