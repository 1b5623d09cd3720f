/**
 * core/quorum.ts against brute force, the way etcd-io/raft's quorum/quick_test.go checks its fast CommittedIndex
 * against an obviously correct one. On failure fast-check prints the seed and path that replay the counterexample.
 */
import { describe, expect } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import {
  bftQuorum, bftWeakQuorum, byzantineFaultsTolerated, checkFlexibleQuorums, crashFaultsTolerated,
  epaxosFastQuorum, epaxosRecoveryThreshold, highestReachedByQuorum, majority, QuorumTally, quorumAgrees, voteResult,
} from '../../core/quorum.ts'

/** Every subset of {0..n-1} of size k, as bitmasks (small n only). */
function subsetsOfSize(n: number, k: number): number[] {
  const out: number[] = []
  for (let mask = 0; mask < 1 << n; mask++) if (popcount(mask) === k) out.push(mask)
  return out
}

function popcount(x: number): number {
  let c = 0
  for (; x !== 0; x &= x - 1) c++
  return c
}

/** The smallest intersection of two k-subsets of n items, by enumeration. */
function smallestIntersection(n: number, k1: number, k2: number): number {
  let min = Infinity
  const a = subsetsOfSize(n, k1)
  const b = subsetsOfSize(n, k2)
  for (const x of a) for (const y of b) min = Math.min(min, popcount(x & y))
  return min
}

describe('fault and quorum sizes', () => {
  test('majority quorums of n <= 9 always intersect, and one smaller need not', () => {
    for (let n = 1; n <= 9; n++) {
      const q = majority(n)
      expect(smallestIntersection(n, q, q)).toBeGreaterThanOrEqual(1)
      if (q > 1) expect(smallestIntersection(n, q - 1, q - 1)).toBe(0)
      // The 2f+1 rule: f crashed replicas still leave a quorum.
      expect(n - crashFaultsTolerated(n)).toBeGreaterThanOrEqual(q)
    }
  })

  test('BFT quorums of n <= 13 share a correct replica, and the correct replicas alone form one', () => {
    for (let n = 4; n <= 13; n++) {
      const f = byzantineFaultsTolerated(n)
      const q = bftQuorum(n)
      expect(smallestIntersection(n, q, q)).toBeGreaterThanOrEqual(f + 1)
      expect(q).toBeLessThanOrEqual(n - f)
      expect(bftWeakQuorum(n)).toBe(f + 1)
      if (n === 3 * f + 1) expect(q).toBe(2 * f + 1)
    }
  })

  test.prop([fc.integer({ min: 4, max: 400 })])('BFT sizes at any n: 2q - n >= f + 1 and q <= n - f', n => {
    const f = byzantineFaultsTolerated(n)
    expect(3 * f + 1).toBeLessThanOrEqual(n)
    expect(2 * bftQuorum(n) - n).toBeGreaterThanOrEqual(f + 1)
    expect(bftQuorum(n)).toBeLessThanOrEqual(n - f)
  })

  test.prop([fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 9 })])(
    'flexible quorums are accepted exactly when every pair intersects', (n, q1, q2) => {
      const verdict = checkFlexibleQuorums(n, q1, q2)
      if (q1 < 1 || q1 > n || q2 < 1 || q2 > n) {
        expect(verdict).not.toBeNull()
        return
      }
      expect(verdict === null).toBe(smallestIntersection(n, q1, q2) >= 1)
    })
})

describe('highestReachedByQuorum (committed index)', () => {
  /** Brute force: the largest candidate that at least q values reach. */
  function bruteForce(values: readonly number[], q: number): number | null {
    let best: number | null = null
    for (const candidate of values) {
      if (values.filter(v => v >= candidate).length >= q && (best === null || candidate > best)) best = candidate
    }
    return best
  }

  test.prop([fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 40 }), fc.integer({ min: 1, max: 41 })])(
    'equals brute force and leaves its input alone', (values, q) => {
      const copy = [...values]
      expect(highestReachedByQuorum(values, q)).toBe(bruteForce(values, q))
      expect(values).toEqual(copy)
    })

  test('a majority of match indexes', () => {
    expect(highestReachedByQuorum([5, 3, 9], majority(3))).toBe(5)
    expect(highestReachedByQuorum([1, 1, 2, 7, 7], majority(5))).toBe(2)
    expect(highestReachedByQuorum([4], 2)).toBeNull()
  })
})

