/**
 * A sharded key-value store on each protocol (issue 14's tests): commands are routed by key to their range's group,
 * a node's crash restarts all its groups from its one shared log with no acknowledged write lost, histories across
 * groups under random faults are linearizable and live, leaders spread over the nodes, coalesced heartbeats still
 * detect a dead leader, and the same seed gives the same trace.
 */
import { describe, expect, it } from 'vitest'
import type { ClientOutcome } from '../../core/client-host.ts'
import { evenRanges } from '../../core/groups/range-map.ts'
import { decodeKvResult, encodeKvCommand, type KvStore } from '../../core/kv.ts'
import { kvKeySpace } from '../../core/kv-workload.ts'
import { createSimGroupCluster, type SimGroupClusterOptions } from '../../net/sim/group-cluster.ts'
import { replayCommand, runSimulation } from '../../net/sim/run.ts'
import { runWorkload } from '../../net/sim/workload.ts'
import { createRng } from '../../core/random.ts'
import { protocols } from '../../protocols/index.ts'
import { expectLinearizable } from '../support/simulation.ts'

const keys = kvKeySpace({ keys: 48 })
const protocol = (name: string) => protocols.get(name)!
const nodesFor = (name: string) => protocol(name).faultModel === 'byzantine' ? 4 : 3

function cluster(name: string, o: Partial<SimGroupClusterOptions> & { groups?: number } = {}) {
  return createSimGroupCluster({ protocol: protocol(name), nodes: nodesFor(name), ranges: evenRanges(keys, o.groups ?? 6), seed: 1, clients: 4, ...o })
}

describe('routing by key', () => {
  for (const name of ['raft', 'multipaxos', 'pbft', 'epaxos']) {
    it(`${name}: every key is stored by its range's group only, on every replica of that group`, () => {
      const c = cluster(name)
      const result = runWorkload(c, { ops: 300, keys: 48, readRatio: 0.2, casRatio: 0, deleteRatio: 0, rng: createRng(1).fork('w') })
      expect(result.finished).toBe(true)
      c.sim.run(c.sim.now() + 1000)
      let stored = 0
      for (const id of c.nodeIds) {
        for (const [group, host] of c.node(id).hosts) {
          const kv = host.stateMachine.inner as KvStore
          for (const key of keys) {
            if (kv.get(key) === undefined) continue
            stored++
            expect(c.ranges.groupOf(key), `key ${key} in group ${group} on node ${id}`).toBe(group)
          }
        }
      }
      expect(stored).toBeGreaterThan(48) // most keys were written, each on several replicas
    })
  }
})

describe('crash recovery from one shared log', () => {
  for (const name of ['raft', 'multipaxos', 'epaxos']) {
    it(`${name}: every node loses power at once; all groups restart from the shared logs and keep every acknowledged write`, () => {
      const c = cluster(name, { fsyncMs: 2, groups: 8 })
      const acked = new Map<string, string>()
      const inFlight = new Map<string, Set<string>>()
      let n = 0
      // One writer per key (client i writes keys i, i+4, ...), one put at a time: the last acknowledged value of a
      // key, or one put after it that was never answered, is what a read must return after the outage.
      const write = (client: number): void => {
        if (c.sim.now() > 1500) return
        const key = keys[(client + 4 * (n++ % 12)) % keys.length]!
        const value = `v${client}-${n}`
        ;(inFlight.get(key) ?? inFlight.set(key, new Set()).get(key)!).add(value)
        c.clients[client]!.submit(encodeKvCommand({ type: 'put', key, value }), false, 400, (outcome: ClientOutcome) => {
          if (outcome.status === 'ok') { acked.set(key, value); inFlight.get(key)!.clear() }
          c.sim.setTimer(0, () => write(client))
        })
      }
      for (let i = 0; i < 4; i++) write(i)
      c.sim.at(1000, () => { c.inject({ kind: 'crash-all' }) })
      c.sim.at(1300, () => { c.inject({ kind: 'restart-all' }) })
      c.sim.run(2500)
      expect(acked.size).toBeGreaterThan(10)
      expect(c.upNodes).toEqual(c.nodeIds)
      const reads = new Map<string, string | null>()
      for (const key of acked.keys()) {
        c.clients[0]!.submit(encodeKvCommand({ type: 'get', key }), true, 5000, outcome => {
          const r = outcome.status === 'ok' ? decodeKvResult(outcome.result) : null
          reads.set(key, r !== null && r.type === 'value' ? r.value : null)
        })
      }
      c.sim.runUntil(() => reads.size === acked.size, 10_000)
      for (const [key, value] of acked) {
        const got = reads.get(key)
        expect(got === value || inFlight.get(key)!.has(got ?? ''), `key ${key}: acknowledged ${value}, read ${got}`).toBe(true)
      }
      expect(c.safetyViolations).toEqual([])
      // One fsync of a node's log covered many groups' syncs.
      const groupSyncs = c.nodeIds.reduce((sum, id) => sum + c.storage(id).groups().reduce((s, g) => s + c.storage(id).group(g).syncs, 0), 0)
      expect(c.fsyncs).toBeLessThan(groupSyncs)
    })
  }
})

