/**
 * Regression (found by test/live/processes/, reproduced here with seed 1): with n = 4 and one replica crashed
 * for good, nothing committed. Leaders rotate every view, a commit needs a three-chain in consecutive views, and the
 * third block's QC is formed by the next leader: four correct leaders in a row, which n = 4 with one crash never has.
 * Fix: NEW-VIEW carries the sender's last vote, so the leader after the failed one forms that QC itself.
 */
import { describe, expect, it } from 'vitest'
import { encodeKvCommand } from '../../core/kv.ts'
import { createSimCluster } from '../../net/sim/cluster.ts'
import { hotstuff } from '../../protocols/hotstuff/descriptor.ts'

describe('regression: hotstuff with a crashed replica in the leader rotation', () => {
  for (const [n, crashed] of [[4, [1]], [7, [1, 4]]] as const) {
    it(`n=${n} with replicas ${crashed.join(', ')} down: every command commits`, () => {
      const cluster = createSimCluster({ protocol: hotstuff, n, seed: 1, clients: 1 })
      cluster.sim.run(500)
      for (const id of crashed) cluster.crash(id)
      const client = cluster.clients[0]!
      const start = cluster.sim.now()
      for (let i = 0; i < 10; i++) {
        let ok = false
        client.submit(encodeKvCommand({ type: 'put', key: 'k', value: `v${i}` }), false, 10_000, o => { ok = o.status === 'ok' })
        expect(cluster.sim.runUntil(() => ok, 10_000), `command ${i}`).toBe(true)
      }
      // Each command waits out about one or two failed views (100 ms each) in the rotation.
      expect(cluster.sim.now() - start).toBeLessThan(10 * 1000)
      expect(cluster.safetyViolations).toEqual([])
    })
  }
})
