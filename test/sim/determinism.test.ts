/**
 * Same seed, same configuration: the same trace, byte for byte, and the same history.
 */
import { describe, expect, it } from 'vitest'
import { runSimulation } from '../../net/sim/run.ts'
import { toJsonLines } from '../../core/history.ts'
import { protocols } from '../../protocols/index.ts'

describe('simulator determinism', () => {
  for (const protocol of protocols.values()) {
    it(`${protocol.name}: two runs with one seed give identical traces and histories`, () => {
      const n = protocol.replicasFor(protocol.name === 'unreplicated' ? 0 : 1)
      const options = { protocol, n, seed: 42, ops: 300, clients: 4, faults: 'random', faultWindowMs: 2000, traceLines: true }
      const a = runSimulation(options)
      const b = runSimulation(options)
      expect(a.traceEvents).toBeGreaterThan(0)
      expect(b.traceLines).toEqual(a.traceLines)
      expect(b.traceHash).toBe(a.traceHash)
      expect(toJsonLines(b.history)).toBe(toJsonLines(a.history))
      const c = runSimulation({ ...options, seed: 43 })
      expect(c.traceHash).not.toBe(a.traceHash)
    })
  }
})
