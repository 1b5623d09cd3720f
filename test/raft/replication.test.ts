/** §5.3 Log replication: consistency check, fast backtracking, pipelining, batching, per-command message cost. */
import { describe, expect, it } from 'vitest'
import { Cluster, request } from './harness.ts'
import { RaftInvariants } from './invariants.ts'

describe('§5.3 log replication', () => {
  it('a new leader commits a no-op of its term first, then client commands in order on every node', () => {
    const c = new Cluster([0, 1, 2], { seed: 1 })
    c.elect(1)
    for (let i = 1; i <= 5; i++) c.propose(1, request(1000, i))
    c.stabilize(); c.tickAll(); c.stabilize()
    for (const id of [0, 1, 2]) expect(c.historyOf(id)).toEqual(['-', 'c1000#1', 'c1000#2', 'c1000#3', 'c1000#4', 'c1000#5'])
  })

  it('a follower rejects AppendEntries whose previous entry it does not hold (consistency check)', () => {
    const c = new Cluster([0, 1, 2], { seed: 2 })
    const leader = c.elect(0)
    const r1 = c.replica(1)
    r1.receive(0, { type: 'AppendEntries', term: leader.term, prevLogIndex: 5, prevLogTerm: leader.term, entries: [], leaderCommit: 0 })
    const [out] = r1.ready().messages
    expect(out!.message).toMatchObject({ type: 'AppendEntriesResponse', success: false, index: 5, conflictTerm: 0, conflictIndex: 2 })
  })

  it('fast backtracking skips a whole conflicting term in one round trip', () => {
    const c = new Cluster([0, 1, 2], { seed: 3, options: { preVote: false, checkQuorum: false } })
    c.elect(0)
    // Node 0 leads and appends 20 entries that only it holds (its followers are cut off).
    c.isolate(0)
    for (let i = 1; i <= 20; i++) c.propose(0, request(1000, i))
    c.stabilize()
    c.crash(0)
    c.heal()
    c.isolate(0)
    c.elect(1)
    c.propose(1, request(1001, 1)); c.stabilize()
    // Node 0 comes back as a follower with 20 entries of an old term that conflict with the new leader's log.
    c.restart(0)
    c.heal()
    const rejections = (): number => c.sentByType.get('AppendEntriesResponse') ?? 0
    const before = rejections()
    c.runUntil(() => c.historyOf(0).includes('c1001#1'), 100)
    const inv = new RaftInvariants(c)
    inv.check(c)
    // Without hints the leader would need ~20 rejected probes; with conflict-term hints it needs a handful.
    expect(rejections() - before).toBeLessThan(10)
    expect(c.replica(0).log.lastIndex).toBe(c.replica(1).log.lastIndex)
    expect(c.historyOf(0)).not.toContain('c1000#5')
  })

  it('pipelines several AppendEntries per follower, bounded by maxInflight', () => {
    const c = new Cluster([0, 1, 2], { seed: 4, options: { maxBatchCount: 1, maxInflight: 3 } })
    const leader = c.elect(0)
    c.tickAll(); c.stabilize()
    for (let i = 1; i <= 10; i++) c.replica(0).propose(request(1000, i), 1000)
    c.drain(0)
    const toFollower1 = c.queue.filter(d => d.to === 1).map((_, i) => c.peek(i))
    expect(toFollower1.filter(m => m.message.type === 'AppendEntries')).toHaveLength(3)
    expect(leader.progressOf(1)).toMatchObject({ state: 'replicate', inflight: 3 })
    c.stabilize(); c.tickAll(); c.stabilize()
    expect(c.historyOf(1)).toHaveLength(11)
  })

  it('batches many commands into one AppendEntries, bounded by count and bytes', () => {
    const c = new Cluster([0, 1, 2], { seed: 5, options: { maxBatchCount: 4, maxBatchBytes: 1000, maxInflight: 1 } })
    c.elect(0)
    c.tickAll(); c.stabilize()
    for (let i = 1; i <= 12; i++) c.replica(0).propose(request(1000, i), 1000)
    c.drain(0)
    const first = c.peek(0).message
    expect(first.type).toBe('AppendEntries')
    if (first.type === 'AppendEntries') expect(first.entries).toHaveLength(4)
    c.stabilize()
    const big = request(1000, 13, 'x'.repeat(600))
    c.replica(0).propose(big, 1000)
    c.replica(0).propose(request(1000, 14, 'y'.repeat(600)), 1000)
    c.drain(0)
    const msg = c.peek(0).message
    if (msg.type === 'AppendEntries') expect(msg.entries).toHaveLength(1) // the second would exceed maxBatchBytes
    c.stabilize(); c.tickAll(); c.stabilize()
    expect(c.historyOf(2)).toHaveLength(15)
  })

  it('steady state at batch size 1 costs exactly one AppendEntries and one response per follower per command', () => {
    for (const n of [3, 5, 7]) {
      const c = new Cluster(Array.from({ length: n }, (_, i) => i), { seed: n })
      c.elect(0)
      c.tickAll(); c.stabilize()
      c.sentByType.clear()
      for (let i = 1; i <= 50; i++) { c.propose(0, request(1000, i)); c.stabilize() }
      expect(c.sentByType.get('AppendEntries')).toBe(50 * (n - 1))
      expect(c.sentByType.get('AppendEntriesResponse')).toBe(50 * (n - 1))
      expect([...c.sentByType.keys()].sort()).toEqual(['AppendEntries', 'AppendEntriesResponse'])
      // Followers learn the commit index from the next message: after one heartbeat all have applied everything.
      c.tickAll(); c.stabilize()
      for (let id = 0; id < n; id++) expect(c.historyOf(id)).toHaveLength(51)
    }
  })

  it('recovers from lost pipelined messages (the follower is re-probed)', () => {
    const c = new Cluster([0, 1, 2], { seed: 6, options: { maxBatchCount: 1 } })
    c.elect(0)
    c.tickAll(); c.stabilize()
    for (let i = 1; i <= 3; i++) c.propose(0, request(1000, i))
    c.queue = c.queue.filter(d => d.to !== 2) // every AppendEntries to node 2 is lost
    c.stabilize()
    c.runUntil(() => c.historyOf(2).length === 4, 50)
  })
})
