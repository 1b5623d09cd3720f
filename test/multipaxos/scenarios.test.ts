/**
 * Multi-Paxos scenarios, named after what the papers leave as exercises: recovering minority-accepted values, filling
 * holes, acceptors that restart, dueling proposers, catch-up and compaction, client routing.
 */
import { describe, expect, it } from 'vitest'
import { PaxosCluster, request } from './cluster.ts'
import type { MultiPaxosMessage } from '../../protocols/multipaxos/messages.ts'

function others(c: PaxosCluster, ...not: number[]): number[] {
  return c.ids.filter(id => !not.includes(id))
}

describe('Phase 1: a new leader recovers what it must', () => {
  it('re-proposes a value accepted only by a minority before the old leader crashed', () => {
    const c = new PaxosCluster({ n: 5, seed: 'minority' })
    const old = c.electLeader()
    c.deliverAll()
    const [a, b] = others(c, old)
    c.propose(old, request(1000, 1))
    const slot = c.inFlight().find(x => x.message.type === 'Accept')!.message
    expect(slot.type).toBe('Accept')
    c.dropWhere((_f, to, m) => m.type === 'Accept' && to !== a)
    c.deliverAll()
    expect(c.chosen.size).toBe(0) // the old leader and one acceptor: 2 of 5, not a quorum
    // With the old leader and b down, every Phase 1 quorum (3 of the 3 left) includes a.
    c.crash(old)
    c.crash(b!)
    c.electLeader()
    c.runUntil(() => c.committed.has(1), 500, 'slot 1 committed')
    expect(c.committed.get(1)).toBe('1000:1')
  })

  it('picks the value of the highest ballot when minorities accepted different values at one slot', () => {
    const c = new PaxosCluster({ n: 5, seed: 'highest-ballot' })
    const first = c.electLeader()
    c.deliverAll()
    const a = others(c, first)[0]!
    c.propose(first, request(1000, 1))
    c.dropWhere((_f, to, m) => m.type === 'Accept' && to !== a)
    c.deliverAll() // slot 1: (b1, 1000:1) at `first` and a
    c.crash(first)
    c.crash(a)
    const second = c.electLeader() // Phase 1 among the other three: slot 1 looks empty to it
    c.deliverAll()
    const y = others(c, first, a, second)[0]!
    const z = others(c, first, a, second, y)[0]!
    c.propose(second, request(2000, 1))
    c.dropWhere((_f, to, m) => m.type === 'Accept' && to !== y)
    c.deliverAll() // slot 1: (b2 > b1, 2000:1) at `second` and y
    expect(c.chosen.size).toBe(0)
    c.crash(second)
    c.crash(z)
    c.restart(first)
    c.restart(a)
    // Up: first and a (ballot b1) and y (ballot b2): exactly a Phase 1 quorum, which must adopt the b2 value.
    c.electLeader()
    c.runUntil(() => c.committed.has(1), 500, 'slot 1 committed')
    expect(c.committed.get(1)).toBe('2000:1')
  })

  it('fills holes with no-ops', () => {
    const c = new PaxosCluster({ n: 3, seed: 'holes' })
    const old = c.electLeader()
    c.deliverAll()
    for (let seq = 1; seq <= 3; seq++) c.propose(old, request(1000, seq))
    expect(c.dropWhere((_f, _t, m) => m.type === 'Accept' && m.slot === 2)).toBe(2)
    c.deliverAll()
    expect([...c.chosen.keys()].sort()).toEqual([1, 3])
    c.crash(old)
    c.electLeader()
    c.runUntil(() => c.committed.size >= 3, 500, 'slots 1..3 committed')
    expect(c.committed.get(1)).toBe('1000:1')
    expect(c.committed.get(2)).toBe('') // the no-op: nobody in the new quorum accepted anything there
    expect(c.committed.get(3)).toBe('1000:3')
  })
})

