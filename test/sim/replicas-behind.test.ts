/**
 * The end-of-run report of replicas left behind: a replica cut off while the others commit holds an older state and
 * is named, with its applied index; once healed and given time, Raft brings it level and the report is empty.
 */
import { describe, expect, it } from 'vitest'
import { createSimCluster } from '../../net/sim/cluster.ts'
import { describeBehind, runSimulation } from '../../net/sim/run.ts'
import { raft } from '../../protocols/raft/descriptor.ts'
import { encodeKvCommand } from '../../core/kv.ts'

describe('replicas behind at the end of a run', () => {
  it('names a replica cut off while the others commit, and nobody once it has caught up', () => {
    const cluster = createSimCluster({ protocol: raft, n: 3, seed: 4, clients: 1 })
    cluster.sim.run(1000)
    const leader = cluster.leader()
    expect(leader).not.toBeNull()
    const cutOff = [0, 1, 2].find(id => id !== leader)!
    cluster.inject({ kind: 'isolate', node: cutOff })
    let done = 0
    const client = cluster.clients[0]!
    const put = (i: number): void => client.submit(encodeKvCommand({ type: 'put', key: `k${i}`, value: String(i) }), false, 2000,
      () => { done++; if (i < 20) put(i + 1) })
    put(1)
    cluster.sim.run(cluster.sim.now() + 3000)
    expect(done).toBe(20)

    const apart = cluster.replicasBehind()
    expect(apart.replicas).toEqual([cutOff])
    expect(apart.applied[cutOff]).toBeLessThan(apart.applied[leader!]!)
    expect(describeBehind(apart)).toMatch(new RegExp(`^replica ${cutOff} at applied index \\d+, the most advanced at \\d+$`))

    cluster.healAll()
    cluster.sim.run(cluster.sim.now() + 2000)
    const healed = cluster.replicasBehind()
    expect(healed.replicas).toEqual([])
    expect(new Set(Object.values(healed.applied)).size).toBe(1)
    expect(describeBehind(healed)).toBeNull()
  })

  it('is part of every single-cluster simulation report', () => {
    const report = runSimulation({ protocol: raft, n: 5, seed: 2, ops: 200, clients: 4, faults: 'nemesis' })
    expect(report.behind).not.toBeNull()
    expect(Object.keys(report.behind!.applied).length).toBeGreaterThan(0)
    // Raft's leader brings every healed follower level within the settle period.
    expect(report.behind!.replicas).toEqual([])
  })
})
