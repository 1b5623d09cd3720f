/**
 * Admission control end to end in the simulator: with far more clients than a replica admits, every protocol's
 * replicas answer some requests busy, never hold more than the limit, and the clients' back-off still gets every
 * operation done, in a linearizable history (or a converged store, for quorum-kv), with nothing timed out.
 */
import { describe, expect, it } from 'vitest'
import type { SimCluster } from '../../net/sim/cluster.ts'
import { replayCommand, runPassed, runSimulation, type SimulationOptions } from '../../net/sim/run.ts'
import { getProtocol, protocols } from '../../protocols/index.ts'

const LIMIT = 3

describe('admission control under more clients than a replica admits', () => {
  for (const name of [...protocols.keys()]) {
    it(`${name}: replicas shed load as busy, stay within the limit, and every operation completes`, () => {
      const protocol = getProtocol(name)
      const n = name === 'unreplicated' ? 1 : protocol.faultModel === 'byzantine' ? 4 : 3
      let cluster: SimCluster | null = null
      let mostPending = 0
      const options: SimulationOptions = {
        // A 2 ms fsync keeps requests pending long enough for the limit to bind (the unreplicated server too).
        protocol, n, seed: 7, ops: 300, clients: 24, maxPendingRequests: LIMIT, fsyncMs: 2,
        onCluster: c => {
          cluster = c
          // Sample every replica's pending count each virtual millisecond (for the first minute of virtual time).
          const sample = () => {
            for (const id of c.upReplicas) mostPending = Math.max(mostPending, c.host(id).status().requestsPending)
            if (c.sim.now() < 60_000) c.sim.after(1, sample)
          }
          c.sim.after(0, sample)
        },
      }
      const r = runSimulation(options)
      const replay = replayCommand(options)
      expect(runPassed(r), replay).toBe(true)
      expect(r.ops.info, replay).toBe(0)
      expect(r.ops.ok + r.ops.fail, replay).toBe(r.ops.requested)
      const shed = cluster!.upReplicas.reduce((sum, id) => sum + cluster!.host(id).status().requestsShed, 0)
      expect(shed, replay).toBeGreaterThan(0)
      expect(mostPending, replay).toBeLessThanOrEqual(LIMIT)
      expect(replay).toContain(`--max-pending ${LIMIT}`)
    })
  }

  it('sheds nothing under the default limit, so ordinary runs are unchanged', () => {
    let cluster: SimCluster | null = null
    const r = runSimulation({ protocol: getProtocol('raft'), n: 3, seed: 1, ops: 400, clients: 64, fsyncMs: 2, onCluster: c => { cluster = c } })
    expect(runPassed(r)).toBe(true)
    expect(cluster!.upReplicas.map(id => cluster!.host(id).status().requestsShed)).toEqual([0, 0, 0])
  })
})