describe('histories across groups under random faults', () => {
  const cases: Array<[string, number]> = [['raft', 3], ['raft', 5], ['multipaxos', 3], ['multipaxos', 5], ['pbft', 4], ['hotstuff', 4], ['epaxos', 3]]
  for (const [name, n] of cases) {
    it(`${name}, ${n} nodes x 6 groups: linearizable and live after the final heal (nemesis, 3 seeds)`, () => {
      for (const seed of [1, 2, 3]) {
        expectLinearizable({
          protocol: protocol(name), n, seed, ops: 400, clients: 6, faults: 'nemesis', faultWindowMs: 5000,
          fsyncMs: 1, workload: { keys: 24 }, groups: { count: 6 },
          // Frequent snapshots (compaction, snapshot transfer per group) where the host chooses.
          ...(protocol(name).requiredSnapshotInterval === undefined ? { snapshotInterval: 40 } : {}),
        })
      }
    })
  }

  it('the same seed gives the same trace; coalescing off changes the wire but not the verdict', () => {
    const o = { protocol: protocol('raft'), n: 3, seed: 9, ops: 200, clients: 4, faults: 'random', faultWindowMs: 2000, workload: { keys: 16 }, groups: { count: 4 } }
    const a = runSimulation(o)
    const b = runSimulation(o)
    expect(a.traceHash).toBe(b.traceHash)
    expect(a.traceEvents).toBeGreaterThan(0)
    const solo = expectLinearizable({ ...o, groups: { count: 4, coalesce: false } })
    expect(solo.traceEvents).toBeGreaterThan(a.traceEvents)
    expect(replayCommand({ ...o, groups: { count: 4, coalesce: false } })).toContain('--groups 4 --no-coalesce')
  })

  it('refuses what multi-group runs do not support, saying so', () => {
    expect(() => runSimulation({ protocol: protocol('pbft'), n: 4, seed: 1, ops: 10, clients: 1, byzantine: ['silent'], groups: { count: 2 }, workload: { keys: 8 } }))
      .toThrow(/groups: multi-group runs do not support Byzantine replicas yet/)
    expect(() => runSimulation({ protocol: protocol('raft'), n: 3, seed: 1, ops: 10, clients: 1, groups: { count: 9 }, workload: { keys: 8 } }))
      .toThrow(/9 groups need at least as many distinct keys/)
  })
})

describe('leaders', () => {
  for (const name of ['raft', 'multipaxos']) {
    it(`${name}: leaderships move to their preferred nodes, so every node leads its share`, () => {
      const c = cluster(name, { groups: 12, clients: 0 })
      c.sim.run(6000)
      const leaders = c.groupLeaders()
      for (const p of c.placements) expect(leaders.get(p.group), `group ${p.group}`).toBe(p.preferredLeader)
      expect(c.nodeIds.map(id => c.node(id).leading().length)).toEqual([4, 4, 4])
      // Without balancing, elections alone decide (and need not spread them).
      const unbalanced = cluster(name, { groups: 12, clients: 0, balanceLeaders: false })
      unbalanced.sim.run(6000)
      expect(unbalanced.nodeIds.reduce((s, id) => s + unbalanced.node(id).transfersAsked, 0)).toBe(0)
    })

    it(`${name}: coalesced heartbeats cost fewer wire frames than messages, and still detect a dead leader`, () => {
      const c = cluster(name, { groups: 12, clients: 0 })
      c.sim.run(6000)
      const before = { wire: c.replicaStats().total('protocol').messages, messages: c.groupStats().total('protocol').messages }
      c.sim.run(8000)
      const idleWire = c.replicaStats().total('protocol').messages - before.wire
      const idleMessages = c.groupStats().total('protocol').messages - before.messages
      // 12 groups' heartbeats between 3 nodes, 4 led by each: up to 4 group frames per wire frame (fewer where
      // groups' heartbeat timers fell out of phase after a leader transfer).
      expect(idleMessages).toBeGreaterThan(2 * idleWire)
      const victim = 0
      c.crash(victim)
      const crashedAt = c.sim.now()
      c.sim.runUntil(() => [...c.groupLeaders().values()].every(l => l !== null && l !== victim), 5000)
      const leaders = c.groupLeaders()
      expect([...leaders.values()].every(l => l !== null && l !== victim), `leaders ${[...leaders]}`).toBe(true)
      expect(c.sim.now() - crashedAt).toBeLessThan(5000)
    })
  }
})
