/**
 * Regression (soak seeds 100-299, nemesis): operations after the final heal did not complete within the liveness
 * bound although a quorum was up, healed and had a leader.
 *
 * Multi-Paxos n = 5 seed 244: replicas 1 and 2 refused their corrupted storage and stayed down; after a crash of all
 * and a restart, every client's Karn backoff had grown to its cap (32 retry periods, 4.8 s). The workload gives up on
 * an operation before such a wait ends, and the leader client started each new request at the replica the abandoned
 * one had been waiting on: a dead one, for another whole wait. The clients alternated between the two dead replicas
 * and reached the leader ten seconds after the heal. A new request after an abandoned, unanswered wait now starts at
 * the next replica. The EPaxos and Raft seeds below timed out the same way.
 */
import { describe, expect, it } from 'vitest'
import { replayCommand, runSimulation, type SimulationOptions } from '../../net/sim/run.ts'
import { epaxos } from '../../protocols/epaxos/descriptor.ts'
import { multipaxos } from '../../protocols/multipaxos/descriptor.ts'
import { raft } from '../../protocols/raft/descriptor.ts'

const cases: SimulationOptions[] = [
  { protocol: multipaxos, n: 5, seed: 244, ops: 500, clients: 5, faults: 'nemesis', faultWindowMs: 8000 },
  { protocol: epaxos, n: 5, seed: 244, ops: 500, clients: 5, faults: 'nemesis', faultWindowMs: 8000 },
  { protocol: raft, n: 6, seed: 232, ops: 500, clients: 5, faults: 'nemesis', faultWindowMs: 8000, snapshotInterval: 7, fsyncMs: 1 },
]

describe('leader client: a new request after an abandoned wait does not wait on the same silent replica', () => {
  for (const options of cases) {
    it(`${options.protocol.name} n=${options.n} seed ${options.seed} is live after the final heal`, () => {
      const report = runSimulation(options)
      const replay = replayCommand(options)
      expect(report.liveness.ok, `${report.liveness.problems.join('; ')}\nreplay: ${replay}`).toBe(true)
      expect(report.check.ok, `${report.check.explanation}\nreplay: ${replay}`).toBe(true)
      expect(report.safetyViolations).toEqual([])
    })
  }
})
