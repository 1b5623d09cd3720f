/**
 * Seeded randomized runs of 3, 5 and 7 replicas under loss, duplication, reordering, crashes and partitions, with
 * every safety invariant checked after every step. A failure prints the one-line command that replays it.
 * RAFT_SEED (and RAFT_N, RAFT_STEPS, RAFT_MEMBERSHIP) replay one run; RAFT_SEEDS=k runs k seeds per size.
 */
import { describe, expect, it } from 'vitest'
import type { RandomRunOptions } from './random-driver.ts'
import { replayLine, runRandomCluster } from './random-driver.ts'

function run(o: RandomRunOptions): ReturnType<typeof runRandomCluster> {
  try {
    return runRandomCluster(o)
  } catch (e) {
    console.error(`raft randomized run failed: ${(e as Error).message}\nreplay: ${replayLine(o)}`)
    throw e
  }
}

const env = process.env
const seeds = Number(env.RAFT_SEEDS ?? 6)

describe('randomized clusters keep every safety property and recover liveness when faults stop', () => {
  if (env.RAFT_SEED !== undefined) {
    it(`replays seed ${env.RAFT_SEED}`, () => {
      const r = run({
        seed: Number(env.RAFT_SEED), n: Number(env.RAFT_N ?? 3), steps: Number(env.RAFT_STEPS ?? 3000),
        membership: env.RAFT_MEMBERSHIP === '1',
      })
      expect(r.committed).toBeGreaterThan(0)
    })
    return
  }
  for (const n of [3, 5, 7]) {
    it(`${n} replicas, ${seeds} seeds, loss/dup/reorder/crash/partition`, () => {
      let committed = 0
      let reads = 0
      for (let seed = 1; seed <= seeds; seed++) {
        const r = run({ seed: seed * 7919 + n, n, steps: 3000 })
        committed += r.committed
        reads += r.reads
      }
      // The runs did real work (not a cluster that never elected anyone).
      expect(committed).toBeGreaterThan(seeds * 10)
      expect(reads).toBeGreaterThan(0)
    })
  }
  it(`membership changes and leader transfers under faults, ${seeds} seeds`, () => {
    for (let seed = 1; seed <= seeds; seed++) run({ seed: seed * 104729, n: 5, steps: 3000, membership: true })
  })
})