describe('acceptor durability', () => {
  it('persists the promise and each acceptance in the same Ready as the reply, and keeps them across a restart', () => {
    const c = new PaxosCluster({ n: 3, seed: 'durable' })
    const r0 = c.replica(0)
    r0.receive(1, { type: 'Prepare', ballot: { round: 5, id: 1 }, fromSlot: 1 })
    let ready = r0.ready()
    expect(ready.messages.map(m => m.message.type)).toEqual(['Promise'])
    expect(ready.persist.map(p => p.kind)).toEqual(['put'])
    // Play the host: these writes are synced before the Promise leaves.
    c.persist(0, ready.persist)
    const value = [request(1000, 1)]
    r0.receive(1, { type: 'Accept', ballot: { round: 5, id: 1 }, slot: 1, value, commitIndex: 0 })
    ready = r0.ready()
    expect(ready.messages.map(m => m.message.type)).toEqual(['Accepted'])
    expect(ready.persist).toEqual([expect.objectContaining({ kind: 'entry', index: 1 })])
    c.persist(0, ready.persist)
    c.crash(0)
    c.restart(0)
    const again = c.replica(0)
    expect(again.promised).toEqual({ round: 5, id: 1 })
    again.receive(2, { type: 'Prepare', ballot: { round: 4, id: 2 }, fromSlot: 1 })
    again.receive(2, { type: 'Accept', ballot: { round: 4, id: 2 }, slot: 1, value: [request(2000, 1)], commitIndex: 0 })
    again.receive(2, { type: 'Prepare', ballot: { round: 6, id: 2 }, fromSlot: 1 })
    const replies = again.ready().messages.map(m => m.message)
    expect(replies.map(m => m.type)).toEqual(['Nack', 'Nack', 'Promise'])
    const promise = replies[2] as Extract<MultiPaxosMessage, { type: 'Promise' }>
    expect(promise.slots).toHaveLength(1)
    expect(promise.slots[0]).toMatchObject({ slot: 1, ballot: { round: 5, id: 1 }, chosen: false })
    expect(promise.slots[0]!.value[0]!.clientId).toBe(1000)
  })
})

describe('leader election', () => {
  it('resolves dueling proposers thanks to randomized backoff', () => {
    let duels = 0
    for (let seed = 1; seed <= 60; seed++) {
      const c = new PaxosCluster({ n: 5, seed: `duel-${seed}` })
      // Three replicas suspect at once, their Prepares crossing in a shuffled network.
      for (const id of [0, 1, 2]) while (c.replica(id).status().role !== 'candidate') c.tick(id)
      const rng = c.rng.fork('net')
      let ticks = 0
      while (!(c.leaders().length === 1 && c.committed.size > 0)) {
        if (ticks > 1000) throw new Error(`dueling proposers did not resolve within 1000 ticks (seed duel-${seed})`)
        for (let k = 0; k < 6 && c.queue.length > 0; k++) c.deliver(rng.int(c.queue.length))
        if (rng.chance(0.3)) { c.tickAll(); ticks++ }
        const leaders = c.leaders()
        if (leaders.length === 1 && c.queue.length === 0 && c.committed.size === 0) c.propose(leaders[0]!, request(1000, 1))
      }
      if ((c.sentByType.get('Nack') ?? 0) > 0) duels++
    }
    expect(duels).toBeGreaterThan(10)
  })

  it('a replica that suspects the leader takes over with a higher ballot and the old leader steps down', () => {
    const c = new PaxosCluster({ n: 3, seed: 'takeover' })
    const old = c.electLeader()
    const oldEpoch = c.replica(old).status().epoch
    c.group = c.ids.map(id => (id === old ? 1 : 0))
    c.runUntil(() => c.leaders().some(id => id !== old), 200, 'a new leader on the majority side')
    const next = c.leaders().find(id => id !== old)!
    // Cut off from every Phase 2 quorum, the old leader stops claiming to lead.
    c.runUntil(() => c.replica(old).status().role !== 'leader', 100, 'isolated leader steps down')
    expect(c.replica(next).status().epoch).toBeGreaterThan(oldEpoch)
    c.group = c.ids.map(() => 0)
    c.runUntil(() => c.leaders().length === 1 && c.replica(old).status().leader === next, 200, 'old leader follows')
  })
})

