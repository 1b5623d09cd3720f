/**
 * Regression (soak n = 3 seed 4, nemesis): an operation after the final heal did not complete within the liveness
 * bound.
 *
 * Replica 2's storage was refused, so it stayed down; replica 0 had been cut off and paused and missed hundreds of
 * Commits. It learned them one at a time: execution stops at the first unknown dependency, which it recovered only
 * after the recovery wait, found committed at its peer, then stopped at the next. And the wait had grown: a reply that
 * arrived after the partition counted as a round trip of hundreds of ticks, and recovery waits three round trips.
 * Round-trip samples are now capped, and a replica whose recovery turned up a Commit it had missed asks for the next
 * unknown dependency at once.
 */
import { describe, expect, it } from 'vitest'
import { replayCommand, runSimulation } from '../../net/sim/run.ts'
import { epaxos } from '../../protocols/epaxos/descriptor.ts'

describe('epaxos: a replica that missed many Commits catches up', () => {
  it('within the liveness bound after the final heal', () => {
    const options = { protocol: epaxos, n: 3, seed: 4, ops: 500, clients: 5, faults: 'nemesis', faultWindowMs: 8000 }
    const report = runSimulation(options)
    expect(report.liveness.ok, `${report.liveness.problems.join('; ')}\nreplay: ${replayCommand(options)}`).toBe(true)
    expect(report.safetyViolations).toEqual([])
  })
})
