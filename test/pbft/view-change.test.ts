/**
 * Paper section 4.4: view changes. A faulty primary (silent, censoring, equivocating, lying) is replaced and progress
 * resumes within a bounded number of ticks; consecutive faulty primaries are skipped with doubling timeouts; a
 * NEW-VIEW is recomputed by every backup and a tampered one is refused.
 */
import { describe, expect, it } from 'vitest'
import type { NodeId } from '../../core/types.ts'
import { byzantineFactory, type ByzantineStrategy } from '../../protocols/pbft/byzantine/index.ts'
import { batchDigest, NULL_DIGEST } from '../../protocols/pbft/digest.ts'
import type { PrePrepare, ViewChange } from '../../protocols/pbft/messages.ts'
import { sign } from '../../protocols/pbft/signing.ts'
import { DEFAULT_PBFT_OPTIONS } from '../../protocols/pbft/options.ts'
import { backoffTicks, buildNewView, checkNewView, planNewView, type QuorumContext } from '../../protocols/pbft/view-change.ts'
import { PbftHarness } from './harness.ts'
import type { ClientRequest } from '../../core/types.ts'

const E = new Uint8Array(0)
const TIMING = { clientRetryTicks: 20, requestTimeoutTicks: 40, viewChangeTicks: 40, retransmitTicks: 5, checkpointInterval: 16 }
/**
 * The bound we promise for one faulty primary: the client retries to everyone after clientRetryTicks, backups time the
 * request out after requestTimeoutTicks, and the view change plus the three ordering phases take a few ticks more
 * (SLACK covers message delays and a retransmission round).
 */
const SLACK = 20
const ONE_FAULTY_PRIMARY_BOUND = TIMING.clientRetryTicks + TIMING.requestTimeoutTicks + SLACK

function cluster(n: number, faulty: ReadonlyArray<[NodeId, ByzantineStrategy]>, seed: string, clients = 2): PbftHarness {
  return new PbftHarness({
    n, seed, clients, options: TIMING, byzantine: new Map(faulty.map(([id, s]) => [id, byzantineFactory(s)])),
  })
}

function honestViews(h: PbftHarness): number[] {
  return h.ids.filter(id => h.isHonest(id)).map(id => h.replica(id).status().epoch)
}

describe('PBFT view change (section 4.4)', () => {
  for (const strategy of ['silent', 'equivocate', 'bad-signature'] as const) {
    it(`a ${strategy} primary is replaced and every client completes within ${ONE_FAULTY_PRIMARY_BOUND} ticks`, () => {
      const h = cluster(4, [[0, strategy]], `vc-${strategy}`)
      const done = h.stepUntil(() => h.clients.every(c => c.completedAt.length > 0), ONE_FAULTY_PRIMARY_BOUND)
      expect(done, `completed by tick ${h.now}: ${h.clients.map(c => c.completedAt.length)}`).toBe(true)
      expect(h.violations).toEqual([])
      // Progress continues in the new view, without further view changes.
      const views = honestViews(h)
      expect(views.every(v => v === views[0] && v >= 1)).toBe(true)
      const before = h.completedRequests
      h.run(200)
      expect(h.completedRequests).toBeGreaterThan(before + 20)
      expect(honestViews(h)).toEqual(views)
    })
  }

  it('a censoring primary: the censored clients complete within the bound after a view change', () => {
    // Clients 1000 and 1002 are censored (even ids), 1001 is not.
    const h = cluster(4, [[0, 'censor']], 'vc-censor', 3)
    expect(h.stepUntil(() => h.clients.every(c => c.completedAt.length > 0), ONE_FAULTY_PRIMARY_BOUND)).toBe(true)
    expect(h.clients[1]!.completedAt[0]!).toBeLessThan(10)
    expect(honestViews(h).every(v => v === 1)).toBe(true)
    expect(h.violations).toEqual([])
  })

  it('consecutive faulty primaries (n=7: replicas 0 and 1 silent) are skipped', () => {
    const bound = ONE_FAULTY_PRIMARY_BOUND + backoffTicks(TIMING.viewChangeTicks, 0, DEFAULT_PBFT_OPTIONS.maxTimeoutDoublings)
    const h = cluster(7, [[0, 'silent'], [1, 'silent']], 'vc-two-silent')
    expect(h.stepUntil(() => h.clients.every(c => c.completedAt.length > 0), bound)).toBe(true)
    expect(honestViews(h).every(v => v === 2)).toBe(true)
    expect(h.violations).toEqual([])
  })

  it('a lying next primary (n=7: 0 silent, 1 sends a NEW-VIEW that differs from its V) is refused, then skipped', () => {
    const bound = ONE_FAULTY_PRIMARY_BOUND + backoffTicks(TIMING.viewChangeTicks, 0, DEFAULT_PBFT_OPTIONS.maxTimeoutDoublings)
    const h = cluster(7, [[0, 'silent'], [1, 'lying-view-change']], 'vc-lying')
    expect(h.stepUntil(() => h.clients.every(c => c.completedAt.length > 0), bound)).toBe(true)
    expect(honestViews(h).every(v => v === 2)).toBe(true)
    const drops = h.drops()
    expect(drops['invalid-new-view']).toBeGreaterThan(0)
    expect(drops['invalid-view-change']).toBeGreaterThan(0)
    expect(h.violations).toEqual([])
  })

  it('timeouts double across successive view changes without progress (n=10: primaries 0, 1, 2 silent)', () => {
    const h = cluster(10, [[0, 'silent'], [1, 'silent'], [2, 'silent']], 'vc-doubling', 1)
    const observer = 5
    const enteredAt = new Map<number, number>()
    const done = h.stepUntil(() => {
      const s = h.replica(observer).status()
      if (s.role === 'view-change' && !enteredAt.has(s.epoch)) enteredAt.set(s.epoch, h.now)
      return h.completedRequests > 0
    }, 1000)
    expect(done).toBe(true)
    const t1 = enteredAt.get(1)!
    const t2 = enteredAt.get(2)!
    const t3 = enteredAt.get(3)!
    // Each wait starts once 2f+1 view-changes for the target are in (a tick or two after entering it).
    expect(t2 - t1).toBeGreaterThanOrEqual(TIMING.viewChangeTicks)
    expect(t2 - t1).toBeLessThanOrEqual(TIMING.viewChangeTicks + 3)
    expect(t3 - t2).toBeGreaterThanOrEqual(2 * TIMING.viewChangeTicks)
    expect(t3 - t2).toBeLessThanOrEqual(2 * TIMING.viewChangeTicks + 3)
    expect(honestViews(h).every(v => v === 3)).toBe(true)
  })
})