describe('leader transfer (TakeOver)', () => {
  it('hands leadership to the target, which runs Phase 1 at once, keeps chosen values, and the old leader follows', () => {
    const c = new PaxosCluster({ n: 3, seed: 'transfer' })
    const old = c.electLeader()
    c.propose(old, request(1000, 1))
    c.runUntil(() => c.committed.has(1), 200, 'slot 1 committed')
    const to = others(c, old)[0]!
    expect(c.replica(old).admin({ kind: 'transfer-leadership', to })).toBeNull()
    // Well before any leader timeout (10 ticks by default, randomized up to 20): no suspicion involved.
    c.runUntil(() => c.leaders().length === 1 && c.leaders()[0] === to && c.replica(old).status().leader === to, 8, 'the target to lead')
    c.propose(to, request(1000, 2))
    c.runUntil(() => c.committed.has(2), 200, 'slot 2 committed by the new leader')
    expect(c.committed.get(1)).toBe('1000:1')
  })

  it('is refused by a follower, for a stranger, and with lease reads; a stale TakeOver is ignored', () => {
    const c = new PaxosCluster({ n: 3, seed: 'transfer-refused' })
    const leader = c.electLeader()
    const [a, b] = others(c, leader)
    expect(c.replica(a!).admin({ kind: 'transfer-leadership', to: b! })).toMatch(/does not lead/)
    expect(c.replica(leader).admin({ kind: 'transfer-leadership', to: 9 })).toMatch(/not a member/)
    expect(c.replica(leader).admin({ kind: 'remove', id: a! })).toMatch(/no remove/)
    const leased = new PaxosCluster({ n: 3, seed: 'transfer-lease', options: { leaseReads: true } })
    const l = leased.electLeader()
    expect(leased.replica(l).admin({ kind: 'transfer-leadership', to: others(leased, l)[0]! })).toMatch(/lease reads/)
    // A TakeOver naming a ballot the receiver does not follow (forged by a non-leader, or from an old leadership).
    const epoch = c.replica(leader).status().epoch
    c.replica(a!).receive(b!, { type: 'TakeOver', ballot: { round: epoch, id: b! } })
    c.tickAll()
    expect(c.replica(a!).status().role).toBe('follower')
    expect(c.leaders()).toEqual([leader])
  })
})

describe('catch-up and compaction', () => {
  it('ships a snapshot to a replica that fell behind the compaction, which then installs it', () => {
    const c = new PaxosCluster({ n: 3, seed: 'lagging', snapshotInterval: 10 })
    const leader = c.electLeader()
    const lagging = others(c, leader)[0]!
    c.group = c.ids.map(id => (id === lagging ? 1 : 0))
    for (let seq = 1; seq <= 60; seq++) {
      c.propose(leader, request(1000, seq))
      c.deliverAll()
    }
    c.tickAll()
    c.deliverAll()
    expect(c.appliedOf(leader)).toBe(60)
    expect(c.appliedOf(lagging)).toBe(0)
    c.group = c.ids.map(() => 0)
    c.runUntil(() => c.appliedOf(lagging) === c.appliedOf(leader), 200, 'lagging replica caught up')
    expect(c.sentByType.get('Snapshot') ?? 0).toBeGreaterThan(0)
    expect(c.replica(lagging).status().logSize).toBeLessThan(10)
  })

  it('keeps memory bounded under sustained load (log size stays below snapshot interval + window)', () => {
    const c = new PaxosCluster({ n: 3, seed: 'bounded', snapshotInterval: 50, options: { window: 8, maxBatchCount: 4 } })
    const leader = c.electLeader()
    let maxLog = 0
    for (let seq = 1; seq <= 3000; seq++) {
      c.propose(leader, request(1000 + (seq % 7), seq))
      if (seq % 5 === 0) { c.deliverAll(); c.tickAll() }
      for (const id of c.ids) maxLog = Math.max(maxLog, c.replica(id).status().logSize)
    }
    c.deliverAll()
    expect(c.appliedOf(leader)).toBeGreaterThan(700) // batched: fewer slots than requests
    expect(maxLog).toBeLessThanOrEqual(50 + 8 + 1)
  })
})

describe('clients', () => {
  it('redirects a request sent to a non-leader, with the leader as hint', () => {
    const c = new PaxosCluster({ n: 3, seed: 'redirect' })
    const leader = c.electLeader()
    const follower = others(c, leader)[0]!
    c.propose(follower, request(1000, 1), 1000)
    expect(c.replies.at(-1)).toMatchObject({ from: follower, to: 1000, reply: { status: 'redirect', leaderHint: leader } })
  })

  it('proposes a retried request again (the host session table applies it once)', () => {
    const c = new PaxosCluster({ n: 3, seed: 'retry' })
    const leader = c.electLeader()
    c.propose(leader, request(1000, 1))
    c.deliverAll()
    c.propose(leader, request(1000, 1))
    c.deliverAll()
    expect([...c.committed.values()].filter(v => v === '1000:1')).toHaveLength(2)
  })

  it('reports role, epoch, leader, commit index and log size', () => {
    const c = new PaxosCluster({ n: 3, seed: 'status' })
    const leader = c.electLeader()
    c.propose(leader, request(1000, 1))
    c.deliverAll()
    const s = c.replica(leader).status()
    expect(s).toEqual({ role: 'leader', epoch: s.epoch, leader, commitIndex: 1, logSize: 1 })
    expect(s.epoch).toBeGreaterThan(0)
    expect(c.replica(others(c, leader)[0]!).status()).toMatchObject({ role: 'follower', leader, epoch: s.epoch })
  })
})
