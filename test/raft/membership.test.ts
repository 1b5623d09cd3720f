/** Dissertation §4: single-server membership changes, learners, removing voters (including the leader). */
import { describe, expect, it } from 'vitest'
import { Cluster, request } from './harness.ts'
import { RaftInvariants } from './invariants.ts'

describe('§4 membership changes', () => {
  it('a new empty server joins as a learner, catches up, is promoted and then counts for commitment', () => {
    const c = new Cluster([0, 1, 2], { seed: 1, snapshotInterval: 10 })
    const inv = new RaftInvariants(c)
    const leader = c.elect(0)
    for (let i = 1; i <= 25; i++) { c.propose(0, request(1000, i)); c.stabilize() }
    c.addNode(3, []) // knows no configuration: learns it from the leader
    expect(leader.proposeMembershipChange({ kind: 'promoteLearner', id: 3 })).toMatch(/not a learner/)
    expect(leader.proposeMembershipChange({ kind: 'addLearner', id: 3 })).toBeNull()
    expect(leader.proposeMembershipChange({ kind: 'addLearner', id: 4 })).toMatch(/uncommitted/)
    c.drain(0)
    c.runUntil(() => c.historyOf(3).length === c.historyOf(0).length, 100)
    expect(c.replica(3).configuration).toEqual({ voters: [0, 1, 2], learners: [3] })
    // A learner never campaigns.
    for (let t = 0; t < 50; t++) c.tick(3)
    expect(c.replica(3).role).toBe('follower')
    expect(leader.proposeMembershipChange({ kind: 'promoteLearner', id: 3 })).toBeNull()
    c.drain(0)
    c.runUntil(() => c.replica(3).configuration.voters.includes(3) && leader.commitIndex === leader.log.lastIndex, 100)
    // Four voters: commitment now needs three of them.
    c.isolate(1); c.isolate(2)
    c.propose(0, request(1000, 99)); c.stabilize()
    expect(c.historyOf(0)).not.toContain('c1000#99')
    c.heal()
    c.runUntil(() => c.historyOf(0).includes('c1000#99'), 50) // lost appends are re-probed after a few heartbeats
    inv.check(c)
  })

  it('a learner that has not caught up cannot be promoted', () => {
    const c = new Cluster([0, 1, 2], { seed: 2 })
    const leader = c.elect(0)
    for (let i = 1; i <= 5; i++) c.propose(0, request(1000, i))
    c.stabilize()
    c.addNode(3, [])
    c.isolate(3)
    expect(leader.proposeMembershipChange({ kind: 'addLearner', id: 3 })).toBeNull()
    c.drain(0); c.stabilize(); c.tickAll(); c.stabilize()
    expect(leader.proposeMembershipChange({ kind: 'promoteLearner', id: 3 })).toMatch(/not caught up/)
  })

  it('a removed voter no longer counts, and cannot disrupt the cluster (pre-vote, check-quorum)', () => {
    const c = new Cluster([0, 1, 2, 3], { seed: 3 })
    const inv = new RaftInvariants(c)
    const leader = c.elect(0)
    expect(leader.proposeMembershipChange({ kind: 'removeVoter', id: 3 })).toBeNull()
    c.drain(0); c.stabilize(); c.tickAll(); c.stabilize()
    expect(leader.configuration.voters).toEqual([0, 1, 2])
    const term = leader.term
    for (let t = 0; t < 200; t++) { c.tickAll(); c.stabilize(); inv.check(c) }
    expect(leader.role).toBe('leader')
    expect(leader.term).toBe(term)
    // Two of the three remaining voters suffice.
    c.isolate(2)
    c.propose(0, request(1000, 1)); c.stabilize()
    expect(c.historyOf(0)).toContain('c1000#1')
  })

  it('a leader that removes itself steps down once the change commits, and the rest elect a leader', () => {
    const c = new Cluster([0, 1, 2], { seed: 4 })
    const inv = new RaftInvariants(c)
    const leader = c.elect(0)
    expect(leader.proposeMembershipChange({ kind: 'removeVoter', id: 0 })).toBeNull()
    c.drain(0); c.stabilize()
    expect(leader.role).toBe('follower')
    c.runUntil(() => c.leader() !== undefined && c.leader()!.id !== 0, 200)
    const next = c.leader()!
    expect(next.configuration.voters).toEqual([1, 2])
    c.propose(next.id, request(1000, 1)); c.stabilize()
    expect(c.historyOf(next.id)).toContain('c1000#1')
    inv.check(c)
  })

  it('rejects changes at followers and before the leader commits an entry of its term', () => {
    const c = new Cluster([0, 1, 2], { seed: 5 })
    c.elect(0)
    expect(c.replica(1).proposeMembershipChange({ kind: 'addLearner', id: 7 })).toMatch(/not the leader/)
    expect(c.replica(0).proposeMembershipChange({ kind: 'removeVoter', id: 9 })).toMatch(/not a voter/)
    const fresh = new Cluster([0], { seed: 6 })
    const solo = fresh.replica(0)
    // Drained as a host would: the leader's no-op commits once the host reports it durable (Replica.synced).
    for (let t = 0; t < 30 && (solo.role !== 'leader' || solo.commitIndex === 0); t++) { solo.tick(); fresh.drain(0) }
    expect(solo.proposeMembershipChange({ kind: 'removeVoter', id: 0 })).toMatch(/last voter/)
  })
})
