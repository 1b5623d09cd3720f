/**
 * EPaxos by paper section (Moraru, Park, Andersen, Kaminsky, SOSP 2013; recovery as corrected, see
 * protocols/epaxos/README.md): the fast path and the slow path of §4.3 (Figure 2), explicit prepare of §4.5 for a
 * crashed command leader's instance in each state it can be left in, and execution by strongly connected components
 * (§4.3.2), on the shared replica test network (which also checks, after every step, that interfering commands are
 * executed in the same order on every replica).
 */
import { describe, expect, it } from 'vitest'
import { epaxosFastQuorum, majority } from '../../core/quorum.ts'
import { planExecution } from '../../protocols/epaxos/execution.ts'
import { newInstance, type Instance } from '../../protocols/epaxos/instance.ts'
import { fastPathMessages, slowPathMessages } from '../../protocols/epaxos/descriptor.ts'
import { decideRecovery } from '../../protocols/epaxos/recovery.ts'
import { dropTypes, epaxosNetwork, executedAt, inFlightOfType, instanceAt, put } from './fixtures.ts'

/** Ticks enough for any replica's recovery timer (recoveryTicks plus its random extra, defaults) to fire. */
const RECOVERY_WAIT = 80

describe('§4.3 Phase 1: the fast path', () => {
  it('commits a command without conflicts after one round trip with the fast quorum, then broadcasts Commit', () => {
    for (const n of [3, 5, 7]) {
      const net = epaxosNetwork(n, `fast-${n}`)
      const sent = net.sentByType
      net.propose(0, put(1000, 1, 'a', 'x'))
      net.deliverAll()
      for (let id = 0; id < n; id++) {
        const inst = instanceAt(net, id, 0, 1)!
        expect(inst.status, `replica ${id}`).toBe('committed')
        expect(inst.deps.every(d => d === 0)).toBe(true)
        expect(executedAt(net, id)).toEqual(['1000:1'])
      }
      expect(Object.fromEntries(sent), `n=${n}`).toEqual(fastPathMessages(n))
      expect(sent.get('PreAccept')).toBe(epaxosFastQuorum(n) - 1)
    }
  })

  it('a later interfering command from another replica depends on the earlier one and still takes the fast path', () => {
    const net = epaxosNetwork(5, 'fast-dep')
    net.propose(0, put(1000, 1, 'a', 'x'))
    net.deliverAll()
    net.propose(3, put(1001, 1, 'a', 'y'))
    expect(inFlightOfType(net, 'PreAccept')).toBe(epaxosFastQuorum(5) - 1)
    net.deliverAll()
    const later = instanceAt(net, 1, 3, 1)!
    expect(later.status).toBe('committed')
    expect(later.deps[0]).toBe(1)
    expect(later.seq).toBe(2)
    for (let id = 0; id < 5; id++) expect(executedAt(net, id)).toEqual(['1000:1', '1001:1'])
  })
})

describe('§4.3 Phase 2: the slow path', () => {
  it('goes through Paxos-Accept with the union of the attributes when a fast-quorum member saw a conflict', () => {
    const n = 5
    const net = epaxosNetwork(n, 'slow')
    const sent = net.sentByType
    // Replica 2 pre-accepts a command on key a from replica 4 that replica 0 never hears of before it proposes.
    net.propose(4, put(1001, 1, 'a', 'y'))
    net.dropWhere((_f, to, m) => m.type === 'PreAccept' && to !== 2)
    net.deliverAt(0) // PreAccept 4.1 -> 2
    dropTypes(net, ['PreAcceptOK'])
    sent.clear()
    net.propose(0, put(1000, 1, 'a', 'x'))
    net.deliverAll()
    const inst = instanceAt(net, 0, 0, 1)!
    expect(inst.status).toBe('committed')
    expect(inst.deps[4]).toBe(1) // learned from replica 2's reply
    expect(sent.get('Accept')).toBe(majority(n) - 1)
    expect(sent.get('AcceptOK')).toBe(majority(n) - 1)
    const slow = slowPathMessages(n)
    for (const type of ['PreAccept', 'PreAcceptOK', 'Accept', 'AcceptOK', 'Commit']) expect(sent.get(type), type).toBe(slow[type])
  })

  it('two concurrent interfering commands that see each other form a cycle, executed by seq then replica everywhere', () => {
    const net = epaxosNetwork(3, 'cycle', { thrifty: false })
    net.propose(0, put(1000, 1, 'a', 'x'))
    net.propose(1, put(1001, 1, 'a', 'y'))
    // Both PreAccepts reach the other leader after it proposed its own: each reply adds the other command.
    net.deliverAll()
    const a = instanceAt(net, 2, 0, 1)!
    const b = instanceAt(net, 2, 1, 1)!
    expect(a.status).toBe('committed')
    expect(b.status).toBe('committed')
    expect(a.deps[1]).toBe(1)
    expect(b.deps[0]).toBe(1)
    // One component: lower seq first, ties by replica (0 before 1).
    const first = a.seq <= b.seq ? '1000:1' : '1001:1'
    const second = first === '1000:1' ? '1001:1' : '1000:1'
    for (let id = 0; id < 3; id++) expect(executedAt(net, id)).toEqual([first, second])
  })
})

