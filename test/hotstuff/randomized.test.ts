/**
 * Seeded randomized runs on the shared replica network (randomized.ts): loss, duplication, reordering, crashes,
 * restarts and isolation, with and without one
 * Byzantine replica of each strategy, placed at the first view's leader (id 1) or at the last replica; invariants
 * checked after every simulator event, and a write after the final heal must commit.
 *
 * `npm test` runs 30 seeds; HOTSTUFF_SEEDS=300 runs more (or `npm run soak -- --protocol hotstuff`), and a failing
 * run prints HOTSTUFF_REPLAY='{...}' to run exactly that one.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { BYZANTINE_STRATEGIES } from '../../protocols/hotstuff/byzantine/index.ts'
import { RECOVERY_BOUND_TICKS, runRandomized, type RandomRun } from './randomized.ts'

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
  it('negative control: a replica that forgets lastVotedView across a restart is caught', () => {
    const result = runRandomized({ n: 4, seed: 1, forgetful: 0 })
    expect(result.violations.join('\n')).toMatch(/lastVotedView \d+ below its vote|voted for two blocks/)
  })

  const recovery: number[] = []
  for (const run of runs) {
    it(`n=${run.n} seed ${run.seed}${run.byzantine === undefined ? '' : ` byzantine ${run.byzantine}`}`, () => {
      const result = runRandomized(run)
      expect(result.violations, `replay: ${result.replay}`).toEqual([])
      // Bound: the view timeouts are capped at 100 ticks, and a faulty leader costs at most a few capped views.
      expect(result.recoveryTicks, `no commit within ${RECOVERY_BOUND_TICKS} ticks after the heal; replay: ${result.replay}`).not.toBeNull()
      expect(result.acknowledged, `nothing committed during the run; replay: ${result.replay}`).toBeGreaterThan(0)
      recovery.push(result.recoveryTicks!)
    })
  }
  afterAll(() => {
    if (recovery.length === 0) return
    recovery.sort((a, b) => a - b)
    process.stdout.write(`hotstuff randomized: ${recovery.length} runs, write after heal committed in median ` +
      `${recovery[recovery.length >> 1]!} ticks, max ${recovery.at(-1)!} ticks\n`)
  })
})
