/** Shared assertion for simulation tests: run one seeded simulation and require it safe, finished and linearizable. */
import { expect } from 'vitest'
import { replayCommand, runSimulation, type SimulationOptions, type SimulationReport } from '../../net/sim/run.ts'

/** Every failure message carries the one-line replay command. */
export function expectLinearizable(options: SimulationOptions): SimulationReport {
  const report = runSimulation(options)
  const replay = replayCommand(options)
  expect(report.safetyViolations, `replay: ${replay}`).toEqual([])
  expect(report.check.verdict, `${report.check.explanation}\nreplay: ${replay}`).toBe('linearizable')
  expect(report.finished, `not all operations completed; replay: ${replay}`).toBe(true)
  return report
}
