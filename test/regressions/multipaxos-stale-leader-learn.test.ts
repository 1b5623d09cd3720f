/**
 * Regression: a follower learned a value that was never chosen.
 *
 * A follower learns slot s from a leader's commit index when it accepted at s in that leader's ballot (the leader
 * proposes one value per slot per ballot). That is only sound if the leader counts s in its commit index because its
 * own proposal was chosen. A deposed leader that has not heard of the newer ballot can still learn s by catch-up (an
 * acceptor answers an Accept for a slot it knows is chosen with the chosen value, not with a Nack), and then announced
 * a commit index covering s in its old ballot: a follower holding the old leader's losing proposal at s learned it.
 */
import { describe, expect, it } from 'vitest'
import { PaxosCluster, request } from '../multipaxos/cluster.ts'

describe('multipaxos: a deposed leader learning a slot by catch-up', () => {
  it('never makes a follower learn its own losing proposal there', () => {
    const c = new PaxosCluster({ n: 5, seed: 'stale-leader-learn' })
    const old = c.electLeader()
    c.deliverAll()
    const [f, a, b, d] = c.ids.filter(id => id !== old) as [number, number, number, number]
    // Slot 1 in the old ballot reaches only f: accepted by 2 of 5, not chosen.
    c.propose(old, request(1000, 1))
    c.dropWhere((_from, to, m) => m.type === 'Accept' && to !== f)
    c.deliverAll()
    expect(c.chosen.size).toBe(0)
    // The other three (a Phase 1 and Phase 2 quorum) elect a leader of a higher ballot and choose another value at 1.
    c.group[old] = 1
    c.group[f] = 1
    const majority = [a, b, d]
    let newLeader = -1
    for (let t = 0; t < 500 && newLeader < 0; t++) {
      for (const id of majority) c.tick(id)
      c.deliverAll()
      newLeader = majority.find(id => c.replica(id).status().role === 'leader') ?? -1
    }
    expect(newLeader).toBeGreaterThanOrEqual(0)
    c.propose(newLeader, request(2000, 1))
    for (let t = 0; t < 10; t++) { for (const id of majority) c.tick(id); c.deliverAll() }
    expect(c.chosen.get(1)).toBe('2000:1')
    expect(c.replica(a).status().commitIndex).toBeGreaterThanOrEqual(1)
    // Heal. The old leader (it has heard nothing of the new ballot) retransmits its Accept for slot 1; only that Accept
    // to `a` and a's answer get through, the rest of the new ballot's traffic to the old side is lost.
    c.group[old] = 0
    c.group[f] = 0
    c.dropWhere(() => true)
    for (let t = 0; t < 4; t++) c.tick(old)
    c.dropWhere((from, to, m) => !(from === old && to === a && m.type === 'Accept'))
    c.deliverAll(1)
    c.dropWhere((from, to, m) => !(from === a && to === old && m.type === 'CatchUp'))
    c.deliverAll(1)
    // Whatever the old leader says next to f must not make f learn 1000:1 at slot 1 (the cluster checks every commit
    // against the chosen value and throws on a mismatch).
    for (let t = 0; t < 3; t++) {
      c.tick(old)
      c.dropWhere((from, to) => !(from === old && to === f) && !(from === f && to === old))
      c.deliverAll()
    }
    expect(c.committed.get(1) ?? '2000:1').toBe('2000:1')
  })
})
