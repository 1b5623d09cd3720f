/**
 * HotStuff in the simulator end to end: seeded random and nemesis faults, Byzantine replicas of every strategy at the
 * first leader and at a backup, each history judged linearizable and live (progress after the last heal); message
 * counts at batch size 1 equal theory for larger n too; a replica far behind a compacted prefix catches up by state
 * transfer.
 */
import { describe, expect, it } from 'vitest'
import { measureMessagesPerCommand } from '../../bench/message-complexity.ts'
import { encodeKvCommand } from '../../core/kv.ts'
import { createSimCluster } from '../../net/sim/cluster.ts'
import { hotstuff } from '../../protocols/hotstuff/descriptor.ts'
import type { HotStuffReplica } from '../../protocols/hotstuff/replica.ts'
import { expectLinearizable } from '../support/simulation.ts'

describe('hotstuff simulations', () => {
  it('nemesis faults (pauses, clock drift, outages beyond f, bit flips): linearizable and live', () => {
    expectLinearizable({ protocol: hotstuff, n: 4, seed: 1, ops: 200, clients: 4, faults: 'nemesis', faultWindowMs: 3000 })
  })

  for (const strategy of hotstuff.adversary!.strategies) {
    it(`a Byzantine '${strategy}' replica at the first leader and at a backup: linearizable and live`, () => {
      for (const at of [1, 3]) {
        expectLinearizable({ protocol: hotstuff, n: 4, seed: at, ops: 80, clients: 3, byzantine: [`${at}=${strategy}`] })
      }
    })
  }

  it('a Byzantine leader plus random crashes of honest replicas at n = 7 (f = 2): linearizable and live', () => {
    expectLinearizable({
      protocol: hotstuff, n: 7, seed: 3, ops: 100, clients: 3, byzantine: ['1=equivocate'], byzantineCount: 1,
      faults: 'random', faultWindowMs: 2000,
    })
  })

  it('sends exactly 4(n-1) proposals and 4(n-1) votes per command at batch size 1 for n = 10 and 13', () => {
    for (const n of [10, 13]) {
      const m = measureMessagesPerCommand(hotstuff, n, { commands: 10, warmup: 3 })
      expect(m.measured, JSON.stringify(m.allTypes)).toEqual({ Proposal: 4 * (n - 1), Vote: 4 * (n - 1) })
      expect(m.allTypes, 'nothing else is sent in the steady state').toEqual(m.theoretical)
    }
  })

  it('a replica that was down while the others compacted past it catches up from an f+1-vouched snapshot', () => {
    const cluster = createSimCluster({ protocol: hotstuff, n: 4, seed: 9, clients: 1, snapshotInterval: 10 })
    cluster.sim.run(200)
    cluster.crash(2)
    const client = cluster.clients[0]!
    for (let i = 0; i < 60; i++) {
      let done = false
      client.submit(encodeKvCommand({ type: 'put', key: `k${i % 5}`, value: `v${i}` }), false, 30_000, () => { done = true })
      expect(cluster.sim.runUntil(() => done, 30_000)).toBe(true)
    }
    const others = [0, 1, 3].map(id => cluster.replica<HotStuffReplica>(id).debugState())
    expect(Math.min(...others.map(s => s.rootHeight))).toBeGreaterThan(0) // everyone pruned below a snapshot
    cluster.restart(2)
    // One more command: its proposal shows replica 2 it is behind; blocks below the peers' roots are gone, so it
    // needs the snapshot, then the blocks after it.
    let done = false
    client.submit(encodeKvCommand({ type: 'put', key: 'after', value: 'x' }), false, 30_000, () => { done = true })
    expect(cluster.sim.runUntil(() => done, 30_000)).toBe(true)
    // Every replica reaches the last index (one that missed the final proposal learns the commit after a view timeout).
    const applied = () => [0, 1, 2, 3].map(id => cluster.host(id).status().appliedIndex)
    const target = Math.max(...applied())
    expect(cluster.sim.runUntil(() => applied().every(i => i >= target), 30_000)).toBe(true)
    expect(cluster.replica<HotStuffReplica>(2).debugState().snapshotsInstalled).toBeGreaterThan(0)
    expect(cluster.safetyViolations).toEqual([])
    expect(cluster.host(2).stateMachine.snapshot()).toEqual(cluster.host(0).stateMachine.snapshot())
  })
})
