/** Client interaction (dissertation §6.3) and linearizable reads: ReadIndex (§6.4) and leases (§6.4.1). */
import { describe, expect, it } from 'vitest'
import { Cluster, readRequest, request } from './harness.ts'

describe('§6 clients and reads', () => {
  it('a follower redirects commands and reads to the leader it knows', () => {
    const c = new Cluster([0, 1, 2], { seed: 1 })
    c.elect(0)
    c.propose(1, request(1000, 1))
    c.read(1, readRequest(1000, 2))
    expect(c.node(1).replies.map(r => [r.reply.status, r.reply.leaderHint])).toEqual([['redirect', 0], ['redirect', 0]])
  })

  it('ReadIndex: the leader serves a read at its commit index only after a heartbeat round confirms leadership', () => {
    const c = new Cluster([0, 1, 2], { seed: 2 })
    c.elect(0)
    c.propose(0, request(1000, 1)); c.stabilize()
    c.sentByType.clear()
    c.read(0, readRequest(2000, 1))
    expect(c.node(0).reads).toHaveLength(0)
    expect(c.sentByType.get('Heartbeat')).toBe(2)
    c.stabilize()
    expect(c.node(0).reads.map(r => r.index)).toEqual([c.replica(0).commitIndex])
  })

  it('reads arriving while a round is outstanding share the next round (batching)', () => {
    const c = new Cluster([0, 1, 2], { seed: 3 })
    c.elect(0)
    c.sentByType.clear()
    for (let i = 1; i <= 10; i++) c.read(0, readRequest(2000, i))
    c.stabilize()
    expect(c.node(0).reads).toHaveLength(10)
    expect(c.sentByType.get('Heartbeat')).toBeLessThanOrEqual(4)
  })

  it('a deposed leader never answers a read: the read is redirected', () => {
    const c = new Cluster([0, 1, 2], { seed: 4 })
    c.elect(0)
    c.isolate(0)
    c.read(0, readRequest(2000, 1))
    c.runUntil(() => c.replica(1).role === 'leader' || c.replica(2).role === 'leader')
    c.runUntil(() => c.replica(0).role !== 'leader')
    c.heal(); c.stabilize()
    expect(c.node(0).reads).toHaveLength(0)
    expect(c.node(0).replies.map(r => r.reply.status)).toEqual(['redirect'])
  })

  it('a new leader serves reads only once an entry of its term is committed', () => {
    const c = new Cluster([0, 1, 2], { seed: 5, options: { preVote: false } })
    const r0 = c.replica(0)
    c.isolate(0)
    for (let t = 0; t < 40 && r0.role !== 'candidate'; t++) c.tick(0)
    c.heal()
    // Deliver the votes; becoming leader appends the no-op, which is not committed yet.
    while (r0.role !== 'leader') c.deliverAt(0)
    c.queue = c.queue.filter(d => d.from !== 0)
    c.read(0, readRequest(2000, 1))
    c.tick(0)
    for (let i = 0; i < 100 && c.queue.length > 0; i++) {
      const m = c.peek(0).message
      if (m.type === 'AppendEntries' || m.type === 'AppendEntriesResponse') c.queue.splice(0, 1)
      else c.deliverAt(0)
    }
    expect(c.node(0).reads).toHaveLength(0) // heartbeats answered, but the no-op is not committed
    c.tickAll(); c.stabilize(); c.tickAll(); c.stabilize()
    expect(c.node(0).reads).toHaveLength(1)
    expect(c.node(0).reads[0]!.index).toBeGreaterThanOrEqual(1)
  })

  it('with leaseReads on, a leader within its lease serves reads without a heartbeat round', () => {
    const c = new Cluster([0, 1, 2], { seed: 6, options: { leaseReads: true } })
    // Lease mode: servers ignore votes for an election timeout after (re)start, so let that pass first.
    c.runUntil(() => c.leader() !== undefined && c.leader()!.commitIndex >= 1)
    const id = c.leader()!.id
    c.tickAll(); c.stabilize()
    c.sentByType.clear()
    c.read(id, readRequest(2000, 1))
    expect(c.node(id).reads).toHaveLength(1)
    expect(c.sentByType.get('Heartbeat') ?? 0).toBe(0)
    // Once its followers stop answering, the lease runs out and reads need a round again.
    c.isolate(id)
    for (let t = 0; t < 9; t++) c.tick(id)
    c.read(id, readRequest(2000, 2))
    expect(c.node(id).reads).toHaveLength(1)
  })
})
