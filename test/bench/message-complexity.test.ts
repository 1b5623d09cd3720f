/**
 * At batch size 1 (one client, one request outstanding) every registered protocol sends exactly the replica-to-replica
 * messages its descriptor's theory says, by message type, for every n of the default sweep it supports.
 */
import { describe, expect, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'
import { DEFAULT_SWEEP } from '../../bench/config.ts'
import { autoSizes } from '../../bench/matrix.ts'
import { measureMessagesPerCommand } from '../../bench/message-complexity.ts'

function defaultSizes(name: string): number[] {
  const p = protocols.get(name)!
  if (name === DEFAULT_SWEEP.baseline) return [p.replicasFor(0)]
  const sizes = DEFAULT_SWEEP.n === 'auto' ? autoSizes(p) : [...DEFAULT_SWEEP.n]
  return sizes.filter(n => p.checkClusterSize(n) === null)
}

describe('messages per command at batch size 1 equal the theory', () => {
  for (const p of protocols.values()) {
    for (const n of defaultSizes(p.name)) {
      it(`${p.name} n=${n}`, () => {
        const m = measureMessagesPerCommand(p, n, { seed: 1, commands: 50, warmup: 10 })
        const replay = `measureMessagesPerCommand(${p.name}, ${n}, { seed: 1, commands: 50, warmup: 10 })`
        expect(m.measured, replay).toEqual(m.theoretical)
        expect(m.measuredTotal, replay).toBe(m.theoreticalTotal)
      })
    }
  }
})

/** Large clusters too: few commands keep it cheap (the count per command is exact in steady state). */
describe('messages per command at batch size 1 equal the theory in large clusters', () => {
  const large: ReadonlyArray<readonly [string, number]> = [['pbft', 31], ['raft', 51], ['multipaxos', 51]]
  for (const [name, n] of large) {
    it(`${name} n=${n}`, () => {
      const p = protocols.get(name)
      expect(p, `${name} is registered`).toBeDefined()
      const m = measureMessagesPerCommand(p!, n, { seed: 1, commands: 4, warmup: 3 })
      const replay = `measureMessagesPerCommand(${name}, ${n}, { seed: 1, commands: 4, warmup: 3 })`
      expect(m.measured, replay).toEqual(m.theoretical)
      expect(m.measuredTotal, replay).toBe(m.theoreticalTotal)
    })
  }
})
