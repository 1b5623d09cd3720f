/**
 * Regression: a silent Byzantine replica that restarts aborted the whole simulation (seed 3, found by the red team).
 *
 * The silent strategy discards everything its inner (honest) replica hands the host, committed entries included, so
 * that host never applies, never snapshots, and the replica never persists a stable snapshot. Replica 6 (the silent
 * one) crashed at 300 ms and came back when the run healed: recovery restored the low watermark 0 and re-executed
 * every committed slot in its log, 541 of them, far past the high watermark (256). The check for a host that takes no
 * snapshots then saw "executed the whole window, no snapshot" and threw a ConfigError about checkpointInterval from
 * tick(), straight through the host into the simulator (sim exited 2), although the configuration was right.
 *
 * Fixed three ways: execution never passes the high watermark (recovery included), the ConfigError fires only when
 * nothing shows the replica is merely behind, and the Byzantine wrapper keeps whatever a faulty replica throws away
 * from its host. Replay: npm run sim -- --protocol pbft --n 7 --byzantine silent --byzantine-count 1 --seed 3
 *   --ops 1500 --clients 8 --option maxBatchCount=1 --faults crash@300:6
 */
import { describe, expect, it } from 'vitest'
import type { SimCluster } from '../../net/sim/cluster.ts'
import { runSimulation } from '../../net/sim/run.ts'
import { getProtocol } from '../../protocols/index.ts'
import { ByzantineReplica } from '../../protocols/pbft/byzantine/index.ts'
import type { PbftMessage } from '../../protocols/pbft/messages.ts'

describe('pbft: a silent Byzantine replica that restarts', () => {
  it('does not abort the run (seed 3, n = 7, replica 6 silent, crashed at 300 ms, restarted at the heal)', () => {
    let cluster: SimCluster | undefined
    const ops = 600
    const report = runSimulation({
      protocol: getProtocol('pbft'), n: 7, seed: 3, ops, clients: 8, byzantine: ['silent'], byzantineCount: 1,
      protocolOptions: { maxBatchCount: 1 }, faults: 'crash@300:6', onCluster: c => { cluster = c },
    })
    expect(report.byzantine).toEqual([{ replica: 6, strategy: 'silent' }])
    // The crash, then the final heal the run adds a second later, which restarts replica 6.
    const faults = report.faults.map(f => f.description)
    expect(faults[0]).toBe('crash@300:6 -> crashed 6')
    expect(faults).toContain('restart-all@1300 -> restarted 6')
    expect(report.liveness.ok, report.liveness.problems.join('; ')).toBe(true)
    expect(report.safetyViolations).toEqual([])
    expect(report.check.ok, report.check.explanation).toBe(true)
    expect(report.finished).toBe(true)
    // Every operation answered: the workload's and the liveness probe's.
    expect(report.ops.ok + report.ops.fail).toBe(report.ops.requested)
    expect(report.ops.requested).toBeGreaterThan(ops)
    expect(report.virtualMs).toBeLessThan(2000)
    // The silent replica is back up, and nothing it ran into was swallowed by the wrapper: it simply lags behind.
    const silent = cluster!.replica(6)
    expect(silent).toBeInstanceOf(ByzantineReplica)
    expect((silent as ByzantineReplica<PbftMessage>).failure).toBeUndefined()
  })
})
