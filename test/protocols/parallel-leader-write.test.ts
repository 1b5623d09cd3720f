/**
 * Raft dissertation §10.2.1: the leader writes to its own disk in parallel with replicating to the followers (Raft's
 * `parallelLeaderAppend`, Multi-Paxos' `parallelLeaderAccept`). Shown in virtual time (deterministic, no wall clock):
 * with a 4 ms fsync and sub-millisecond links, a command waits for one fsync instead of the leader's and then the
 * followers' in a row. Safety with crashes that lose the leader's unsynced writes is checked under seeded random faults.
 */
import { describe, expect, it } from 'vitest'
import type { AnyProtocol } from '../../core/protocol.ts'
import { createRng } from '../../core/random.ts'
import { createSimCluster } from '../../net/sim/cluster.ts'
import { runWorkload } from '../../net/sim/workload.ts'
import { multipaxos } from '../../protocols/multipaxos/descriptor.ts'
import { raft } from '../../protocols/raft/descriptor.ts'
import { expectLinearizable } from '../support/simulation.ts'

const FSYNC_MS = 4

const cases: ReadonlyArray<{ protocol: AnyProtocol; option: string }> = [
  { protocol: raft, option: 'parallelLeaderAppend' },
  { protocol: multipaxos, option: 'parallelLeaderAccept' },
]

function medianLatency(protocol: AnyProtocol, options: Record<string, unknown>): number {
  const cluster = createSimCluster({ protocol, n: 3, seed: 1, clients: 1, fsyncMs: FSYNC_MS, protocolOptions: options })
  cluster.sim.run(2000) // elect a leader first
  const w = runWorkload(cluster, { ops: 200, readRatio: 0, casRatio: 0, deleteRatio: 0, rng: createRng(1) })
  expect(w.ok).toBe(200)
  const sorted = [...w.latencies].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

for (const { protocol, option } of cases) {
  describe(`${protocol.name}: the leader's own write in parallel with replication (${option})`, () => {
    it('takes one fsync off the commit path of every command', () => {
      const sequential = medianLatency(protocol, { [option]: false })
      const parallel = medianLatency(protocol, {})
      // Sequential: the leader's fsync, then the followers'. Parallel (the default): both at once.
      expect(sequential).toBeGreaterThanOrEqual(2 * FSYNC_MS)
      expect(parallel).toBeLessThan(sequential - FSYNC_MS * 0.75)
      expect(parallel).toBeGreaterThanOrEqual(FSYNC_MS)
    })

    it('loses no acknowledged write when leaders crash with their own write unsynced', () => {
      for (const seed of [1, 2, 3, 4]) {
        expectLinearizable({ protocol, n: 3, seed, ops: 300, clients: 4, faults: 'random', faultWindowMs: 4000, fsyncMs: 3 })
      }
    })
  })
}
