/**
 * §5.4 Safety: the election restriction (§5.4.1), committing entries from previous terms (§5.4.2, Figure 8), and the
 * safety argument's properties checked by the invariant checker.
 *
 * Figure 8 is reproduced step by step with S1..S5 as nodes 0..4. Each new leader's first entry is its no-op, so the
 * indexes differ from the figure by one no-op per term, but the situation is the same: an entry from an older term
 * stored on a majority is not committed until an entry of the leader's own term is.
 */
import { describe, expect, it } from 'vitest'
import type { NodeId } from '../../core/types.ts'
import { Cluster, request } from './harness.ts'
import { RaftInvariants } from './invariants.ts'

const X = request(1000, 1, 'X')

/** Make `id` leader by ticking only it, then drop whatever it sent after winning (its entries reach nobody). */
function electAndSilence(c: Cluster, id: NodeId): void {
  const r = c.replica(id)
  for (let i = 0; i < 10_000 && r.role !== 'leader'; i++) {
    if (c.queue.length > 0) c.deliverAt(0)
    else c.tick(id)
  }
  expect(r.role).toBe('leader')
  c.queue = c.queue.filter(d => d.from !== id)
}

function entryAt(c: Cluster, id: NodeId, index: number): string {
  const e = c.replica(id).log.entry(index)
  if (e === undefined) return 'none'
  return e.type === 'command' ? `${new TextDecoder().decode(e.request.op)}@${e.term}` : `${e.type}@${e.term}`
}

/** Figure 8 (a)-(c): returns the cluster where S1 (term 3) has X (term 1) on a majority, uncommitted. */
function figure8UpToC(): { c: Cluster; inv: RaftInvariants } {
  // Plain Raft elections (no pre-vote, no check-quorum) so each step's votes are exactly the paper's; one entry per
  // AppendEntries so the older entry can reach S3 without the new leader's no-op.
  const c = new Cluster([0, 1, 2, 3, 4], { seed: 8, options: { preVote: false, checkQuorum: false, maxBatchCount: 1 } })
  const inv = new RaftInvariants(c)
  c.elect(0)
  c.tickAll(); c.stabilize() // everyone holds and has committed S1's no-op (index 1, term 1)

  // (a) S1 leads term 1 and replicates X (index 2) to S2 only.
  c.partition([0, 1], [2, 3, 4])
  c.propose(0, X)
  c.stabilize()
  expect([entryAt(c, 0, 2), entryAt(c, 1, 2), entryAt(c, 2, 2)]).toEqual(['X@1', 'X@1', 'none'])
  inv.check(c)

  // (b) S1 crashes; S5 is elected in term 2 by S3, S4, S5 and appends its no-op at index 2, which reaches nobody.
  c.crash(0)
  electAndSilence(c, 4)
  expect(c.replica(4).term).toBe(2)
  expect(entryAt(c, 4, 2)).toBe('noop@2')
  inv.check(c)

  // (c) S5 crashes; S1 restarts and is elected (term 3) by S2, S3, S4. It replicates X to S3, and its no-op of term 3
  // only to S2: X is now on S1, S2, S3 (a majority, and S1 knows it), the term-3 entry on S1 and S2 only.
  c.crash(4)
  c.restart(0)
  c.partition([0, 1, 2, 3], [4])
  electAndSilence(c, 0)
  const s1 = c.replica(0)
  expect(s1.term).toBe(3)
  c.partition([0, 1, 2], [3, 4])
  c.tick(0) // a heartbeat; the answers let S1 probe S2 and S3
  const isTerm3AppendToS3 = (i: number): boolean => {
    const { to, message } = c.peek(i)
    // Only once S3 holds X: the earlier probe carrying the no-op is one S3 rejects (it lacks index 2), keep it.
    return to === 2 && message.type === 'AppendEntries' && message.entries.some(e => e.term === 3) &&
      entryAt(c, 2, 2) === 'X@1'
  }
  for (let i = 0; i < 1000 && c.queue.length > 0; i++) {
    if (isTerm3AppendToS3(0)) c.queue.splice(0, 1)
    else c.deliverAt(0)
  }
  expect(s1.progressOf(1)?.match).toBe(3)
  expect(s1.progressOf(2)?.match).toBe(2)
  expect([entryAt(c, 0, 2), entryAt(c, 1, 2), entryAt(c, 2, 2)]).toEqual(['X@1', 'X@1', 'X@1'])
  expect([entryAt(c, 0, 3), entryAt(c, 1, 3), entryAt(c, 2, 3)]).toEqual(['noop@3', 'noop@3', 'none'])
  inv.check(c)
  return { c, inv }
}

