/**
 * The unreplicated baseline end to end in the simulator: the smallest proof that contract, host, simulator,
 * workload and checker fit together. Also the example for protocol authors of how to use the simulator in tests.
 */
import { describe, expect, it } from 'vitest'
import { createSimCluster } from '../../net/sim/cluster.ts'
import { replayCommand, runSimulation } from '../../net/sim/run.ts'
import { unreplicated } from '../../protocols/unreplicated/descriptor.ts'
import { encodeKvCommand, decodeKvResult } from '../../core/kv.ts'

describe('unreplicated baseline in the simulator', () => {
  it('runs a workload whose history is linearizable', () => {
    const report = runSimulation({ protocol: unreplicated, n: 1, seed: 1, ops: 1000, clients: 5 })
    expect(report.finished).toBe(true)
    // The workload's 1000 operations and the liveness probe's 10, every one answered.
    expect(report.ops.requested).toBe(1010)
    expect(report.ops.ok + report.ops.fail).toBe(1010)
    expect(report.check.verdict).toBe('linearizable')
    expect(report.liveness.ok).toBe(true)
    expect(report.history.length).toBe(2020)
  })

  it('keeps acknowledged writes across crashes with slow fsync (persist before reply)', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const options = {
        protocol: unreplicated, n: 1, seed, ops: 1500, clients: 8, fsyncMs: 2, snapshotInterval: 50,
        faults: 'crash@50:0,restart@120:0,crash@300:0,restart@301:0,crash@500:0,restart@700:0',
      }
      const report = runSimulation(options)
      const replay = replayCommand(options)
      // The six scheduled faults, then the final heal the run adds a second after the last one.
      expect(report.faults.filter(f => f.skipped === undefined && f.at < 1700).length, replay).toBe(6)
      expect(report.liveness.healAt, replay).toBe(1700)
      expect(report.liveness.ok, report.liveness.problems.join('; ')).toBe(true)
      expect(report.finished, replay).toBe(true)
      expect(report.check.verdict, `${report.check.explanation}\nreplay: ${replay}`).toBe('linearizable')
    }
  })

  it('answers a retried command once (exactly-once session) when the network duplicates requests', () => {
    const cluster = createSimCluster({ protocol: unreplicated, n: 1, seed: 9, clients: 1 })
    cluster.network.faults.duplicate = 1
    const client = cluster.clients[0]!
    let result: string | null | undefined
    client.submit(encodeKvCommand({ type: 'cas', key: 'a', expected: null, value: '1' }), false, 1000, outcome => {
      if (outcome.status === 'ok') {
        const r = decodeKvResult(outcome.result)
        result = r.type === 'cas' ? String(r.ok) : 'unexpected'
      }
    })
    cluster.sim.run(500)
    expect(result).toBe('true')
    // The duplicate request committed a second log entry, but the session table answered it from the first result.
    const host = cluster.host(0)
    expect(host.status().commandsApplied).toBe(2)
    expect(host.stateMachine.lastApplied(client.id)).toBe(1)
  })
})
