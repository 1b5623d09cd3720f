import { describe, expect, it } from 'vitest'
import { PaxosCluster, request } from './cluster.ts'

describe('multipaxos steady state', () => {
  for (const n of [1, 3, 5]) {
    it(`elects one leader and commits proposals on all ${n} replicas`, () => {
      const c = new PaxosCluster({ n, seed: `basic-${n}` })
      const leader = c.electLeader()
      for (let seq = 1; seq <= 20; seq++) c.propose(leader, request(1000, seq))
      c.runUntil(() => c.ids.every(id => c.appliedOf(id) >= c.committed.size && c.committed.size > 0), 200, 'all applied')
      const values = [...c.committed.values()].join(',').split(',').filter(Boolean)
      expect(values).toHaveLength(20)
      for (const id of c.ids) expect(c.replica(id).status().commitIndex).toBe(c.committed.size)
    })
  }

  it('costs Accept + Accepted per follower per request at batch size 1: 2(n-1)', () => {
    const n = 5
    const c = new PaxosCluster({ n, seed: 'cost', options: { heartbeatTicks: 1000, leaderTimeoutTicks: 5000 } })
    const leader = c.electLeader(20_000)
    c.deliverAll()
    c.sentByType.clear()
    const requests = 50
    for (let seq = 1; seq <= requests; seq++) {
      c.propose(leader, request(1000, seq))
      c.deliverAll()
    }
    expect(c.sentByType.get('Accept')).toBe(requests * (n - 1))
    expect(c.sentByType.get('Accepted')).toBe(requests * (n - 1))
    expect([...c.sentByType.keys()].sort()).toEqual(['Accept', 'Accepted'])
  })
})
