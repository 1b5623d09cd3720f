/**
 * Regression: PBFT view changes could deadlock for good (seed 909 found by the red team; seed 10 of the n = 4
 * bad-signature-primary shape found while fixing it).
 *
 * A replica starts its view-change timer only once 2f+1 VIEW-CHANGEs for its target view are in (paper 4.5.2). A
 * replica whose timer expired moved on to v+2 and from then on repeated only its newest VIEW-CHANGE, and every
 * replica kept only the newest VIEW-CHANGE per sender, so peers still changing to v+1 lost its vote there: no quorum
 * for v+1, no timer, and the f+1 rule (join a higher view that f+1 others asked for) could not fire either, because
 * the faulty replica's VIEW-CHANGEs are invalid and only one correct replica had moved on. Nothing ever moved again:
 * seed 909 ran 423 s of virtual time after the faults healed at 10 s, 652 of 800 operations timed out, 84,124
 * VIEW-CHANGEs and 4 NEW-VIEWs; seed 10 (n = 4, a bad-signature primary) completed no operation at all in 383 s.
 * Timeouts also doubled up to 2^10 times the base (over 1000 s) on the way.
 *
 * Fixed: replicas keep a few VIEW-CHANGEs per sender and their own since the last view they entered; a replica that
 * moved on answers a peer's VIEW-CHANGE for an older view with the NEW-VIEW it needs, or its own VIEW-CHANGE for that
 * view and its latest one; the f+1 rule takes each sender's lowest view above ours; timeouts double at most
 * maxTimeoutDoublings (3) times.
 */
import { describe, expect, it } from 'vitest'
import { checkHistory } from '../../core/checker/index.ts'
import { createRng } from '../../core/random.ts'
import { createSimCluster } from '../../net/sim/cluster.ts'
import { randomFaultSchedule } from '../../net/sim/faults.ts'
import { replayCommand, runSimulation, type SimulationOptions } from '../../net/sim/run.ts'
import { runWorkload } from '../../net/sim/workload.ts'
import { getProtocol } from '../../protocols/index.ts'

const pbft = getProtocol('pbft')

describe('pbft: view changes never deadlock once faults heal', () => {
  it('seed 909: n = 5, a lying-view-change replica, random faults for 10 s, K = 8', () => {
    const o: SimulationOptions = {
      protocol: pbft, n: 5, seed: 909, ops: 800, clients: 8, workload: { keys: 2 }, faults: 'random', faultWindowMs: 10_000,
      byzantine: ['lying-view-change'], protocolOptions: { checkpointInterval: 8 }, snapshotInterval: 8, fsyncMs: 2,
    }
    const report = runSimulation(o)
    const replay = replayCommand(o)
    expect(report.safetyViolations, replay).toEqual([])
    expect(report.check.ok, `${report.check.explanation}; ${replay}`).toBe(true)
    expect(report.finished, replay).toBe(true)
    // Nearly every operation completes (was 132 of 800), in about the time the workload needs (was 423 s).
    expect(report.ops.info, replay).toBeLessThanOrEqual(0.02 * o.ops)
    expect(report.ops.ok + report.ops.fail, replay).toBeGreaterThanOrEqual(0.98 * o.ops)
    expect(report.virtualMs, replay).toBeLessThan(30_000)
    expect(report.protocolMessages.ViewChange?.messages ?? 0, replay).toBeLessThan(5000)
  })

  it('seed 10: n = 4, the primary of view 0 corrupts every signature, random faults for 8 s', () => {
    const seed = 10
    const ops = 300
    const clients = 4
    const windowMs = 8000
    const cluster = createSimCluster({
      protocol: pbft, n: 4, seed, clients, maxCrashed: 0, untrusted: [0],
      replicaFactory: id => id === 0 ? ctx => pbft.adversary!.createReplica('bad-signature', ctx) : undefined,
    })
    cluster.schedule(randomFaultSchedule(createRng(seed).fork('faults'), { n: 4, windowMs }))
    const w = runWorkload(cluster, { ops, thinkMs: (windowMs * clients) / ops, rng: createRng(seed).fork('workload') })
    cluster.healAll()
    cluster.sim.run(cluster.sim.now() + 2000)
    expect(cluster.safetyViolations).toEqual([])
    expect(checkHistory(w.history, { timeLimitMs: 30_000 }).ok).toBe(true)
    expect(w.finished).toBe(true)
    // Was 0 ok and 300 timed out, over 383 s of virtual time.
    expect(w.info).toBeLessThanOrEqual(0.02 * ops)
    expect(w.endMs - w.startMs).toBeLessThan(windowMs + 15_000)
  })
})
