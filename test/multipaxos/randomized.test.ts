import { describe, expect, it } from 'vitest'
import { randomRun, replayLine } from './randomized.ts'
import type { RandomRunConfig } from './randomized.ts'

const FILE = 'test/multipaxos/randomized.test.ts'
const only = process.env.MP_SEED !== undefined ? Number(process.env.MP_SEED) : null
const onlyN = process.env.MP_N !== undefined ? Number(process.env.MP_N) : null

function run(cfg: RandomRunConfig): ReturnType<typeof randomRun> {
  try {
    return randomRun(cfg)
  } catch (e) {
    const err = e as Error
    err.message = `${err.message}\n  replay: ${replayLine(FILE, cfg)}`
    console.error(`replay: ${replayLine(FILE, cfg)}`)
    throw err
  }
}

describe('multipaxos randomized safety (invariants after every step)', () => {
  for (const [n, seeds, steps] of [[3, 150, 3000], [5, 80, 3000], [7, 40, 3000]] as const) {
    if (onlyN !== null && onlyN !== n) continue
    it(`n=${n}: loss, duplication, reordering, crashes, partitions`, () => {
      let slots = 0
      let crashes = 0
      for (let seed = 1; seed <= seeds; seed++) {
        if (only !== null && seed !== only) continue
        const r = run({ n, seed, steps })
        slots += r.committedSlots
        crashes += r.crashes
      }
      expect(slots).toBeGreaterThan(0)
      if (only === null) expect(crashes).toBeGreaterThan(0)
    })
  }

  it('lease reads: no replica leads a higher ballot while a leader holds its lease (n = 3, 5; ticks in lockstep)', () => {
    for (const n of [3, 5]) {
      if (onlyN !== null && onlyN !== n) continue
      for (let seed = 1; seed <= 30; seed++) {
        if (only !== null && seed !== only) continue
        run({ n, seed, steps: 2500, options: { leaseReads: true }, lockstepTicks: true })
      }
    }
  })
})
