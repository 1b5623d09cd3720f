/**
 * Checkpoints and compaction (§4.7 of the tech report: executed instances are dropped once every replica has them):
 * memory stays flat over a long run, the durable log shrinks with it, and a replica restarted from its snapshot and
 * what compaction left of its log keeps executing in the same order as the others (the network checks that).
 */
import { describe, expect, it } from 'vitest'
import { decodeExecutedSet } from '../../protocols/epaxos/executed-set.ts'
import { RECORD_BASE } from '../../protocols/epaxos/instance.ts'
import { epaxosNetwork } from './fixtures.ts'

describe('epaxos compaction', () => {
  it('holds a bounded number of instances over a long run, in memory and in storage, and restarts from what is left', () => {
    const net = epaxosNetwork(3, 'compaction', {}, { clients: 4, workload: { keys: 3 }, snapshotInterval: 20 })
    let maxHeld = 0
    for (let t = 0; t < 3000; t++) {
      net.step()
      if (t % 50 === 0) for (const id of net.ids) maxHeld = Math.max(maxHeld, net.replica(id).status().logSize)
      if (t === 1500) { net.crash(1); net.restart(1) }
    }
    const executed = Math.min(...net.ids.map(id => net.replica(id).status().commitIndex))
    expect(net.completedRequests).toBeGreaterThan(1000)
    expect(executed).toBeGreaterThan(1000)
    // Far fewer instances held than executed: a few snapshot intervals' worth plus what is in flight.
    expect(maxHeld).toBeLessThan(100)
    for (const id of net.ids) {
      const durable = net.durable(id)
      const records = durable.log.filter(r => r.index >= RECORD_BASE).length
      expect(records, `replica ${id} durable instance records`).toBeLessThan(100)
      const meta = decodeExecutedSet(durable.snapshot!.meta)
      expect(meta.frontier.reduce((a, b) => a + b, 0)).toBeGreaterThan(500)
    }
  })
})
