/**
 * Raft in the deterministic simulator with the real host, storage with modelled fsync, the shared LeaderClient and
 * the linearizability checker: crashes, partitions (including a leader isolated with a minority), message loss, and
 * membership changes during faults. Each failure message carries the replay command.
 */
import { describe, expect, it } from 'vitest'
import { createSimCluster, type SimCluster } from '../../net/sim/cluster.ts'
import { replayCommand } from '../../net/sim/run.ts'
import type { SimulationOptions } from '../../net/sim/run.ts'
import { raft } from '../../protocols/raft/descriptor.ts'
import type { RaftReplica } from '../../protocols/raft/replica.ts'
import { expectLinearizable } from '../support/simulation.ts'

describe('raft in the simulator', () => {
  it('steady state costs exactly 2(n-1) replication messages per command at batch size 1', () => {
    for (const n of [3, 5]) {
      const report = expectLinearizable({ protocol: raft, n, seed: 11, ops: 300, clients: 1, workload: { readRatio: 0 } })
      const ae = report.protocolMessages.AppendEntries?.messages ?? 0
      const aer = report.protocolMessages.AppendEntriesResponse?.messages ?? 0
      // One client, one request outstanding, no reads: each command (a failed compare-and-set is still a committed
      // command) is one AppendEntries round; the election's no-op and a few probes are the only extra ones.
      const perCommand = (ae + aer) / (report.ops.ok + report.ops.fail)
      expect(perCommand).toBeGreaterThanOrEqual(2 * (n - 1))
      expect(perCommand).toBeLessThan(2 * (n - 1) * 1.05)
    }
  })

  it('batches under load: far fewer AppendEntries than commands', () => {
    const report = expectLinearizable({ protocol: raft, n: 3, seed: 12, ops: 2000, clients: 50, workload: { readRatio: 0 } })
    const aePerFollower = (report.protocolMessages.AppendEntries?.messages ?? 0) / 2
    expect(aePerFollower).toBeLessThan((report.ops.ok + report.ops.fail) / 3)
  })

  it('stays linearizable under random crashes, partitions, loss, duplication and reordering', () => {
    for (const n of [3, 5]) {
      for (const seed of [1, 2, 3]) {
        expectLinearizable({ protocol: raft, n, seed, ops: 800, clients: 6, faults: 'random', snapshotInterval: 50, fsyncMs: 1 })
      }
    }
  })

  it('a leader isolated with a minority steps down and the majority side elects a new leader', () => {
    const cluster = createSimCluster({ protocol: raft, n: 5, seed: 21 })
    cluster.sim.run(2000)
    const old = cluster.leader()
    expect(old).not.toBeNull()
    const minority = [old!, (old! + 1) % 5]
    const majority = [0, 1, 2, 3, 4].filter(id => !minority.includes(id))
    cluster.inject({ kind: 'partition', groups: [minority, majority] })
    cluster.sim.run(cluster.sim.now() + 2000)
    const oldReplica = cluster.replica<RaftReplica>(old!)
    expect(oldReplica.role).not.toBe('leader') // check-quorum
    const leaders = majority.filter(id => cluster.replica<RaftReplica>(id).role === 'leader')
    expect(leaders.length).toBe(1)
    cluster.healAll()
    cluster.sim.run(cluster.sim.now() + 2000)
    // Pre-vote: the rejoining minority did not force a new election (the majority's leader keeps its term).
    const leader = cluster.replica<RaftReplica>(leaders[0]!)
    expect(leader.role).toBe('leader')
    expect(oldReplica.leader).toBe(leaders[0])
  })

  it('membership changes during faults: add a learner, promote it, remove a voter, all while linearizable', () => {
    const o: SimulationOptions = {
      protocol: raft, n: 3, seed: 31, ops: 1500, clients: 4, snapshotInterval: 40,
      faults: 'loss@500:0.05,crash@1500:1,restart@2500:1,heal@4000',
      onCluster: cluster => {
        const step = (at: number, action: () => void): void => { cluster.sim.at(at, action) }
        const withLeader = (fn: (r: RaftReplica) => string | null): void => {
          const id = cluster.leader()
          if (id !== null) fn(cluster.replica<RaftReplica>(id))
        }
        step(800, () => {
          cluster.addReplica(3, [])
          withLeader(r => r.proposeMembershipChange({ kind: 'addLearner', id: 3 }))
        })
        for (let t = 1200; t < 6000; t += 200) {
          step(t, () => withLeader(r => {
            const c = r.configuration
            if (c.learners.includes(3)) return r.proposeMembershipChange({ kind: 'promoteLearner', id: 3 })
            if (c.voters.includes(3) && c.voters.includes(0) && r.id !== 0) return r.proposeMembershipChange({ kind: 'removeVoter', id: 0 })
            return null
          }))
        }
      },
    }
    let cluster: SimCluster | undefined
    const report = expectLinearizable({ ...o, onCluster: c => { cluster = c; o.onCluster!(c) } })
    // The run ends healed and settled: the cluster's leader now holds the final configuration.
    const leader = cluster!.leader()
    const final = leader === null ? undefined : cluster!.replica<RaftReplica>(leader)
    expect(report.ops.ok).toBeGreaterThan(0)
    expect(final, replayCommand(o)).toBeDefined()
    expect(final!.configuration.voters).toContain(3)
  })
})
