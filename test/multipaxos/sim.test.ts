/**
 * Multi-Paxos in the deterministic simulator, through the real host, storage with modelled fsync, clients and the
 * linearizability checker: seeded random faults, small snapshot intervals (so lagging replicas get snapshots),
 * flexible quorums and batching under load. A failing case prints its replay command.
 */
import { describe, expect, it } from 'vitest'
import { runSimulation } from '../../net/sim/run.ts'
import type { SimulationOptions } from '../../net/sim/run.ts'
import { multipaxos } from '../../protocols/multipaxos/descriptor.ts'
import { expectLinearizable } from '../support/simulation.ts'

describe('multipaxos in the simulator', () => {
  it('stays linearizable under random faults with fsync delay and frequent snapshots (n = 3, 5)', () => {
    for (const n of [3, 5]) {
      for (const seed of [11, 12, 13, 14]) {
        expectLinearizable({
          protocol: multipaxos, n, seed, ops: 800, clients: 6, faults: 'random', faultWindowMs: 600,
          fsyncMs: 1, snapshotInterval: 20,
        })
      }
    }
  })

  it('recovers from leader crashes and isolation with loss, duplication and reordering (n = 3, 5)', () => {
    // Elections take 100-200 ms (10-20 ticks of 10 ms), so the first fault waits for the first leader.
    const faults = 'loss@0:0.05,dup@0:0.03,reorder@0:0.1,crash@300:leader,restart@450:crashed,isolate@600:leader,' +
      'heal@800,crash@1000:leader,restart@1150:crashed'
    for (const n of [3, 5]) {
      for (const seed of [41, 42, 43]) {
        const report = expectLinearizable({ protocol: multipaxos, n, seed, ops: 600, clients: 6, faults, fsyncMs: 1, snapshotInterval: 25 })
        expect(report.faults.filter(f => f.skipped === undefined).length).toBeGreaterThanOrEqual(8)
        // Every crash and isolation of the leader forces a new Phase 1.
        expect(report.protocolMessages.Prepare?.messages ?? 0).toBeGreaterThanOrEqual(3 * (n - 1))
      }
    }
  })

  it('ships snapshots to a replica that was down while the others compacted', () => {
    const report = expectLinearizable({
      // Replica 2 is down from 50 ms to 1 s: long enough for the others to commit and compact many intervals.
      protocol: multipaxos, n: 3, seed: 5, ops: 2000, clients: 4, snapshotInterval: 10,
      faults: 'crash@50:2,restart@1000:2',
    })
    expect(report.protocolMessages.Snapshot?.messages ?? 0).toBeGreaterThan(0)
  })

  it('stays safe with flexible quorums (n = 5, q1 = 4, q2 = 2) under random faults', () => {
    for (const seed of [21, 22, 23]) {
      expectLinearizable({
        protocol: multipaxos, n: 5, seed, ops: 800, clients: 6, faults: 'random', faultWindowMs: 600,
        protocolOptions: { phase1Quorum: 4, phase2Quorum: 2 },
      })
    }
  })

  it('serves lease reads at the leader and stays linearizable under faults (clock assumption holds in the simulator)', () => {
    const faults = 'loss@0:0.03,reorder@0:0.1,isolate@300:leader,heal@500,crash@700:leader,restart@850:crashed,' +
      'partition@1000:0|1.2,heal@1200'
    for (const n of [3, 5]) {
      for (const seed of [51, 52, 53]) {
        const options: SimulationOptions = {
          protocol: multipaxos, n, seed, ops: 800, clients: 6, faults, protocolOptions: { leaseReads: true },
          workload: { readRatio: 0.6 },
        }
        const withLease = expectLinearizable(options)
        const withoutLease = runSimulation({ ...options, protocolOptions: {} })
        // Reads skip the log: fewer slots to accept for the same workload.
        expect(withLease.protocolMessages.Accept!.messages).toBeLessThan(withoutLease.protocolMessages.Accept!.messages)
      }
    }
  })

  it('batches many requests per slot under load (fewer Accepts than commands)', () => {
    const report = expectLinearizable({ protocol: multipaxos, n: 3, seed: 31, ops: 2000, clients: 50, protocolOptions: { window: 2 } })
    const accepts = report.protocolMessages.Accept?.messages ?? 0
    // Without batching every command would cost n - 1 = 2 Accepts.
    expect(accepts).toBeLessThan(2000 * 2 * 0.5)
  })
})
