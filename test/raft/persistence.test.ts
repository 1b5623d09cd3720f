/** Figure 2 "persistent state": what is persisted when, and recovery from it. */
import { describe, expect, it } from 'vitest'
import { decodeHardState, HARD_STATE_KEY, recoverRaftState } from '../../protocols/raft/durable.ts'
import { Cluster, request } from './harness.ts'
import { RaftInvariants } from './invariants.ts'

describe('persistence', () => {
  it('a vote is persisted in the same Ready as the response that grants it', () => {
    const c = new Cluster([0, 1, 2], { seed: 1 })
    const r1 = c.replica(1)
    r1.receive(0, { type: 'RequestVote', term: 4, lastLogIndex: 0, lastLogTerm: 0, transfer: false })
    const ready = r1.ready()
    expect(ready.messages.map(m => m.message)).toEqual([{ type: 'RequestVoteResponse', term: 4, granted: true }])
    const put = ready.persist.find(op => op.kind === 'put')
    expect(put).toBeDefined()
    if (put?.kind === 'put') {
      expect(put.key).toBe(HARD_STATE_KEY)
      expect(decodeHardState(put.value)).toEqual({ term: 4, votedFor: 0 })
    }
  })

  it('a candidate persists its term and self-vote with its RequestVotes', () => {
    const c = new Cluster([0, 1, 2], { seed: 2, options: { preVote: false } })
    const r0 = c.replica(0)
    for (let t = 0; t < 30 && r0.role !== 'candidate'; t++) r0.tick()
    const ready = r0.ready()
    expect(ready.messages.every(m => m.message.type === 'RequestVote')).toBe(true)
    const put = ready.persist.find(op => op.kind === 'put')!
    if (put.kind === 'put') expect(decodeHardState(put.value)).toEqual({ term: 1, votedFor: 0 })
  })

  it('a follower persists appended entries before acknowledging them, and truncation of a conflicting suffix', () => {
    const c = new Cluster([0, 1, 2], { seed: 3 })
    const leader = c.elect(0)
    c.stabilize()
    const r1 = c.replica(1)
    r1.receive(0, {
      type: 'AppendEntries', term: leader.term, prevLogIndex: 1, prevLogTerm: leader.term, leaderCommit: 1,
      entries: [{ term: leader.term, type: 'command', request: request(1000, 1) }],
    })
    const ready = r1.ready()
    expect(ready.persist.map(op => op.kind)).toEqual(['entry'])
    expect(ready.messages[0]!.message).toMatchObject({ type: 'AppendEntriesResponse', success: true, index: 2 })
  })

  it('a crashed node recovers term, vote and log from its durable record and rejoins', () => {
    const c = new Cluster([0, 1, 2], { seed: 4 })
    const inv = new RaftInvariants(c)
    c.elect(0)
    for (let i = 1; i <= 10; i++) c.propose(0, request(1000, i))
    c.stabilize(); c.tickAll(); c.stabilize()
    const before = c.replica(1)
    const { term, votedFor } = before
    const lastIndex = before.log.lastIndex
    c.crash(1)
    const recovered = recoverRaftState(c.durable(1))
    expect(recovered.hard).toEqual({ term, votedFor })
    expect(recovered.entries).toHaveLength(lastIndex)
    c.restart(1)
    const after = c.replica(1)
    expect(after.term).toBe(term)
    expect(after.votedFor).toBe(votedFor)
    expect(after.log.lastIndex).toBe(lastIndex)
    expect(after.commitIndex).toBe(0) // volatile: relearned from the leader
    c.tickAll(); c.stabilize()
    expect(after.commitIndex).toBe(lastIndex)
    inv.check(c)
  })

  it('every node crashing and restarting loses nothing that was committed', () => {
    const c = new Cluster([0, 1, 2], { seed: 5 })
    const inv = new RaftInvariants(c)
    c.elect(0)
    for (let i = 1; i <= 5; i++) c.propose(0, request(1000, i))
    c.stabilize()
    const committed = c.replica(0).commitIndex
    for (const id of [0, 1, 2]) c.crash(id)
    for (const id of [0, 1, 2]) c.restart(id)
    c.runUntil(() => c.leader() !== undefined && c.leader()!.commitIndex > committed)
    c.tickAll(); c.stabilize()
    inv.check(c)
    for (const id of [0, 1, 2]) expect(c.historyOf(id).slice(0, 6)).toEqual(['-', 'c1000#1', 'c1000#2', 'c1000#3', 'c1000#4', 'c1000#5'])
  })
})
