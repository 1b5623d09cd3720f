/** §5.2 Leader election, §9.6 pre-vote, §6.2 check-quorum, §3.10 leader transfer. */
import { describe, expect, it } from 'vitest'
import { Cluster, request } from './harness.ts'
import { RaftInvariants } from './invariants.ts'

describe('§5.2 leader election', () => {
  it('a cluster elects exactly one leader and every node learns it', () => {
    for (const n of [1, 3, 5, 7]) {
      const ids = Array.from({ length: n }, (_, i) => i)
      const c = new Cluster(ids, { seed: n })
      const inv = new RaftInvariants(c)
      c.runUntil(() => c.leaders().length === 1 && c.up.every(h => h.replica!.leader === c.leader()!.id))
      inv.check(c)
      expect(c.leaders()).toHaveLength(1)
    }
  })

  it('election timeouts are randomized in [electionTicks, 2*electionTicks) from the seeded rng', () => {
    const c = new Cluster([0, 1, 2], { seed: 5, options: { electionTicks: 10, preVote: false } })
    const firstCampaign = (id: number): number => {
      const r = c.replica(id)
      for (let t = 1; t <= 40; t++) { r.tick(); if (r.role !== 'follower') return t }
      return -1
    }
    const timeouts = [0, 1, 2].map(firstCampaign)
    for (const t of timeouts) { expect(t).toBeGreaterThanOrEqual(10); expect(t).toBeLessThan(20) }
    expect(new Set(timeouts).size).toBeGreaterThan(1)
  })

  it('a candidate that hears from a leader of its term becomes a follower; a higher term always wins', () => {
    const c = new Cluster([0, 1, 2], { seed: 6, options: { preVote: false } })
    const leader = c.elect(0)
    const r2 = c.replica(2)
    r2.receive(1, { type: 'AppendEntries', term: leader.term + 3, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0 })
    expect(r2.term).toBe(leader.term + 3)
    expect(r2.role).toBe('follower')
    expect(r2.leader).toBe(1)
    leader.receive(2, { type: 'RequestVoteResponse', term: leader.term + 5, granted: false })
    expect(leader.role).toBe('follower')
    expect(leader.term).toBe(r2.term + 2)
  })

  it('a stale leader learns the new term from the answer to its AppendEntries and steps down', () => {
    const c = new Cluster([0, 1, 2], { seed: 7, options: { checkQuorum: false } })
    c.elect(0)
    c.isolate(0)
    c.runUntil(() => c.replica(1).role === 'leader' || c.replica(2).role === 'leader')
    expect(c.replica(0).role).toBe('leader') // without check-quorum it does not notice by itself
    c.heal()
    c.tick(0); c.stabilize()
    expect(c.replica(0).role).toBe('follower')
    expect(c.leaders()).toHaveLength(1)
  })
})

describe('§9.6 pre-vote', () => {
  it('a partitioned node does not raise its term, so rejoining does not depose the leader', () => {
    const c = new Cluster([0, 1, 2], { seed: 8 })
    const leader = c.elect(0)
    const term = leader.term
    c.isolate(2)
    for (let t = 0; t < 100; t++) { c.tickAll(); c.stabilize() }
    expect(c.replica(2).term).toBe(term)
    expect(c.replica(2).role).toBe('pre-candidate')
    c.heal()
    for (let t = 0; t < 30; t++) { c.tickAll(); c.stabilize() }
    expect(leader.role).toBe('leader')
    expect(leader.term).toBe(term)
    expect(c.replica(2).leader).toBe(0)
  })

  it('without pre-vote the same partition forces an election (the behaviour pre-vote prevents)', () => {
    const c = new Cluster([0, 1, 2], { seed: 8, options: { preVote: false, checkQuorum: false } })
    const leader = c.elect(0)
    const term = leader.term
    c.isolate(2)
    for (let t = 0; t < 100; t++) { c.tickAll(); c.stabilize() }
    expect(c.replica(2).term).toBeGreaterThan(term + 2)
    c.heal()
    for (let t = 0; t < 30; t++) { c.tickAll(); c.stabilize() }
    expect(c.leader()!.term).toBeGreaterThan(term)
  })

  it('a pre-vote is refused by servers that heard from a leader within an election timeout', () => {
    const c = new Cluster([0, 1, 2], { seed: 9 })
    c.elect(0)
    c.tickAll(); c.stabilize()
    const r1 = c.replica(1)
    r1.receive(2, { type: 'PreVote', term: r1.term + 1, lastLogIndex: 100, lastLogTerm: 100 })
    expect(r1.ready().messages).toEqual([]) // ignored: the leader is alive
  })
})

describe('§6.2 check-quorum', () => {
  it('a leader that has not heard from a majority within an election timeout steps down', () => {
    const c = new Cluster([0, 1, 2, 3, 4], { seed: 10 })
    const leader = c.elect(0)
    c.partition([0, 1], [2, 3, 4])
    for (let t = 0; t < 2 * 10 + 1; t++) { c.tick(0); c.stabilize() }
    expect(leader.role).toBe('follower')
  })

  it('a leader hearing from a majority keeps leading', () => {
    const c = new Cluster([0, 1, 2, 3, 4], { seed: 10 })
    const leader = c.elect(0)
    c.partition([0, 1, 2], [3, 4])
    for (let t = 0; t < 100; t++) { c.tick(0); c.tick(1); c.tick(2); c.stabilize() }
    expect(leader.role).toBe('leader')
  })
})

describe('§3.10 leader transfer', () => {
  it('TimeoutNow hands leadership to an up-to-date voter, which wins at once', () => {
    const c = new Cluster([0, 1, 2], { seed: 11 })
    const inv = new RaftInvariants(c)
    const leader = c.elect(0)
    c.propose(0, request(1000, 1)); c.stabilize()
    expect(leader.transferLeadership(2)).toBeNull()
    c.drain(0); c.stabilize()
    expect(c.replica(2).role).toBe('leader')
    expect(leader.role).toBe('follower')
    inv.check(c)
  })

  it('the leader refuses commands during a transfer and rejects bad targets', () => {
    const c = new Cluster([0, 1, 2], { seed: 12 })
    const leader = c.elect(0)
    expect(leader.transferLeadership(0)).toMatch(/already/)
    expect(leader.transferLeadership(9)).toMatch(/not a voter/)
    expect(c.replica(1).transferLeadership(2)).toMatch(/not the leader/)
    c.isolate(2)
    expect(leader.transferLeadership(2)).toBeNull()
    c.propose(0, request(1000, 1))
    expect(c.node(0).replies.at(-1)!.reply.status).toBe('redirect')
    // The transfer is abandoned after an election timeout.
    for (let t = 0; t < 25; t++) c.tick(0)
    expect(leader.leaderTransferTarget).toBe(-1)
  })
})
