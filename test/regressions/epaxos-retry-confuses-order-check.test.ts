/**
 * Regression (randomized n = 3 seed 13, two keys): the simulator's per-key order check reported a misorder that did
 * not happen.
 *
 * A leaderless client that times out resends its request to another replica, so one request (1002:26) is committed
 * in two instances and executed twice on its keys (the session table applies it once). A replica restarted from its
 * snapshot and executed the later instance first; the check looked the request up by id, found the earlier instance's
 * place and expected the replica to go on from there. It now resumes a restarted replica from its own past, by the
 * local index of what it executes (net/sim/conflict-order.ts).
 */
import { describe, expect, it } from 'vitest'
import { runRandomized } from '../epaxos/randomized.ts'

describe('epaxos: a retried request executed twice on a key, and a restart', () => {
  it('is not reported as interfering commands in different orders', () => {
    const result = runRandomized({ n: 3, seed: 13, keys: 2 })
    expect(result.violations, `replay: ${result.replay}`).toEqual([])
  })
})
