/**
 * Regression (found by test/live/processes/ step 4, seed-free there; here seed 3): a replica cut off from its
 * peers while they committed, healed while the cluster was idle, never caught up. The others were idle (no
 * proposals to learn from), and its own NEW-VIEWs on timeout found no quorum. Fix: a replica whose NEW-VIEW shows an
 * older highQC than ours is sent our latest proposal (it learns the QC and the commits from its justify, and fetches
 * the blocks it lacks), and a timed-out replica forwards its pending commands so every leader has them.
 */
import { describe, expect, it } from 'vitest'
import { encodeKvCommand } from '../../core/kv.ts'
import { createSimCluster } from '../../net/sim/cluster.ts'
import { hotstuff } from '../../protocols/hotstuff/descriptor.ts'

describe('regression: hotstuff laggard healed into an idle cluster', () => {
  it('catches up with what the others committed while it was cut off', () => {
    const cluster = createSimCluster({ protocol: hotstuff, n: 4, seed: 3, clients: 1 })
    cluster.sim.run(300)
    cluster.network.isolate(3, [0, 1, 2])
    const client = cluster.clients[0]!
    for (let i = 0; i < 5; i++) {
      let ok = false
      client.submit(encodeKvCommand({ type: 'put', key: `k${i}`, value: `v${i}` }), false, 10_000, o => { ok = o.status === 'ok' })
      expect(cluster.sim.runUntil(() => ok, 10_000)).toBe(true)
    }
    const target = cluster.host(0).status().appliedIndex
    expect(cluster.host(3).status().appliedIndex).toBe(0)
    cluster.network.heal()
    expect(cluster.sim.runUntil(() => cluster.host(3).status().appliedIndex >= target, 10_000)).toBe(true)
    expect(cluster.safetyViolations).toEqual([])
  })
})