describe('§5.4.2 committing entries from previous terms (Figure 8)', () => {
  it('a leader does not commit an older-term entry that a majority stores, by counting replicas', () => {
    const { c } = figure8UpToC()
    // commitIndex is volatile (S1 restarted with 0); what matters is that X at index 2 is not committed.
    expect(c.replica(0).commitIndex).toBeLessThan(2)
    expect(c.historyOf(0)).not.toContain('X')
  })

  it('(d) such an entry can then be overwritten by a later leader, and no server ever applies it', () => {
    const { c, inv } = figure8UpToC()
    c.crash(0)
    c.restart(4)
    c.heal()
    c.isolate(0)
    // S5 times out first; its log (last term 2) is more up to date than S3's and S4's (last term 1): with its own vote
    // that is a majority. S2 (last term 3) refuses, and later has its conflicting suffix replaced.
    c.elect(4)
    c.runUntil(() => c.replica(4).commitIndex >= 2, 300)
    c.tickAll(); c.stabilize()
    for (const id of [1, 2, 3, 4]) expect(entryAt(c, id, 2)).toBe('noop@2')
    for (const id of [1, 2, 3, 4]) expect(c.historyOf(id)).not.toContain('X')
    inv.check(c)
  })

  it('(e) once the leader commits an entry of its own term, the older entry is committed and S5 can never win', () => {
    const { c, inv } = figure8UpToC()
    c.partition([0, 1, 2], [3, 4])
    // S1's no-op of term 3 now reaches S3 too (its pipeline is re-probed after the message was lost).
    for (let t = 0; t < 20 && c.replica(0).commitIndex < 3; t++) { c.tick(0); c.stabilize() }
    expect(c.replica(0).commitIndex).toBe(3)
    expect(c.historyOf(0)).toEqual(['-', 'X', '-'])
    inv.check(c)
    c.crash(0)
    c.restart(4)
    c.heal()
    c.isolate(0)
    const s5 = c.replica(4)
    for (let t = 0; t < 200; t++) {
      c.tick(4) // only S5 times out: it is always the first to campaign, and must always lose
      c.stabilize()
      inv.check(c)
      expect(s5.role).not.toBe('leader')
    }
    c.runUntil(() => c.leader() !== undefined && [1, 2, 3, 4].every(id => c.historyOf(id).length >= 4), 500)
    expect(c.leader()!.id).not.toBe(4)
    for (const id of [1, 2, 3, 4]) expect(c.historyOf(id).slice(0, 2)).toEqual(['-', 'X'])
    inv.check(c)
  })
})

describe('§5.4.1 election restriction', () => {
  it('a voter refuses a candidate whose log is less up to date than its own', () => {
    const c = new Cluster([0, 1, 2], { seed: 3, options: { preVote: false, checkQuorum: false } })
    c.elect(0)
    c.isolate(2)
    c.propose(0, request(1000, 1))
    c.stabilize() // nodes 0, 1 hold the command; 2 does not
    c.crash(0)
    c.heal()
    c.isolate(0)
    const s3 = c.replica(2)
    for (let t = 0; t < 100; t++) {
      c.tick(2)
      c.stabilize()
      expect(s3.role).not.toBe('leader')
    }
    c.runUntil(() => c.replica(1).role === 'leader', 300)
  })

  it('votes at most once per term (the vote survives a restart)', () => {
    const c = new Cluster([0, 1, 2], { seed: 4, options: { preVote: false, checkQuorum: false } })
    c.tick(0) // nothing yet
    const r1 = c.replica(1)
    r1.receive(0, { type: 'RequestVote', term: 5, lastLogIndex: 0, lastLogTerm: 0, transfer: false })
    c.drain(1)
    expect(r1.votedFor).toBe(0)
    c.crash(1); c.restart(1)
    const again = c.replica(1)
    expect(again.term).toBe(5)
    again.receive(2, { type: 'RequestVote', term: 5, lastLogIndex: 0, lastLogTerm: 0, transfer: false })
    const ready = again.ready()
    expect(ready.messages).toEqual([{ to: 2, message: { type: 'RequestVoteResponse', term: 5, granted: false } }])
  })
})