describe('§4.3.2 execution: strongly connected components', () => {
  const graphOf = (instances: Instance[]) => ({
    n: 3, get: (p: number, num: number) => instances.find(i => i.replica === p && i.num === num), executedUpTo: () => 0,
  })
  const committed = (replica: number, num: number, seq: number, deps: number[], keys: string[]): Instance => {
    const inst = newInstance(replica, num, 3)
    inst.status = 'committed'
    inst.seq = seq
    inst.deps = deps
    inst.keys = keys
    inst.requests = [put(1000 + replica, num, keys[0]!, 'v')]
    return inst
  }

  it('runs dependencies first, a cycle in seq order, and the rest after', () => {
    const x = committed(0, 1, 1, [0, 0, 0], ['k:a'])             // no deps
    const y = committed(1, 1, 3, [1, 0, 1], ['k:a'])             // y <-> z cycle, both after x
    const z = committed(2, 1, 2, [1, 1, 0], ['k:a'])
    const w = committed(0, 2, 4, [1, 1, 1], ['k:a'])             // after the cycle
    const plan = planExecution(w, graphOf([x, y, z, w]))
    expect(plan.blockedOn).toBeNull()
    expect(plan.components.map(c => c.map(i => `${i.replica}.${i.num}`))).toEqual([['0.1'], ['2.1', '1.1'], ['0.2']])
  })

  it('waits for an uncommitted dependency, but passes over one whose known command does not interfere', () => {
    const x = committed(0, 1, 1, [0, 0, 0], ['k:a'])
    const pending = newInstance(1, 1, 3)
    pending.status = 'preaccepted'
    pending.keys = ['k:b']
    pending.requests = [put(1001, 1, 'b', 'v')]
    const w = committed(0, 2, 2, [1, 1, 0], ['k:a'])
    expect(planExecution(w, graphOf([x, pending, w])).components.flat().map(i => i.num)).toEqual([1, 2])
    pending.keys = ['k:a']
    const blocked = planExecution(w, graphOf([x, pending, w]))
    expect(blocked.blockedOn).toEqual({ position: 1, num: 1 })
    expect(blocked.components.flat()).toEqual([])
  })
})

