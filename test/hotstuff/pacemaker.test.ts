/**
 * The pacemaker (paper sections 4.4 and 5): view timers only while work is pending, exponential backoff with a cap,
 * NEW-VIEW carrying the highest QC (and the last vote), the f+1 rule that synchronises views, and a leader that
 * proposes once it holds 2f+1 NEW-VIEWs for its view.
 */
import { describe, expect, it } from 'vitest'
import { Pacemaker, leaderOf } from '../../protocols/hotstuff/pacemaker.ts'
import { GENESIS_QC } from '../../protocols/hotstuff/replica.ts'
import { signNewView } from '../../protocols/hotstuff/signing.ts'
import { Fixture, messagesOfType } from './fixtures.ts'

describe('Pacemaker', () => {
  it('leaders rotate: the leader of view v is members[v mod n]', () => {
    expect([0, 1, 2, 3, 4, 5].map(v => leaderOf(v, [0, 1, 2, 3]))).toEqual([0, 1, 2, 3, 0, 1])
  })

  it('an idle replica never times out; with work the timeout doubles per consecutive timeout up to the cap', () => {
    const p = new Pacemaker({ viewTimeoutTicks: 10, maxViewTimeoutTicks: 50 })
    for (let t = 1; t <= 1000; t++) expect(p.tick(t, false)).toBe(false)
    const fired: number[] = []
    for (let t = 1001; t <= 1400; t++) if (p.tick(t, true)) fired.push(t)
    const gaps = fired.map((t, i) => t - (i === 0 ? 1000 : fired[i - 1]!))
    expect(gaps.slice(0, 5)).toEqual([10, 20, 40, 50, 50])
    expect(p.curView).toBe(1 + fired.length)
    p.progress()
    expect(p.timeoutTicks).toBe(10)
  })

  it('the f+1 rule joins the highest view that f+1 others have reached, never one only f claim', () => {
    const fx = new Fixture(4)
    const p = new Pacemaker({ viewTimeoutTicks: 10, maxViewTimeoutTicks: 50 })
    p.record(signNewView(fx.signer(1), 100, GENESIS_QC, null, 1))
    expect(p.joinTarget(0, 2)).toBeNull() // one faulty replica cannot drag anyone to view 100
    p.record(signNewView(fx.signer(2), 5, GENESIS_QC, null, 2))
    expect(p.joinTarget(0, 2)).toBe(5)
    expect(p.countAtOrAbove(5)).toBe(2)
    expect(p.record(signNewView(fx.signer(2), 4, GENESIS_QC, null, 2))).toBe(false) // only the highest per sender
  })
})

describe('replica timeouts and view synchronisation', () => {
  const fx = new Fixture(4, { viewTimeoutTicks: 5, maxViewTimeoutTicks: 20 })

  it('a replica with a pending command and no proposal broadcasts NEW-VIEW(view+1, highQC, lastVote) and forwards the command', () => {
    const r = fx.replica(2) // leader of view 2, not of view 1
    r.propose(fx.request(1), 1000)
    r.ready()
    const at: number[] = []
    for (let t = 1; t <= 60; t++) {
      r.tick()
      const out = r.ready().messages
      const nv = messagesOfType(out, 'NewView')
      if (nv.length > 0) {
        at.push(t)
        expect(nv.map(m => m.to).sort()).toEqual([0, 1, 3])
        expect(nv[0]!.message.highQC.view).toBe(0)
        expect(messagesOfType(out, 'Forward')[0]!.message.requests.map(q => q.seq)).toEqual([1])
      }
    }
    // 5, then 10, then 20 (the cap), 20...
    expect(at.slice(0, 4)).toEqual([5, 15, 35, 55])
  })

  it('an idle cluster sends nothing, ever', () => {
    const replicas = fx.members.map(id => fx.replica(id))
    for (let t = 0; t < 500; t++) for (const r of replicas) { r.tick(); expect(r.ready().messages).toEqual([]) }
  })

  it('a leader with 2f+1 NEW-VIEWs for its view proposes, extending the highest QC they carry', () => {
    const leader = fx.replica(3) // leader of view 3
    leader.propose(fx.request(1), 1000)
    leader.ready()
    leader.receive(0, signNewView(fx.signer(0), 3, GENESIS_QC, null, 0))
    expect(messagesOfType(leader.ready().messages, 'Proposal')).toEqual([])
    // The second makes f+1: the leader joins view 3 itself, and its own NEW-VIEW completes 2f+1.
    leader.receive(1, signNewView(fx.signer(1), 3, GENESIS_QC, null, 1))
    const proposal = messagesOfType(leader.ready().messages, 'Proposal')
    expect(proposal.map(p => p.to).sort()).toEqual([0, 1, 2])
    expect(proposal[0]!.message.block.view).toBe(3)
    expect(proposal[0]!.message.block.justify.view).toBe(0)
    expect(proposal[0]!.message.block.commands.map(q => q.seq)).toEqual([1])
  })

  it('f+1 NEW-VIEWs for higher views pull a replica forward (it joins and says so)', () => {
    const r = fx.replica(0)
    r.receive(1, signNewView(fx.signer(1), 9, GENESIS_QC, null, 1))
    expect(r.debugState().view).toBe(1)
    r.receive(2, signNewView(fx.signer(2), 9, GENESIS_QC, null, 2))
    expect(r.debugState().view).toBe(9)
    expect(messagesOfType(r.ready().messages, 'NewView').map(m => m.message.view)).toContain(9)
  })
})
