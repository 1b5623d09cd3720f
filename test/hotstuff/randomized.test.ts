/**
 * Seeded randomized runs (randomized.ts): faults of every kind the random schedule has, with and without one
 * Byzantine replica of each strategy, placed at the first view's leader (id 1) or at the last replica; invariants
 * checked after every simulator event, and a write after the final heal must commit.
 *
 * `npm test` runs 30 seeds; HOTSTUFF_SEEDS=300 runs more (or `npm run soak -- --protocol hotstuff`), and a failing
 * run prints HOTSTUFF_REPLAY='{...}' to run exactly that one.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { BYZANTINE_STRATEGIES } from '../../protocols/hotstuff/byzantine/index.ts'
import { runRandomized, type RandomRun } from './randomized.ts'

const STRATEGIES: ReadonlyArray<string | undefined> = [undefined, ...BYZANTINE_STRATEGIES]

function runsFor(seeds: number): RandomRun[] {
  const out: RandomRun[] = []
  for (let seed = 1; seed <= seeds; seed++) {
    const n = seed % 10 === 0 ? 7 : 4
    const strategy = STRATEGIES[seed % STRATEGIES.length]
    const at = seed % 2 === 0 ? 1 : n - 1
    out.push(strategy === undefined ? { n, seed } : { n, seed, byzantine: `${at}=${strategy}` })
  }
  return out
}

const replay = process.env['HOTSTUFF_REPLAY']
const runs = replay !== undefined ? [JSON.parse(replay) as RandomRun] : runsFor(Number(process.env['HOTSTUFF_SEEDS'] ?? 30))

describe('hotstuff randomized (per-step invariants, liveness after heal)', () => {
  const recovery: number[] = []
  for (const run of runs) {
    it(`n=${run.n} seed ${run.seed}${run.byzantine === undefined ? '' : ` byzantine ${run.byzantine}`}`, () => {
      const result = runRandomized(run)
      expect(result.violations, `replay: ${result.replay}`).toEqual([])
      expect(result.recoveryMs, `no commit after the heal; replay: ${result.replay}`).not.toBeNull()
      // Bound: the view timeouts are capped at 1 s, and a faulty leader costs at most a few capped views.
      expect(result.recoveryMs!, `replay: ${result.replay}`).toBeLessThanOrEqual(8000)
      expect(result.acknowledged, `nothing committed during the run; replay: ${result.replay}`).toBeGreaterThan(0)
      recovery.push(result.recoveryMs!)
    })
  }
  afterAll(() => {
    if (recovery.length === 0) return
    recovery.sort((a, b) => a - b)
    process.stdout.write(`hotstuff randomized: ${recovery.length} runs, recovery after heal median ` +
      `${recovery[recovery.length >> 1]!.toFixed(0)} ms, max ${recovery.at(-1)!.toFixed(0)} ms\n`)
  })
})
