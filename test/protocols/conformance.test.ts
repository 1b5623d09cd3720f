/**
 * What every registered protocol gets for free: run in the simulator without faults and under seeded random faults,
 * every history judged linearizable, replicas never apply different commands at one index, message counts at batch
 * size 1 equal the descriptor's theory, and options are validated. A failing case prints a one-line replay command.
 *
 * The quick set runs in `npm test`; `npm run soak -- --protocol <name> --seeds N` runs many more seeds.
 */
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../core/errors.ts'
import { measureMessagesPerCommand } from '../../bench/message-complexity.ts'
import { replayCommand, runSimulation } from '../../net/sim/run.ts'
import { protocols } from '../../protocols/index.ts'
import { expectLinearizable } from '../support/simulation.ts'

function clusterSizes(name: string, replicasFor: (f: number) => number): number[] {
  return name === 'unreplicated' ? [1] : [replicasFor(1), replicasFor(2)]
}

for (const protocol of protocols.values()) {
  describe(`${protocol.name} conformance`, () => {
    const sizes = clusterSizes(protocol.name, f => protocol.replicasFor(f))

    it('completes a fault-free workload with every operation answered and a linearizable history', () => {
      for (const n of sizes) {
        const options = { protocol, n, seed: 1, ops: 400, clients: 5 }
        const report = runSimulation(options)
        expect(report.ops.info, `replay: ${replayCommand(options)}`).toBe(0)
        expectLinearizable(options)
      }
    })

    it('stays linearizable and safe under seeded random faults (crashes, partitions, loss, duplication, reordering)', () => {
      for (const n of sizes) {
        for (const seed of [1, 2, 3]) {
          expectLinearizable({ protocol, n, seed, ops: 400, clients: 5, faults: 'random', faultWindowMs: 4000 })
        }
      }
    })

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
