/**
 * What every registered protocol gets for free: run in the simulator without faults and under seeded random faults,
 * every history judged linearizable, replicas never apply different commands at one index, message counts at batch
 * size 1 equal the descriptor's theory, and options are validated. A failing case prints a one-line replay command.
 *
 * Eventually consistent protocols (`consistency: 'eventual'`, quorum-kv) promise less, and the suite says so explicitly:
 * the fault-free case runs a single-writer-per-key workload (no two writes of a key race), whose history must still be
 * linearizable; under random faults they must stay live and available and converge once healed, and the checker's
 * verdict is printed, not required (concurrent writers across a partition are expected to break it).
 *
 * The quick set runs in `npm test`; `npm run soak -- --protocol <name> --seeds N` runs many more seeds.
 */
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../core/errors.ts'
import { measureMessagesPerCommand } from '../../bench/message-complexity.ts'
import { replayCommand, runSimulation } from '../../net/sim/run.ts'
import { protocols } from '../../protocols/index.ts'
import { expectConverged, expectLinearizable } from '../support/simulation.ts'

function clusterSizes(name: string, replicasFor: (f: number) => number): number[] {
  return name === 'unreplicated' ? [1] : [replicasFor(1), replicasFor(2)]
}

for (const protocol of protocols.values()) {
  describe(`${protocol.name} conformance`, () => {
    const sizes = clusterSizes(protocol.name, f => protocol.replicasFor(f))
    const eventual = protocol.consistency === 'eventual'
    // Without consensus, only writes that never race are linearizable: one writer per key.
    const workload = eventual ? { workload: { writersPerKey: 'single' as const } } : {}

    it(`completes a fault-free workload with every operation answered and a linearizable history${eventual ? ' (one writer per key)' : ''}`, () => {
      for (const n of sizes) {
        const options = { protocol, n, seed: 1, ops: 400, clients: 5, ...workload }
        const report = runSimulation(options)
        expect(report.ops.info, `replay: ${replayCommand(options)}`).toBe(0)
        const checked = expectLinearizable(options)
        if (eventual) expect(checked.convergence?.ok, `${checked.convergence?.reason}\nreplay: ${replayCommand(options)}`).toBe(true)
      }
    })

    if (!eventual) {
      it('stays linearizable and safe under seeded random faults (crashes, partitions, loss, duplication, reordering)', () => {
        for (const n of sizes) {
          for (const seed of [1, 2, 3]) {
            expectLinearizable({ protocol, n, seed, ops: 400, clients: 5, faults: 'random', faultWindowMs: 4000 })
          }
        }
      })
    } else {
      // Available: at most the run's allowed share of operations timed out (the liveness verdict checks it).
      it('stays available and live under seeded random faults and converges once healed (linearizability recorded, not required)', () => {
        const verdicts: string[] = []
        for (const n of sizes) {
          for (const seed of [1, 2, 3]) {
            const report = expectConverged({ protocol, n, seed, ops: 400, clients: 5, faults: 'random', faultWindowMs: 4000 })
            verdicts.push(`n=${n} seed ${seed}: ${report.check.verdict}`)
          }
        }
        // Printed so the verdicts are visible in the test log: an eventually consistent store may well fail the checker.
        process.stdout.write(`${protocol.name} under random faults (checker verdict, not required): ${verdicts.join('; ')}\n`)
      })
    }

    it('sends exactly the theoretical replica-to-replica messages per command at batch size 1', () => {
      for (const n of sizes) {
        const m = measureMessagesPerCommand(protocol, n, { commands: 50 })
        expect(m.measured, `${protocol.name} n=${n}: all types seen ${JSON.stringify(m.allTypes)}`).toEqual(m.theoretical)
      }
    })

    it('rejects unknown options and impossible cluster sizes with a message naming them', () => {
      expect(() => protocol.parseOptions({ noSuchOption: 1 }, sizes[0]!)).toThrow(ConfigError)
      expect(() => protocol.parseOptions({ noSuchOption: 1 }, sizes[0]!)).toThrow(/noSuchOption/)
      expect(protocol.checkClusterSize(0)).toMatch(/./)
    })
  })
}
