/**
 * Regression (found in review): checked QCs were remembered by (view, block hash) only, so a copy of a known QC with
 * forged signatures passed as checked, and a replica could adopt it as its highQC and send it on in its proposals,
 * where every other replica refuses it. Fix: the check cache is keyed by the QC's exact bytes.
 */
import { describe, expect, it } from 'vitest'
import { blockHash } from '../../protocols/hotstuff/signing.ts'
import { Fixture } from '../hotstuff/fixtures.ts'

describe('regression: hotstuff QC check cache', () => {
  it('a known QC with one signature replaced is checked again and refused', () => {
    const fx = new Fixture(4)
    const r = fx.replica(0)
    const b1 = fx.block(1, null, [fx.request(1)])
    const b2 = fx.block(2, b1)
    r.receive(1, fx.propose(b1))
    r.receive(2, fx.propose(b2))
    const good = fx.qc(2, blockHash(b2))
    r.receive(3, fx.propose(fx.block(3, b2, [], good)))
    const forged = { ...good, votes: good.votes.map((v, i) => i === 2 ? { ...v, signature: new Uint8Array(64).fill(9) } : v) }
    r.receive(1, fx.propose(fx.block(5, b2, [], forged)))
    expect(r.dropCounts()).toEqual({ 'bad-qc': 1 })
    expect(r.debugState().lastVotedView).toBe(3)
  })
})
