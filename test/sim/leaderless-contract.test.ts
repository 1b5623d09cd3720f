/**
 * What the simulator gives leaderless protocols (EPaxos, quorum-kv): clients start at the nearest replica, and a fault
 * aimed at `leader` hits the busiest replica. Checked with Raft dressed as leaderless, so the mechanism is tested on
 * its own, apart from any leaderless protocol.
 */
import { describe, expect, it } from 'vitest'
import type { AnyProtocol, ClientContext } from '../../core/protocol.ts'
import { createSimCluster } from '../../net/sim/cluster.ts'
import { THREE_REGION_WAN } from '../../net/sim/latency.ts'
import { createRng } from '../../core/random.ts'
import { runWorkload } from '../../net/sim/workload.ts'
import { raft } from '../../protocols/raft/descriptor.ts'

function spying(base: AnyProtocol, seen: number[]): AnyProtocol {
  return { ...base, createClient: (ctx: ClientContext) => { seen.push(ctx.preferredReplica); return base.createClient(ctx) } }
}

describe('leaderless support in the simulator', () => {
  it('gives each client the replica in its own region, spread over replicas that share a region', () => {
    const seen: number[] = []
    createSimCluster({
      protocol: spying(raft, seen), n: 5, seed: 1, clients: 5,
      network: { regions: THREE_REGION_WAN, replicaRegions: [0, 1, 2, 0, 1], clientRegions: [2, 0, 1, 0, 1] },
    })
    expect(seen).toEqual([2, 0, 1, 3, 4])
  })

  it('without regions, spreads clients over all replicas', () => {
    const seen: number[] = []
    createSimCluster({ protocol: spying(raft, seen), n: 3, seed: 1, clients: 4 })
    expect(seen).toEqual([0, 1, 2, 0])
  })

  it('rejects a client region that does not exist, naming the client', () => {
    expect(() => createSimCluster({
      protocol: raft, n: 3, seed: 1, clients: 2,
      network: { regions: THREE_REGION_WAN, replicaRegions: [0, 1, 2], clientRegions: [0, 5] },
    })).toThrow(/region 5 of client 1/)
  })

  it('aims a fault at "leader" at the busiest replica when the protocol has no leader', () => {
    const cluster = createSimCluster({ protocol: { ...raft, leaderless: true }, n: 3, seed: 3, clients: 3 })
    runWorkload(cluster, { ops: 60, rng: createRng(3) })
    const received = cluster.replicaIds.map(id => cluster.host(id).status().requestsReceived)
    const busiest = received.indexOf(Math.max(...received))
    expect(Math.max(...received)).toBeGreaterThan(0)
    expect(cluster.leader()).toBe(busiest)
    expect(cluster.inject({ kind: 'crash', node: 'leader' })).toBe(`crashed ${busiest}`)
  })
})
