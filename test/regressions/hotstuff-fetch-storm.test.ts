/**
 * Regression (found profiling test/protocols/liveness.test.ts, n = 7 seed 2: 8092 BLOCK-REQUESTs in 4 s of virtual
 * time, 436 after the fix): a BLOCK-RESPONSE carrying a chain of k ancestors made the replica send a BLOCK-REQUEST for
 * the parent of every block in it, although the response itself carried each of those parents next; every one of
 * those requests was answered with up to 64 blocks again. Fix: ask only for the parent of the last block of a response.
 */
import { describe, expect, it } from 'vitest'
import { blockHash } from '../../protocols/hotstuff/signing.ts'
import { Fixture, messagesOfType } from '../hotstuff/fixtures.ts'

describe('regression: hotstuff block fetching', () => {
  it('a response that carries the whole missing chain needs no further request', () => {
    const fx = new Fixture(4)
    const r = fx.replica(0)
    const b1 = fx.block(1, null, [fx.request(1)])
    const b2 = fx.block(2, b1)
    const b3 = fx.block(3, b2)
    const b5 = fx.block(5, b3)
    r.receive(1, fx.propose(b5))
    expect(messagesOfType(r.ready().messages, 'BlockRequest').length).toBe(1)
    r.receive(1, { type: 'BlockResponse', hash: blockHash(b3), blocks: [b3, b2, b1] })
    const out = r.ready().messages
    expect(messagesOfType(out, 'BlockRequest')).toEqual([])
    expect(r.debugState().lastVotedView).toBe(5)
    expect(r.debugState().committedHeight).toBe(1) // b3 <- b2 <- b1 in views 3, 2, 1, certified by b5's justify
  })

  it('a response that ends before the chain does asks once, for the parent of its last block', () => {
    const fx = new Fixture(4)
    const r = fx.replica(0)
    const b1 = fx.block(1, null)
    const b2 = fx.block(2, b1)
    const b3 = fx.block(3, b2)
    const b5 = fx.block(5, b3)
    r.receive(1, fx.propose(b5))
    r.ready()
    r.receive(1, { type: 'BlockResponse', hash: blockHash(b3), blocks: [b3, b2] })
    expect(messagesOfType(r.ready().messages, 'BlockRequest').map(m => m.message.hash)).toEqual([blockHash(b1)])
  })
})