describe('§4.5 explicit prepare: recovering a crashed command leader\'s instance', () => {
  it('none: nobody received it -> a waiting replica recovers it as a no-op and executes what depended on it', () => {
    const net = epaxosNetwork(3, 'none')
    net.propose(0, put(1000, 1, 'a', 'lost'))
    dropTypes(net, ['PreAccept'])
    net.propose(0, put(1001, 1, 'a', 'kept')) // 0.2 depends on 0.1
    net.deliverAll()
    net.crash(0)
    expect(instanceAt(net, 1, 0, 2)!.status).toBe('committed')
    expect(instanceAt(net, 1, 0, 2)!.deps[0]).toBe(1)
    expect(executedAt(net, 1)).toEqual([])
    net.run(RECOVERY_WAIT)
    for (const id of [1, 2]) {
      const lost = instanceAt(net, id, 0, 1)!
      expect(lost.status).toBe('committed')
      expect(lost.requests).toEqual([])
      expect(executedAt(net, id)).toEqual(['1001:1'])
    }
  })

  it('pre-accepted: a replica holding its unchanged pre-accept commits the command with the leader\'s attributes', () => {
    const net = epaxosNetwork(3, 'preaccepted')
    net.propose(0, put(1000, 1, 'a', 'x'))
    net.deliverAt(0) // PreAccept -> 1 (the one other member of the fast quorum)
    dropTypes(net, ['PreAcceptOK'])
    net.crash(0)
    expect(instanceAt(net, 1, 0, 1)!.status).toBe('preaccepted')
    net.run(RECOVERY_WAIT)
    for (const id of [1, 2]) {
      const inst = instanceAt(net, id, 0, 1)!
      expect(inst.status).toBe('committed')
      expect(inst.requests.map(r => r.clientId)).toEqual([1000])
      expect(executedAt(net, id)).toEqual(['1000:1'])
    }
  })

  it('pre-accepted with changed attributes: phase 1 runs again at the new ballot and commits the command', () => {
    const net = epaxosNetwork(5, 'preaccepted-changed')
    net.propose(4, put(1001, 1, 'a', 'first'))
    net.deliverAll()
    // 0 has not heard of 4.1 when it proposes; its PreAccept reaches only replica 1, which knows 4.1: changed.
    const lateTo0 = net.replica(0).instance(4, 1)
    expect(lateTo0?.status).toBe('committed')
    net.crash(4)
    net.propose(0, put(1000, 1, 'a', 'second'))
    net.dropWhere((_f, to, m) => m.type === 'PreAccept' && to !== 1)
    net.deliverAt(0)
    dropTypes(net, ['PreAcceptOK'])
    net.crash(0)
    net.run(RECOVERY_WAIT)
    for (const id of [1, 2, 3]) {
      const inst = instanceAt(net, id, 0, 1)!
      expect(inst.status).toBe('committed')
      expect(inst.requests.map(r => r.clientId)).toEqual([1000])
      expect(inst.deps[4]).toBe(1)
      expect(executedAt(net, id)).toEqual(['1001:1', '1000:1'])
    }
  })

  it('accepted: the attributes accepted on the slow path are the ones recovery commits', () => {
    const net = epaxosNetwork(3, 'accepted-2')
    net.propose(1, put(1001, 1, 'a', 'y'))
    net.dropWhere((_f, to, m) => m.type === 'PreAccept' && to !== 2) // 1.1 reaches 2 only...
    net.deliverAt(0)
    dropTypes(net, ['PreAcceptOK'])
    net.propose(0, put(1000, 1, 'a', 'x')) // ...so 0's PreAccept to 1 comes back changed (1 holds 1.1)
    net.deliverAll(2) // PreAccept 0.1 -> 1, PreAcceptOK -> 0 (changed): 0 sends Accept
    expect(inFlightOfType(net, 'Accept')).toBe(1)
    net.deliverAll(1) // Accept -> 1
    dropTypes(net, ['AcceptOK'])
    net.crash(0)
    const accepted = instanceAt(net, 1, 0, 1)!
    expect(accepted.status).toBe('accepted')
    const deps = accepted.deps.slice()
    net.run(RECOVERY_WAIT)
    for (const id of [1, 2]) {
      const inst = instanceAt(net, id, 0, 1)!
      expect(inst.status).toBe('committed')
      expect(inst.deps).toEqual(deps)
      expect(inst.requests.map(r => r.clientId)).toEqual([1000])
    }
  })

  it('committed: the Commit reached one replica before the leader crashed; the others learn it from that one', () => {
    const net = epaxosNetwork(3, 'committed')
    net.propose(0, put(1000, 1, 'a', 'x'))
    net.deliverAll(2) // PreAccept -> 1, PreAcceptOK -> 0: fast commit, Commit to 1 and 2 in flight
    net.dropWhere((_f, to, m) => m.type === 'Commit' && to === 2)
    net.deliverAll()
    net.crash(0)
    const committed = instanceAt(net, 1, 0, 1)!
    expect(committed.status).toBe('committed')
    expect(instanceAt(net, 2, 0, 1)?.status ?? 'none').not.toBe('committed')
    // 2 hears of the instance through a later command that depends on it.
    net.propose(1, put(1001, 1, 'a', 'y'))
    net.dropWhere((_f, to, m) => m.type === 'Commit' && m.replica === 0)
    net.deliverAll()
    net.run(RECOVERY_WAIT)
    const inst = instanceAt(net, 2, 0, 1)!
    expect(inst.status).toBe('committed')
    expect(inst.deps).toEqual(committed.deps)
    expect(executedAt(net, 2)).toEqual(['1000:1', '1001:1'])
  })

  it('the decision rules, from the replies alone', () => {
    const reply = (from: number, status: 'none' | 'preaccepted' | 'accepted' | 'committed', vballot: number, unchanged: boolean, seq: number) => ({
      from, status, vballot, unchanged, requests: status === 'none' ? [] : [put(1000, 1, 'a', 'x')], seq, deps: [0, 0, 0, 0, 0],
    })
    const t = 2 // n = 5
    expect(decideRecovery([reply(1, 'committed', 0, false, 3), reply(2, 'accepted', 9, false, 4)], 0, t, 5).kind).toBe('commit')
    // Highest vballot among accepted replies wins (Sutra: the promise does not count).
    const accepted = decideRecovery([reply(1, 'accepted', 6, false, 3), reply(2, 'accepted', 11, false, 4), reply(3, 'none', 0, false, 0)], 0, t, 5)
    expect(accepted).toMatchObject({ kind: 'accept', rule: 'accepted', seq: 4 })
    expect(decideRecovery([reply(1, 'preaccepted', 0, true, 2), reply(2, 'preaccepted', 0, true, 2), reply(3, 'none', 0, false, 0)], 0, t, 5))
      .toMatchObject({ kind: 'accept', rule: 'fast-path-possible', seq: 2 })
    // The leader's own pre-accept is not one of the threshold; changed or later-ballot pre-accepts are not either.
    expect(decideRecovery([reply(0, 'preaccepted', 0, true, 2), reply(2, 'preaccepted', 0, true, 2), reply(3, 'preaccepted', 0, false, 3)], 0, t, 5).kind).toBe('preaccept')
    expect(decideRecovery([reply(1, 'preaccepted', 5, false, 2), reply(2, 'preaccepted', 0, true, 2), reply(3, 'none', 0, false, 0)], 0, t, 5).kind).toBe('preaccept')
    expect(decideRecovery([reply(1, 'none', 0, false, 0), reply(2, 'none', 0, false, 0), reply(3, 'none', 0, false, 0)], 0, t, 5))
      .toMatchObject({ kind: 'accept', rule: 'no-op', requests: [] })
  })
})
