/**
 * Regression: a lease read after an aborted leader transfer could be stale.
 *
 * Voters honour a transfer's RequestVote despite check-quorum's vote lease (that is what lets a transfer happen at
 * once), so a TimeoutNow is a licence to depose the leader inside its lease. The leader stopped using its lease only
 * while the transfer was pending; once it gave up on the transfer (after an election timeout) it served lease reads
 * again, and a TimeoutNow still in the network could then elect the target, which committed writes those reads missed.
 * Fixed: a leader that has sent a TimeoutNow never serves lease reads again in that term (ReadIndex still works).
 */
import { describe, expect, it } from 'vitest'
import { Cluster, readRequest, request } from '../raft/harness.ts'

describe('raft: lease reads after an aborted leader transfer', () => {
  it('a delayed TimeoutNow cannot elect a new leader while the old one serves lease reads', () => {
    const c = new Cluster([0, 1, 2], { seed: 'lease-transfer', options: { leaseReads: true } })
    c.runUntil(() => c.leader() !== undefined && c.leader()!.commitIndex >= 1)
    const old = c.leader()!
    const [target, other] = [0, 1, 2].filter(id => id !== old.id) as [number, number]
    c.tickAll(); c.stabilize()
    expect(old.transferLeadership(target)).toBeNull()
    c.drain(old.id)
    // The TimeoutNow is delayed in the network.
    const at = c.queue.findIndex(d => d.from === old.id && d.to === target)
    expect(at).toBeGreaterThanOrEqual(0)
    const [timeoutNow] = c.queue.splice(at, 1)
    // An election timeout later the leader gives up on the transfer; heartbeats keep its followers' lease fresh.
    c.runUntil(() => old.leaderTransferTarget === -1, 50)
    expect(old.role).toBe('leader')
    // The TimeoutNow arrives late; from then on the old leader hears nothing more from the others.
    c.queue.unshift(timeoutNow!)
    c.deliverAt(0)
    c.isolate(old.id)
    c.stabilize()
    for (let t = 0; t < 3 && c.replica(target).role !== 'leader'; t++) { c.tick(target); c.tick(other); c.stabilize() }
    expect(c.replica(target).role).toBe('leader')
    c.propose(target, request(1000, 1, 'new write')); c.stabilize()
    c.tick(target); c.stabilize()
    expect(c.replica(target).commitIndex).toBeGreaterThan(old.commitIndex)
    // A read at the old leader must not be answered from its stale state.
    c.read(old.id, readRequest(2000, 1))
    expect(c.node(old.id).reads).toHaveLength(0)
  })
})
