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

/**
 * What an eventually consistent protocol (quorum-kv) promises under faults: no safety violation of the host's own
 * checks, every operation finished and the run live after the final heal, and every up replica holding the same state
 * once settled. The checker's verdict is in the report, for the caller to record.
 */
export function expectConverged(options: SimulationOptions): SimulationReport {
  const report = runSimulation(options)
  const replay = replayCommand(options)
  expect(report.safetyViolations, `replay: ${replay}`).toEqual([])
  expect(report.finished, `not all operations completed; replay: ${replay}`).toBe(true)
  expect(report.liveness.ok, `${report.liveness.problems.join('; ')}\nreplay: ${replay}`).toBe(true)
  expect(report.convergence?.ok, `${report.convergence?.reason ?? 'no convergence verdict'}\nreplay: ${replay}`).toBe(true)
  return report
}
