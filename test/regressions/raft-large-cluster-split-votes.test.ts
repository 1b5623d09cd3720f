/**
 * Regression: Raft with 100 voters never kept a leader (found by `npm run bench -- --preset scale`, which reported
 * "NO PROGRESS in raft/n100": 0 ops/s, where Multi-Paxos did 1,645).
 *
 * Election timeouts are drawn in whole ticks from [electionTicks, 2 * electionTicks), ten slots by default, and the
 * simulator's replicas tick in step. With 100 voters about ten timed out in the first occupied slot together, each won
 * its pre-vote (pre-votes do not conflict) and split the real vote, round after round: seed 1 made 691,515
 * RequestVotes (about 7,000 candidacies) and 86% of its operations timed out. n = 64 limped through with 4,788.
 *
 * Fixed: the spread of the draw is the number of voters when that is more than electionTicks (one slot per voter keeps
 * the first slot's expected occupancy at one), so clusters of up to electionTicks voters draw exactly as before.
 */
import { describe, expect, it } from 'vitest'
import { replayCommand, runSimulation, type SimulationOptions } from '../../net/sim/run.ts'
import { getProtocol } from '../../protocols/index.ts'

describe('raft: a 100-voter cluster elects a leader and keeps it', () => {
  it('seed 1: n = 100, 16 clients, no faults', () => {
    const o: SimulationOptions = { protocol: getProtocol('raft'), n: 100, seed: 1, ops: 200, clients: 16 }
    const report = runSimulation(o)
    const replay = replayCommand(o)
    expect(report.liveness.ok, `${report.liveness.problems.join('; ')}; ${replay}`).toBe(true)
    expect(report.check.ok, `${report.check.explanation}; ${replay}`).toBe(true)
    expect(report.ops.info, replay).toBe(0)
    // One election (99 RequestVotes) with the fix, 691,515 before; a few rounds would still be fine.
    expect(report.protocolMessages.RequestVote?.messages ?? 0, replay).toBeLessThan(5 * 99)
  })
})
