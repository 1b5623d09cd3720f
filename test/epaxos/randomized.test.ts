/**
 * Seeded randomized EPaxos runs on the shared replica network (randomized.ts): loss, duplication, reordering,
 * crashes, restarts and isolation on a workload of few keys; stability, consistency and nontriviality checked after
 * every step, and a write after the final heal must commit.
 *
 * `npm test` runs 16 seeds; EPAXOS_SEEDS=200 runs more (or `npm run soak -- --protocol epaxos`), and a failing run
 * prints EPAXOS_REPLAY='{...}' to run exactly that one (add EPAXOS_TRACE=1 for the replicas' debug log and the faults).
 */
import { afterAll, describe, expect, it } from 'vitest'
import { RECOVERY_BOUND_TICKS, runRandomized, type RandomRun } from './randomized.ts'

function runsFor(seeds: number): RandomRun[] {
  const out: RandomRun[] = []
  for (let seed = 1; seed <= seeds; seed++) out.push({ n: seed % 4 === 0 ? 5 : 3, seed, keys: 1 + (seed % 3) })
  return out
}

const replay = process.env['EPAXOS_REPLAY']
const runs = replay !== undefined ? [JSON.parse(replay) as RandomRun] : runsFor(Number(process.env['EPAXOS_SEEDS'] ?? 16))

describe('epaxos randomized (per-step invariants, liveness after heal)', () => {
  it('negative control: a replica that hides the conflicts it saw is caught by the consistency invariant', () => {
    let caught = 0
    for (const seed of [1, 2, 3]) {
      const result = runRandomized({ n: 3, seed, keys: 1, liar: 1 })
      if (result.violations.some(v => /consistency: interfering/.test(v))) caught++
    }
    expect(caught).toBeGreaterThan(0)
  })

  const recovery: number[] = []
  for (const run of runs) {
    it(`n=${run.n} seed ${run.seed} keys ${run.keys}`, () => {
      const result = runRandomized(run)
      expect(result.violations, `replay: ${result.replay}`).toEqual([])
      expect(result.recoveryTicks, `no commit within ${RECOVERY_BOUND_TICKS} ticks after the heal; replay: ${result.replay}`).not.toBeNull()
      expect(result.acknowledged, `nothing committed during the run; replay: ${result.replay}`).toBeGreaterThan(0)
      recovery.push(result.recoveryTicks!)
    })
  }
  afterAll(() => {
    if (recovery.length === 0) return
    recovery.sort((a, b) => a - b)
    process.stdout.write(`epaxos randomized: ${recovery.length} runs, write after heal committed in median ` +
      `${recovery[recovery.length >> 1]!} ticks, max ${recovery.at(-1)!} ticks\n`)
  })
})
