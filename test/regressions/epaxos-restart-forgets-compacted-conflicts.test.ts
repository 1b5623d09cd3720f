/**
 * Regression (randomized n = 3 seed 7, two keys; n = 5 seed 4): two interfering committed instances, neither naming
 * the other in its deps.
 *
 * A replica rebuilt its conflict table from its log after a restart, and compaction had already forgotten the
 * instances executed everywhere (1.1 .. 1.3 here). A later command (2.52) whose fast-quorum member had restarted got
 * deps that left them out. The order stayed right (they were executed everywhere first), but the invariant EPaxos
 * rests on, and anything that relies on it (a replica that never executed them), did not hold. The snapshot's meta now
 * carries the conflict table, so it survives compaction and restarts.
 */
import { describe, expect, it } from 'vitest'
import { runRandomized } from '../epaxos/randomized.ts'

describe('epaxos: conflict table across compaction and restart', () => {
  for (const run of [{ n: 3, seed: 7, keys: 2 }, { n: 5, seed: 4, keys: 2 }]) {
    it(`n=${run.n} seed ${run.seed}: every two interfering committed instances name one another one way`, () => {
      const result = runRandomized(run)
      expect(result.violations, `replay: ${result.replay}`).toEqual([])
    })
  }
})
