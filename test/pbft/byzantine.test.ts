/** The Byzantine adversary's own behaviour: each strategy really misbehaves the way it says (the randomized and sim
 * tests show that correct replicas survive it). */
import { describe, expect, it } from 'vitest'
import { bytesEqual } from '../../core/codec/client-messages.ts'
import { ConfigError } from '../../core/errors.ts'
import { EMPTY_DURABLE_STATE } from '../../core/storage.ts'
import {
  BYZANTINE_STRATEGIES, ByzantineReplica, byzantineFactory, createByzantineReplica, createTwins,
} from '../../protocols/pbft/byzantine/index.ts'
import { PbftReplica } from '../../protocols/pbft/replica.ts'
import { pbft } from '../../protocols/pbft/descriptor.ts'
import type { PbftMessage, PrePrepare } from '../../protocols/pbft/messages.ts'
import { verifySignature } from '../../protocols/pbft/signing.ts'
import { PbftHarness } from './harness.ts'

describe('PBFT Byzantine strategies', () => {
  it('lists its strategies on the descriptor and names unknown ones', () => {
    expect(pbft.adversary?.strategies).toEqual(BYZANTINE_STRATEGIES)
    const h = new PbftHarness({ n: 4, seed: 'adv' })
    const ctx = h.context(0, EMPTY_DURABLE_STATE)
    expect(() => pbft.adversary!.createReplica('sneaky', ctx)).toThrow(ConfigError)
    expect(() => pbft.adversary!.createReplica('sneaky', ctx)).toThrow(/unknown PBFT strategy "sneaky" \(known: silent, equivocate/)
    for (const s of BYZANTINE_STRATEGIES) expect(createByzantineReplica(s, ctx, ctx.rng).status().epoch).toBe(0)
  })

  it('a faulty replica that throws stays inside its wrapper: silent from then on, the cluster unharmed', () => {
    let wrapper: ByzantineReplica<PbftMessage> | undefined
    let ticks = 0
    const h = new PbftHarness({ n: 4, seed: 'contained', clients: 2, byzantine: new Map([[3, ctx => {
      wrapper = new ByzantineReplica('throws', new PbftReplica(ctx), {
        onTick: () => { if (++ticks === 20) throw new Error('strategy bug') },
      })
      return wrapper
    }]]) })
    expect(() => h.run(200)).not.toThrow()
    expect((wrapper!.failure as Error).message).toBe('strategy bug')
    expect(wrapper!.ready().messages).toEqual([])
    expect(h.completedRequests).toBeGreaterThan(20)
    expect(h.violations).toEqual([])
  })

  it('equivocate: the primary sends two validly signed batches for one seq', () => {
    const sent: Array<{ to: number; message: PbftMessage }> = []
    const h = new PbftHarness({ n: 4, seed: 'equivocate', clients: 1, byzantine: new Map([[0, (ctx) => {
      const r = byzantineFactory('equivocate')(ctx)
      const ready = r.ready.bind(r)
      r.ready = () => { const out = ready(); sent.push(...out.messages); return out }
      return r
    }]]) })
    h.run(5)
    const pps = sent.filter((m): m is { to: number; message: PrePrepare } => m.message.type === 'PrePrepare' && m.message.seq === 1)
    expect(pps.length).toBe(3)
    const digests = new Set(pps.map(p => Buffer.from(p.message.digest).toString('hex')))
    expect(digests.size).toBe(2)
    for (const p of pps) expect(verifySignature(p.message, h.verifier, id => h.signerOf(id).publicKey)).toBe(true)
    expect(h.drops()).toEqual({})
  })

  for (const signer of ['node', 'sim'] as const) {
    it(`bad-signature: correct replicas drop every message it signs (signer ${signer})`, () => {
      const h = new PbftHarness({ n: 4, seed: 'bad-sig', clients: 1, signer, byzantine: new Map([[2, byzantineFactory('bad-signature')]]) })
      h.run(60)
      expect(h.completedRequests).toBeGreaterThan(5)
      expect(h.drops()['bad-signature']).toBeGreaterThan(10)
    })
  }

  it('twins: two replicas with one identity and key', () => {
    const h = new PbftHarness({ n: 4, seed: 'twins' })
    const [a, b] = createTwins(h.context(1, EMPTY_DURABLE_STATE))
    expect(a.id).toBe(1)
    expect(b.id).toBe(1)
    expect(a).not.toBe(b)
  })

  it('censor: the primary orders the other clients but not the censored ones', () => {
    const h = new PbftHarness({
      n: 4, seed: 'censor', clients: 2, options: { requestTimeoutTicks: 1000, clientRetryTicks: 1000 },
      byzantine: new Map([[0, byzantineFactory('censor')]]),
    })
    h.run(100)
    expect(h.clients[0]!.id % 2).toBe(0)
    expect(h.clients[0]!.completedAt.length).toBe(0)
    expect(h.clients[1]!.completedAt.length).toBeGreaterThan(5)
  })

  it('lying-view-change: its view-changes carry a certificate correct replicas refuse', () => {
    const h = new PbftHarness({
      n: 4, seed: 'liar', clients: 1, options: { requestTimeoutTicks: 20, clientRetryTicks: 10 },
      byzantine: new Map([[0, byzantineFactory('lying-view-change')]]),
    })
    expect(h.stepUntil(() => h.completedRequests > 0, 200)).toBe(true)
    expect(h.drops()['invalid-view-change']).toBeGreaterThan(0)
    expect(bytesEqual(h.stateOf(1), h.stateOf(2))).toBe(true)
  })
})
