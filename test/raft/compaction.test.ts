/** §7 Log compaction: snapshots, bounded memory, InstallSnapshot for followers behind the compacted log. */
import { describe, expect, it } from 'vitest'
import { Cluster, request } from './harness.ts'
import { RaftInvariants } from './invariants.ts'

describe('§7 log compaction', () => {
  it('snapshotTaken persists the snapshot with its term and configuration and drops the log prefix', () => {
    const c = new Cluster([0, 1, 2], { seed: 1, snapshotInterval: 10 })
    c.elect(0)
    for (let i = 1; i <= 25; i++) { c.propose(0, request(1000, i)); c.stabilize() }
    c.tickAll(); c.stabilize()
    for (const id of [0, 1, 2]) {
      const r = c.replica(id)
      expect(r.log.snapshotIndex).toBe(20)
      expect(r.status().logSize).toBe(r.log.lastIndex - 20)
      expect(c.durable(id).snapshot?.index).toBe(20)
      expect(c.durable(id).log.map(e => e.index).every(i => i > 20)).toBe(true)
    }
  })

  it('memory stays bounded under sustained load', () => {
    const c = new Cluster([0, 1, 2], { seed: 2, snapshotInterval: 50 })
    c.elect(0)
    let maxLog = 0
    for (let i = 1; i <= 2000; i++) {
      c.propose(0, request(1000, i))
      if (i % 7 === 0) { c.stabilize(); c.tickAll(); c.stabilize() }
      for (const id of [0, 1, 2]) maxLog = Math.max(maxLog, c.replica(id).status().logSize)
    }
    expect(maxLog).toBeLessThan(60)
  })

  it('a follower behind the compacted log receives InstallSnapshot and catches up', () => {
    const c = new Cluster([0, 1, 2], { seed: 3, snapshotInterval: 10 })
    const inv = new RaftInvariants(c)
    c.elect(0)
    c.crash(2)
    for (let i = 1; i <= 35; i++) { c.propose(0, request(1000, i)); c.stabilize() }
    expect(c.replica(0).log.snapshotIndex).toBe(30)
    c.restart(2)
    c.sentByType.clear()
    c.runUntil(() => c.historyOf(2).length === 36, 100)
    expect(c.sentByType.get('InstallSnapshot')).toBe(1)
    expect(c.historyOf(2)).toEqual(c.historyOf(0))
    inv.check(c)
    // Its durable state now starts from the snapshot: a restart recovers from it.
    c.crash(2); c.restart(2)
    expect(c.replica(2).log.snapshotIndex).toBeGreaterThanOrEqual(30)
    expect(c.historyOf(2).length).toBeGreaterThanOrEqual(30)
  })

  it('a snapshot whose last entry the follower already holds keeps the entries after it', () => {
    const c = new Cluster([0, 1, 2], { seed: 4 })
    const leader = c.elect(0)
    for (let i = 1; i <= 5; i++) c.propose(0, request(1000, i))
    c.stabilize()
    const r1 = c.replica(1)
    const last = r1.log.lastIndex
    r1.receive(0, {
      type: 'InstallSnapshot', term: leader.term, lastIncludedIndex: 3, lastIncludedTerm: r1.log.term(3)!,
      config: { voters: [0, 1, 2], learners: [] }, data: new Uint8Array(0),
    })
    const ready = r1.ready()
    expect(ready.installSnapshot).toBeNull()
    expect(r1.log.lastIndex).toBe(last)
  })
})
