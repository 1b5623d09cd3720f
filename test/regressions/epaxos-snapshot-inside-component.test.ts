/**
 * Regression (randomized n = 3 seed 9, one key): a restarted replica executed two interfering commands in the other
 * order.
 *
 * 1.4 depended on 2.4 and, through 0.x, 2.4 on 1.4: one strongly connected component, executed 1.4 then 2.4 (seq,
 * then replica) everywhere. The host's snapshot fell inside that component, after 0.x. After a crash the replica
 * restored it and executed the rest again, but with 0.x executed the cycle was gone from the graph: 1.4 -> 2.4 alone
 * ran 2.4 first. The snapshot's executed set now names the rest of a component it cuts, in order, and a restarted
 * replica runs that first (protocols/epaxos/executed-set.ts).
 */
import { describe, expect, it } from 'vitest'
import { runRandomized } from '../epaxos/randomized.ts'

describe('epaxos: a snapshot taken inside a strongly connected component', () => {
  it('a restarted replica finishes the component in the order it had, not as the smaller graph left would order it', () => {
    const result = runRandomized({ n: 3, seed: 9, keys: 1 })
    expect(result.violations, `replay: ${result.replay}`).toEqual([])
    expect(result.recoveryTicks).not.toBeNull()
  })
})