describe('voteResult', () => {
  const voteArb = fc.constantFrom<boolean | undefined>(true, false, undefined)

  test.prop([fc.array(voteArb, { minLength: 1, maxLength: 9 })])('equals brute force over how the missing votes go', votes => {
    const voters = votes.map((_, i) => i)
    const q = majority(voters.length)
    const map = new Map<number, boolean>()
    votes.forEach((v, i) => { if (v !== undefined) map.set(i, v) })
    map.set(100, true) // a non-voter's vote never counts
    const missing = votes.filter(v => v === undefined).length
    const granted = votes.filter(v => v === true).length
    // Won: every completion wins. Lost: no completion wins.
    const winsWithNone = granted >= q
    const winsWithAll = granted + missing >= q
    const expected = winsWithNone ? 'won' : winsWithAll ? 'pending' : 'lost'
    expect(voteResult(map, voters, q)).toBe(expected)
  })
})

describe('quorumAgrees and QuorumTally', () => {
  test.prop([fc.array(fc.boolean(), { maxLength: 9 }), fc.integer({ min: 1, max: 9 })])('quorumAgrees counts voters', (flags, q) => {
    const voters = flags.map((_, i) => i)
    expect(quorumAgrees(voters, q, id => flags[id]!)).toBe(flags.filter(Boolean).length >= q)
  })

  test.prop([fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.constantFrom('a', 'b', 'c')), { maxLength: 30 })])(
    'a value reaches quorum when that many distinct voters back it', votes => {
      const tally = new QuorumTally<string>(3)
      for (const [voter, key] of votes) tally.add(voter, key, key)
      for (const key of ['a', 'b', 'c']) {
        const distinct = new Set(votes.filter(([, k]) => k === key).map(([v]) => v))
        expect(tally.reached(key)).toBe(distinct.size >= 3)
        expect(new Set(tally.votersOf(key))).toEqual(distinct)
      }
    })
})

describe('EPaxos fast quorum (simplified recovery)', () => {
  /** Of every majority without the leader (replica 0) and every fast quorum with it, the fewest other replicas shared. */
  function bruteThreshold(n: number, fast: number): number | null {
    let min: number | null = null
    for (const q of subsetsOfSize(n, majority(n))) {
      if ((q & 1) !== 0) continue
      for (const f of subsetsOfSize(n, fast)) if ((f & 1) !== 0) min = Math.min(min ?? Infinity, popcount(q & f))
    }
    return min
  }

  /** Whether fast quorums of this size are safe: they meet each other and every majority, and recovery can tell. */
  function bruteSafe(n: number, fast: number): boolean {
    const m = majority(n)
    if (smallestIntersection(n, fast, fast) < 1 || smallestIntersection(n, fast, m) < 1) return false
    const t = bruteThreshold(n, fast)
    if (t === null) return true // every majority holds the leader: it knows whether it committed
    // The leader plus t replicas that pre-accepted unchanged must meet every fast quorum, every majority and every
    // other such set (each stands for a possibly fast-committed command).
    return smallestIntersection(n, t + 1, fast) >= 1 && smallestIntersection(n, t + 1, m) >= 1 &&
      smallestIntersection(n, t + 1, t + 1) >= 1
  }

  test('is the smallest safe size for n <= 9, 2f for odd n, and the threshold is what a majority must see', () => {
    for (let n = 1; n <= 9; n++) {
      let smallest = n
      for (let fast = n; fast >= 1; fast--) if (bruteSafe(n, fast)) smallest = fast
      expect(epaxosFastQuorum(n), `n=${n}`).toBe(smallest)
      if (n % 2 === 1 && n > 1) expect(epaxosFastQuorum(n)).toBe(2 * crashFaultsTolerated(n))
      const t = bruteThreshold(n, epaxosFastQuorum(n))
      if (t !== null) expect(epaxosRecoveryThreshold(n), `n=${n}`).toBe(t)
    }
  })
})
