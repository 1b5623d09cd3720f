/**
 * Flexible Paxos: Phase 1 and Phase 2 quorums need only intersect (q1 + q2 > n). Safe configurations are run through
 * the randomized driver; parseOptions refuses the rest, and a negative control shows why (the same driver, given a
 * non-intersecting configuration directly, finds two values chosen for one slot).
 */
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../core/errors.ts'
import { parseMultiPaxosOptions } from '../../protocols/multipaxos/options.ts'
import { InvariantError } from './cluster.ts'
import { randomRun, replayLine } from './randomized.ts'
import type { RandomRunConfig } from './randomized.ts'

const FILE = 'test/multipaxos/flexible.test.ts'

function run(cfg: RandomRunConfig): void {
  try {
    randomRun(cfg)
  } catch (e) {
    const err = e as Error
    err.message = `${err.message}\n  replay: ${replayLine(FILE, cfg)}`
    throw err
  }
}

describe('flexible quorums', () => {
  it('defaults to majorities and validates q1 + q2 > n, each in 1..n', () => {
    expect(parseMultiPaxosOptions({}, 5)).toMatchObject({ phase1Quorum: 3, phase2Quorum: 3, leaseReads: false })
    expect(parseMultiPaxosOptions({ phase1Quorum: 4, phase2Quorum: 2 }, 5)).toMatchObject({ phase1Quorum: 4, phase2Quorum: 2 })
    expect(() => parseMultiPaxosOptions({ phase1Quorum: 3, phase2Quorum: 2 }, 5)).toThrow(ConfigError)
    expect(() => parseMultiPaxosOptions({ phase1Quorum: 3, phase2Quorum: 2 }, 5)).toThrow(/phase2Quorum: .*must exceed n \(5\)/)
    expect(() => parseMultiPaxosOptions({ phase1Quorum: 2 }, 5)).toThrow(/phase1Quorum: .*\+ phase2Quorum \(3\) must exceed n/)
    expect(() => parseMultiPaxosOptions({ phase2Quorum: 6 }, 5)).toThrow(/phase2Quorum: expected an integer from 1 to 5/)
    expect(() => parseMultiPaxosOptions({ phase1Quorum: 0 }, 5)).toThrow(/phase1Quorum/)
    expect(() => parseMultiPaxosOptions({ window: 0 }, 3)).toThrow(/window/)
    expect(() => parseMultiPaxosOptions({ leaderTimeoutTicks: 2, heartbeatTicks: 2 }, 3)).toThrow(/leaderTimeoutTicks: must exceed heartbeatTicks/)
    expect(() => parseMultiPaxosOptions({ leaseReads: 'yes' }, 3)).toThrow(/leaseReads/)
    expect(() => parseMultiPaxosOptions({ windw: 3 }, 3)).toThrow(/windw: unknown option/)
  })

  const seedOnly = process.env.MP_SEED !== undefined ? Number(process.env.MP_SEED) : null
  for (const [n, q1, q2] of [[5, 4, 2], [5, 2, 4], [3, 3, 1], [7, 5, 3]] as const) {
    it(`stays safe with n=${n}, q1=${q1}, q2=${q2} under faults (invariants after every step)`, () => {
      for (let seed = 1; seed <= 25; seed++) {
        if (seedOnly !== null && seed !== seedOnly) continue
        run({ n, seed, steps: 2500, options: { phase1Quorum: q1, phase2Quorum: q2 } })
      }
    })
  }

  it('negative control: with q1 + q2 <= n (bypassing parseOptions) the driver finds two values chosen for a slot', () => {
    const base = parseMultiPaxosOptions({}, 5)
    let violations = 0
    for (let seed = 1; seed <= 40; seed++) {
      try {
        randomRun({ n: 5, seed, steps: 2500, unvalidatedOptions: { ...base, phase1Quorum: 2, phase2Quorum: 2 } })
      } catch (e) {
        if (e instanceof InvariantError) violations++
      }
    }
    expect(violations).toBeGreaterThan(0)
  })
})
