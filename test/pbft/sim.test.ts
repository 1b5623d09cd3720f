/**
 * PBFT in the deterministic simulator with the real host, storage, the PBFT client and the linearizability checker:
 * message complexity against theory, batching under load, random crashes/partitions/loss, and f Byzantine replicas of
 * every strategy. Each failure message carries the replay command.
 */
import { describe, expect, it } from 'vitest'
import { runSimulation, type SimulationOptions } from '../../net/sim/run.ts'
import { BYZANTINE_STRATEGIES } from '../../protocols/pbft/byzantine/index.ts'
import { pbft } from '../../protocols/pbft/descriptor.ts'
import { expectLinearizable } from '../support/simulation.ts'

const K = 16
/** The host's snapshot interval must equal PBFT's checkpoint interval (the checkpoint digests that snapshot). */
const CHECKPOINTS = { snapshotInterval: K, protocolOptions: { checkpointInterval: K } }

describe('pbft in the simulator', () => {
  it('steady state costs exactly 2n(n-1) ordering messages per command at batch size 1', () => {
    for (const n of [4, 7]) {
      const report = expectLinearizable({ protocol: pbft, n, seed: 21, ops: n === 4 ? 200 : 100, clients: 1, workload: { readRatio: 0 }, ...CHECKPOINTS })
      const commands = report.ops.ok + report.ops.fail
      const theory = pbft.theoreticalMessages(n)
      for (const [type, perCommand] of Object.entries(theory)) {
        expect(report.protocolMessages[type]?.messages, `${type} n=${n}`).toBe(perCommand * commands)
      }
      // Checkpoints are the only other traffic: n(n-1) per K commands.
      expect(report.protocolMessages.Checkpoint?.messages).toBe(Math.floor(commands / K) * n * (n - 1))
    }
  })

  it('is deterministic: the same seed gives the same trace, byte for byte', () => {
    const o: SimulationOptions = { protocol: pbft, n: 4, seed: 23, ops: 100, clients: 3, faults: 'random', faultWindowMs: 2000, ...CHECKPOINTS }
    const a = runSimulation(o)
    const b = runSimulation(o)
    expect(a.traceEvents).toBeGreaterThan(1000)
    expect(b.traceHash).toBe(a.traceHash)
    expect(b.history).toEqual(a.history)
  })

  it('batches under load: far fewer pre-prepares than commands', () => {
    const report = expectLinearizable({ protocol: pbft, n: 4, seed: 22, ops: 1000, clients: 40, workload: { readRatio: 0 }, ...CHECKPOINTS })
    const batches = (report.protocolMessages.PrePrepare?.messages ?? 0) / 3
    expect(batches).toBeLessThan((report.ops.ok + report.ops.fail) / 4)
  })

  it('stays linearizable under random crashes, partitions, loss, duplication and reordering', () => {
    for (const [n, seeds] of [[4, [1, 2]], [7, [4]]] as const) {
      for (const seed of seeds) {
        expectLinearizable({ protocol: pbft, n, seed, ops: 300, clients: 4, faults: 'random', fsyncMs: 1, ...CHECKPOINTS })
      }
    }
  })

  for (const strategy of BYZANTINE_STRATEGIES) {
    it(`stays linearizable and live with f ${strategy} replicas (and random crash faults on the rest)`, () => {
      const report = expectLinearizable({
        protocol: pbft, n: 4, seed: 31, ops: 150, clients: 3, byzantine: [strategy], faults: 'random', ...CHECKPOINTS,
      })
      expect(report.byzantine).toEqual([{ replica: 3, strategy }])
    })
  }

  it('n=7 with two different Byzantine strategies at once', () => {
    expectLinearizable({ protocol: pbft, n: 7, seed: 32, ops: 150, clients: 3, byzantine: ['equivocate', 'lying-view-change'], ...CHECKPOINTS })
  })
})
