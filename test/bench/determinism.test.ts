/**
 * Reproducibility: the same run spec and seed give the same simulated figures (host measurements aside), with and
 * without a leader crash; another seed gives other figures.
 */
import { describe, expect, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'
import { registryView } from '../../bench/cli-config.ts'
import { validateSweepConfig } from '../../bench/config.ts'
import { planSweep } from '../../bench/matrix.ts'
import { runOne } from '../../bench/run-one.ts'

describe('same seed, same figures', () => {
  for (const p of protocols.values()) {
    if (p.name === 'unreplicated') continue
    it(`${p.name}: fault-free and leader-crash runs repeat exactly`, () => {
      const n = p.replicasFor(1)
      const config = validateSweepConfig({ protocols: [p.name], n: [n], f: [0, 1], faults: ['none', 'crash-leader'],
        clients: [2], warmupMs: 300, durationMs: 400, maxOps: 200, baseline: null, seed: 7 }, registryView(protocols))
      for (const spec of planSweep(config, protocols).runs) {
        const a = runOne(spec, p)
        const b = runOne(spec, p)
        expect(b.figures, `replay: runOne(${JSON.stringify(spec.id)}) seed 7`).toEqual(a.figures)
        if (spec.fault !== 'none') continue
        const c = runOne({ ...spec, seed: 8 }, p)
        expect(c.figures.latencyMs).not.toEqual(a.figures.latencyMs)
      }
    })
  }
})
