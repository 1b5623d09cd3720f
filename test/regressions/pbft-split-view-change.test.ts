/**
 * Regression (found by `soak --protocol pbft`, n = 4, seed 13): replica 2 refused its damaged storage and stayed down
 * for good; after the heal replicas 0 and 1 were changing to view 1 and replica 3 to view 2. Neither view could gather
 * 2f+1 VIEW-CHANGEs, and no view was asked for by f+1 others, so nothing committed again. A view change without a
 * quorum for a whole view-change timeout now follows the smallest higher view another replica asks for.
 */
import { describe, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'
import { expectLinearizable } from '../support/simulation.ts'

describe('regression: PBFT replicas split between two view changes find each other', () => {
  it('pbft n=4, nemesis seed 13 (one replica down for good)', () => {
    expectLinearizable({ protocol: protocols.get('pbft')!, n: 4, seed: 13, ops: 500, clients: 5, faults: 'nemesis', faultWindowMs: 8000 })
  })
})
