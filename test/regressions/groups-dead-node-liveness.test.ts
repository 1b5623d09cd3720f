/**
 * Regression (found by `soak --protocol raft --groups 16 --n 5 --fsync-ms 1`, seed 57): two of five nodes refused
 * their damaged storage and stayed down for good. Two bugs kept operations invoked after the final heal waiting
 * beyond the liveness bound:
 * - the leader balancer kept handing leaderships to their preferred node although it was dead (Raft then refuses
 *   proposals and points clients at the target until the transfer is abandoned); it now asks only peers heard from
 *   within the last second;
 * - a client's session of a group it had not used for a while first asked the node it last knew, dead meanwhile, and
 *   waited out a whole backed-off timeout there; sessions now share which replicas went silent (SilentReplicas), so
 *   one group's experience spares the others.
 */
import { describe, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'
import { expectLinearizable } from '../support/simulation.ts'

describe('regression: a sharded store with two nodes down for good stays live', () => {
  it('raft, 5 nodes x 16 groups, nemesis seed 57', () => {
    expectLinearizable({
      protocol: protocols.get('raft')!, n: 5, seed: 57, ops: 500, clients: 5, faults: 'nemesis', faultWindowMs: 8000,
      fsyncMs: 1, workload: { keys: 32 }, groups: { count: 16 },
    })
  })
})
