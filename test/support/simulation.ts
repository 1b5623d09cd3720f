/**
 * Shared assertion for simulation tests: run one seeded simulation and require it safe (linearizable, replicas agree)
 * and live (finished; after the final heal every operation completed within the bound; few timeouts).
 */
import { expect } from 'vitest'
import { replayCommand, runSimulation, type SimulationOptions, type SimulationReport } from '../../net/sim/run.ts'

/** Every failure message carries the one-line replay command. */


export function expectLinearizable(options: SimulationOptions): SimulationReport {
  const report = runSimulation(options)
  const replay = replayCommand(options)
  expect(report.safetyViolations, `replay: ${replay}`).toEqual([])
  expect(report.check.verdict, `${report.check.explanation}\nreplay: ${replay}`).toBe('linearizable')
  expect(report.finished, `not all operations completed; replay: ${replay}`).toBe(true)
  expect(report.liveness.ok, `${report.liveness.problems.join('; ')}\nreplay: ${replay}`).toBe(true)
  return report
}
