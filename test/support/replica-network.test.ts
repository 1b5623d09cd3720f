/** The shared replica network itself, on every replicated protocol: commit, faults with invariants, crash/restart. */
import { describe, expect, it } from 'vitest'
import type { AnyProtocol } from '../../core/protocol.ts'
import { multipaxos } from '../../protocols/multipaxos/descriptor.ts'
import { pbft } from '../../protocols/pbft/descriptor.ts'
import { raft } from '../../protocols/raft/descriptor.ts'
import type { RaftMessage } from '../../protocols/raft/messages.ts'
import type { RaftReplica } from '../../protocols/raft/replica.ts'
import { RaftInvariants } from '../raft/invariants.ts'
import { FIRST_CLIENT_ID, InvariantViolation, ReplicaNetwork, textRequest, withReplay } from './replica-network.ts'

const PROTOCOLS: ReadonlyArray<[string, AnyProtocol, number]> = [['raft', raft, 3], ['multipaxos', multipaxos, 3], ['pbft', pbft, 4]]

describe.each(PROTOCOLS)('the replica network on %s', (_name, protocol, n) => {
  it('commits client commands fault-free: every replica applies the same history and state', () => {
    const net = new ReplicaNetwork({ protocol, n, seed: 1, clients: 1, workload: false })
    for (let i = 0; i < 5; i++) {
      expect(net.commitKv(FIRST_CLIENT_ID, { type: 'put', key: `k${i}`, value: `v${i}` })).toEqual({ type: 'ok' })
    }
    expect(net.commitKv(FIRST_CLIENT_ID, { type: 'get', key: 'k3' })).toEqual({ type: 'value', value: 'v3' })
    net.workloadOn = false
    net.run(50)
    const applied = net.appliedOf(0)
    expect(applied).toBeGreaterThanOrEqual(5)
    for (const id of net.ids) {
      expect(net.appliedOf(id)).toBe(applied)
      expect(net.historyOf(id)).toEqual(net.historyOf(0))
      expect(net.stateOf(id)).toEqual(net.stateOf(0))
    }
    expect(net.violations).toEqual([])
    expect([...net.sentByType.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
  })

  it('stays safe and live under seeded loss, duplication and reordering, with crashes and restarts', () => {
    for (const seed of [1, 2, 3]) {
      const net = new ReplicaNetwork({
        protocol, n, seed, clients: 2, faults: { loss: 0.05, duplicate: 0.05, jitter: 3 },
        snapshotInterval: protocol.requiredSnapshotInterval === undefined ? 8 : undefined,
        replay: `npx vitest run test/support/replica-network.test.ts -t "${protocol.name}"`,
      })
      let steps = 0
      net.onStep(() => { steps++ })
      withReplay(net.replayLine(), () => {
        for (let t = 0; t < 600; t++) {
          if (t % 150 === 50) net.crash(t % n)
          if (t % 150 === 100) net.restart((t - 50) % n)
          net.step()
        }
        net.faults = {}
        const before = net.completedRequests
        expect(net.stepUntil(() => net.completedRequests >= before + 4, 2000)).toBe(true)
      })
      expect(steps).toBeGreaterThan(600)
      expect(net.completedRequests).toBeGreaterThan(4)
      // Applied prefixes agree: the built-in check compared every apply; the histories show it too.
      const longest = Math.max(...net.ids.map(id => net.appliedOf(id)))
      for (const id of net.ids) {
        const h = net.historyOf(id)
        expect(h).toEqual(net.historyOf(net.ids.find(x => net.appliedOf(x) === longest)!).slice(0, h.length))
      }
    }
  })

  it('a crashed replica comes back from its durable state and catches up', () => {
    const net = new ReplicaNetwork({ protocol, n, seed: 7, clients: 1 })
    net.run(100)
    net.crash(1)
    const whileDown = net.completedRequests
    net.run(150)
    expect(net.completedRequests).toBeGreaterThan(whileDown)
    const d = net.durable(1)
    expect(d.hard.size + d.log.length + (d.snapshot === null ? 0 : 1)).toBeGreaterThan(0)
    net.restart(1)
    // PBFT catches a backup up by state transfer at the next checkpoint: keep the workload on for a while.
    net.run(300)
    net.workloadOn = false
    net.run(100)
    expect(net.appliedOf(1)).toBeGreaterThan(0)
    expect(net.appliedOf(1)).toBe(net.appliedOf(0))
    expect(net.stateOf(1)).toEqual(net.stateOf(0))
  })
})

describe('the replica network', () => {
  it('reports a safety violation with the replay line, and interceptors can rewrite traffic', () => {
    const net = new ReplicaNetwork({ protocol: raft, n: 3, seed: 4, replay: 'rerun me' })
    net.runUntil(() => net.up.some(x => x.replica!.status().role === 'leader'))
    const leader = net.up.find(x => x.replica!.status().role === 'leader')!.id
    // Corrupt what followers receive: a follower applies a command the leader never proposed.
    net.intercept(m => {
      if (m.kind !== 'protocol' || (m.message as { type: string }).type !== 'AppendEntries') return undefined
      const ae = m.message as { entries: Array<{ type: string; request?: unknown }> }
      const entries = ae.entries.map(e => e.type === 'command' ? { ...e, request: textRequest(1000, 2, 'forged') } : e)
      return m.to === (leader + 1) % 3 ? { ...m, message: { ...ae, entries } as never } : undefined
    })
    net.propose(leader, textRequest(1000, 1, 'real'))
    let error: unknown
    try { net.runUntil(() => false, 20) } catch (e) { error = e }
    expect(error).toBeInstanceOf(InvariantViolation)
    expect(String(error)).toMatch(/state machine safety/)
    expect(String(error)).toMatch(/replay: seed=4 protocol=raft n=3 .* :: rerun me/)
  })

  it('partitions and filters: a minority makes no progress, healing restores it', () => {
    const net = new ReplicaNetwork({ protocol: raft, n: 5, seed: 2, clients: 1, workload: false })
    net.run(60)
    net.partition([0, 1], [2, 3, 4, FIRST_CLIENT_ID])
    expect(net.commitKv(FIRST_CLIENT_ID, { type: 'put', key: 'a', value: '1' }, 2000)).toEqual({ type: 'ok' })
    const minority = Math.max(net.appliedOf(0), net.appliedOf(1))
    expect(minority).toBeLessThan(net.appliedOf(2))
    net.heal()
    net.run(100)
    expect(net.appliedOf(0)).toBe(net.appliedOf(2))
  })

  it('Byzantine replicas by strategy name are excluded from the checks, and clients still get correct answers', () => {
    const net = new ReplicaNetwork({ protocol: pbft, n: 4, seed: 3, clients: 2, byzantine: new Map([[3, 'equivocate']]) })
    net.run(300)
    expect(net.isHonest(3)).toBe(false)
    expect(net.completedRequests).toBeGreaterThan(10)
    expect(net.violations).toEqual([])
  })

  it('refuses a snapshot interval the protocol forbids unless told to ignore it', () => {
    expect(() => new ReplicaNetwork({ protocol: pbft, n: 4, options: { checkpointInterval: 4 }, snapshotInterval: 3 })).toThrow(/snapshot every 4/)
    expect(new ReplicaNetwork({ protocol: pbft, n: 4, options: { checkpointInterval: 4 } }).snapshotInterval).toBe(4)
  })

  it('runs a protocol\'s own invariants after every step (Raft: election safety, log matching...)', () => {
    const net = new ReplicaNetwork<RaftMessage, RaftReplica>({
      protocol: raft, n: 5, seed: 11, clients: 2, snapshotInterval: 10, faults: { loss: 0.05, duplicate: 0.05, jitter: 4 },
    })
    const inv = RaftInvariants.watch(net)
    for (let t = 0; t < 800; t++) {
      if (t === 200) net.partition([0, 1], [2, 3, 4, FIRST_CLIENT_ID, FIRST_CLIENT_ID + 1])
      if (t === 400) net.heal()
      net.step()
    }
    expect(inv.checks).toBeGreaterThanOrEqual(800)
    expect(inv.maxCommitted).toBeGreaterThan(20)
    // Typed access to the protocol's replica.
    expect(net.up.filter(x => net.replica(x.id).role === 'leader').length).toBeGreaterThan(0)
  })

  it('the same seed gives the same run', () => {
    const trace = (): string => {
      const net = new ReplicaNetwork({ protocol: multipaxos, n: 3, seed: 9, clients: 2, faults: { loss: 0.1, jitter: 2 } })
      net.run(300)
      return JSON.stringify([[...net.sentByType], [...net.committed], net.now, net.completedRequests])
    }
    expect(trace()).toBe(trace())
  })
})
