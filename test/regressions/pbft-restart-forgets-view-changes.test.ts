/**
 * Regression: a PBFT cluster with one replica down for good stopped for good after a restart (seed 13, n = 4,
 * nemesis faults, found by the soak).
 *
 * Replica 2 refused its corrupted storage at 2.1 s and stayed down, leaving exactly 2f + 1 = 3 replicas. Replicas 0
 * and 1 were changing to view 1; replica 3 had seen 2f + 1 VIEW-CHANGEs for view 1, timed out and moved to view 2.
 * Then every replica crashed and restarted (6.3 s, 7.1 s). A replica starts its view-change timer only with 2f + 1
 * VIEW-CHANGEs for its target (paper 4.5.2), so 0 and 1 needed replica 3's VIEW-CHANGE for view 1; 3 answers a peer
 * stuck in an older view with the VIEW-CHANGE it sent for that view, but the restart had emptied that memory, so it
 * sent only its one for view 2, and the f + 1 rule (join a view f + 1 others ask for) never fires with one replica
 * there. Nothing moved again: 0 of the 120 operations invoked after the heal completed, 13,761 VIEW-CHANGEs (199 MB).
 *
 * Fixed: a replica remembers (and persists) the last view it worked in, and answers a peer changing to any view
 * between that one and its own with a VIEW-CHANGE for it made afresh (nothing it prepared changed in between).
 */
import { describe, expect, it } from 'vitest'
import { replayCommand, runSimulation, type SimulationOptions } from '../../net/sim/run.ts'
import { getProtocol } from '../../protocols/index.ts'

describe('pbft: a restart does not leave peers in an older view change for good', () => {
  it('seed 13: n = 4, nemesis faults for 8 s, replica 2 refused for good, then every replica restarts', () => {
    const o: SimulationOptions = {
      protocol: getProtocol('pbft'), n: 4, seed: 13, ops: 500, clients: 5, faults: 'nemesis', faultWindowMs: 8000,
    }
    const report = runSimulation(o)
    const replay = replayCommand(o)
    // The shape that deadlocked: one replica refused for good, then every other one crashed and restarted.
    expect(report.refused.map(r => r.replica), replay).toEqual([2])
    const faults = report.faults.map(f => f.description)
    expect(faults.some(f => f.includes('crashed 0, 1, 3')), replay).toBe(true)
    expect(faults.some(f => f.includes('restarted 0, 1, 3')), replay).toBe(true)
    expect(report.safetyViolations, replay).toEqual([])
    expect(report.check.ok, `${report.check.explanation}; ${replay}`).toBe(true)
    expect(report.liveness.ok, `${report.liveness.problems.join('; ')}; ${replay}`).toBe(true)
    // Was 13,761 VIEW-CHANGEs repeated into a view that never formed; 377 with the fix.
    expect(report.protocolMessages.ViewChange?.messages ?? 0, replay).toBeLessThan(2000)
  })
})