describe('NEW-VIEW computation (O from V)', () => {
  const h = new PbftHarness({ n: 4, seed: 'new-view', clients: 1 })
  const members = h.ids
  const q: QuorumContext = { members, f: 1, quorum: 3, window: 128, verifier: h.verifier, publicKeyOf: id => h.signerOf(id).publicKey }
  const req = (seq: number): ClientRequest => ({ clientId: 1000, seq, readOnly: false, op: new Uint8Array([seq]), signature: new Uint8Array(64) })

  function certified(view: number, seq: number, batch: ClientRequest[]) {
    const primary = view % 4
    const prePrepare: PrePrepare = sign(h.signerOf(primary), { type: 'PrePrepare', view, seq, digest: batchDigest(batch), batch, replica: primary, signature: E })
    const prepares = members.filter(id => id !== primary).slice(0, 2).map(id => sign(h.signerOf(id), {
      type: 'Prepare' as const, view, seq, digest: prePrepare.digest, replica: id, signature: E,
    }))
    return { prePrepare, prepares }
  }
  function viewChange(from: number, newView: number, prepared: ReturnType<typeof certified>[]): ViewChange {
    return sign(h.signerOf(from), { type: 'ViewChange', newView, stableSeq: 0, checkpointProof: [], prepared, replica: from, signature: E })
  }

  const vcs = [
    viewChange(0, 2, [certified(0, 1, [req(1)]), certified(0, 3, [req(3)])]),
    viewChange(1, 2, [certified(1, 1, [req(9)])]),
    viewChange(3, 2, []),
  ]

  it('takes the batch prepared in the highest view for each seq and fills gaps with null requests', () => {
    const plan = planNewView(vcs)
    expect(plan.stable.seq).toBe(0)
    expect(plan.orders.map(o => o.seq)).toEqual([1, 2, 3])
    expect(plan.orders[0]!.batch).toEqual([req(9)])
    expect(plan.orders[1]!.digest).toEqual(NULL_DIGEST)
    expect(plan.orders[2]!.batch).toEqual([req(3)])
  })

  it('accepts the honest NEW-VIEW and refuses tampered ones', () => {
    const nv = buildNewView(h.signerOf(2), 2, 2, vcs)
    expect(checkNewView(nv, q)).toHaveProperty('plan')
    const dropped = sign(h.signerOf(2), { ...nv, prePrepares: nv.prePrepares.slice(0, 2) })
    expect(checkNewView(dropped, q)).toEqual({ error: expect.stringMatching(/re-issues 2 pre-prepares, recomputed 3/) })
    const nulled = sign(h.signerOf(2), { ...nv, prePrepares: [sign(h.signerOf(2), { ...nv.prePrepares[0]!, batch: [], digest: NULL_DIGEST }), ...nv.prePrepares.slice(1)] })
    expect(checkNewView(nulled, q)).toEqual({ error: expect.stringMatching(/differs from the recomputed/) })
    const tooFew = sign(h.signerOf(2), { ...nv, viewChanges: vcs.slice(0, 2) })
    expect(checkNewView(tooFew, q)).toEqual({ error: expect.stringMatching(/2 of 3 view-changes/) })
    const wrongPrimary = sign(h.signerOf(3), { ...nv, replica: 3 })
    expect(checkNewView(wrongPrimary, q)).toEqual({ error: expect.stringMatching(/not its primary/) })
  })
})
