/**
 * The leader-following client: follows redirects, skips replicas that went silent (and hints naming them), and backs
 * off exponentially only while nobody answers.
 */
import { describe, expect, it } from 'vitest'
import { LeaderClient, type LeaderClientOptions } from '../../core/clients/leader-client.ts'
import { createRng } from '../../core/random.ts'
import type { ClientReply, ClientRequest, NodeId } from '../../core/types.ts'

const request: ClientRequest = { clientId: 1000, seq: 1, readOnly: false, op: new Uint8Array([1]), signature: new Uint8Array(0) }
const reply = (status: ClientReply['status'], leaderHint: NodeId): ClientReply =>
  ({ clientId: 1000, seq: 1, status, result: new Uint8Array([7]), leaderHint, epoch: 1, error: '' })

function client(options: Partial<LeaderClientOptions> = { initialRetryTicks: 10 }) {
  const c = new LeaderClient({ id: 1000, replicas: [0, 1, 2], preferredReplica: 0, options: {}, rng: createRng(1), signer: { publicKey: new Uint8Array(32), sign: () => new Uint8Array(64) } },
    { retryTicks: 10, redirectBackoffTicks: 2, ...options })
  const sentTo = (): NodeId[] => c.ready().messages.map(m => m.to)
  const tick = (k: number): NodeId[] => { const out: NodeId[] = []; for (let i = 0; i < k; i++) { c.tick(); out.push(...sentTo()) } return out }
  return { c, sentTo, tick }
}

describe('leader-following client', () => {
  it('follows a redirect to the named leader and completes on its answer', () => {
    const { c, sentTo } = client()
    c.submit(request)
    const first = sentTo()[0]!
    const leader = (first + 1) % 3
    c.receive(first, reply('redirect', leader))
    expect(sentTo()).toEqual([leader])
    c.receive(leader, reply('ok', leader))
    expect(c.ready().completed).toEqual({ seq: 1, result: new Uint8Array([7]) })
  })

  it('does not go back to a replica that stayed silent, even when a follower still names it as leader', () => {
    const { c, sentTo, tick } = client()
    c.submit(request)
    const dead = sentTo()[0]!
    const retried = tick(10)           // no answer within retryTicks: try another replica
    expect(retried.length).toBe(1)
    const follower = retried[0]!
    expect(follower).not.toBe(dead)
    c.receive(follower, reply('redirect', dead)) // a follower that has not noticed the crash
    expect(sentTo()).toEqual([])        // not followed
    const next = tick(2)                // after the short backoff: the third replica, not the dead one
    expect(next).toEqual([[0, 1, 2].find(id => id !== dead && id !== follower)!])
  })

  it('doubles the wait after each unanswered retry and resets it when a replica answers', () => {
    const { c, sentTo, tick } = client()
    c.submit(request)
    sentTo()
    const gaps: number[] = []
    let since = 0
    for (let t = 0; t < 200 && gaps.length < 4; t++) {
      c.tick()
      since++
      if (sentTo().length > 0) { gaps.push(since); since = 0 }
    }
    expect(gaps).toEqual([10, 20, 40, 80])
    c.receive(0, reply('redirect', -1)) // someone answered: back to short waits
    expect(tick(2).length).toBe(1)
  })

  /** Ticks until the client sends its outstanding request again (none within `limit`: Infinity). */
  function waitBeforeRetry(c: LeaderClient, limit = 1000): number {
    for (let t = 1; t <= limit; t++) { c.tick(); if (c.ready().messages.length > 0) return t }
    return Infinity
  }

  it('waits conservatively before a first round trip is known, then as long as the round trips it measured need (RFC 6298)', () => {
    const { c } = client({})
    let seq = 0
    const next = () => { seq++; c.submit({ ...request, seq }); c.ready() }
    const answerAfter = (ticks: number) => {
      for (let t = 0; t < ticks; t++) c.tick()
      c.receive(0, { ...reply('ok', 0), seq })
      c.ready()
    }
    next()
    expect(waitBeforeRetry(c)).toBe(30) // 3 x retryTicks without a sample
    c.receive(0, { ...reply('ok', 0), seq })
    // A slow cluster (answers after 30 ticks, above retryTicks = 10): the wait grows past the round trip, no retry storm.
    for (let i = 0; i < 8; i++) { next(); answerAfter(30) }
    next()
    const slow = waitBeforeRetry(c)
    expect(slow).toBeGreaterThan(30)
    c.receive(0, { ...reply('ok', 0), seq })
    // Fast answers again: the wait comes back down to retryTicks, so a crashed leader is still noticed quickly.
    for (let i = 0; i < 40; i++) { next(); answerAfter(1) }
    next()
    expect(waitBeforeRetry(c)).toBe(10)
  })
})

describe('leader-following client and a busy replica (admission control)', () => {
  it('waits out a busy answer and asks the same replica again, without marking it silent or rotating', () => {
    const { c, sentTo, tick } = client()
    c.submit(request)
    const leader = sentTo()[0]!
    c.receive(leader, { ...reply('busy', leader), result: new Uint8Array(0) })
    expect(sentTo()).toEqual([])
    // First busy answer: a wait of 1 or 2 ticks (1 x 2^0, plus jitter below it).
    const resent = tick(2)
    expect(resent).toEqual([leader])
    c.receive(leader, reply('ok', leader))
    expect(c.ready().completed).toEqual({ seq: 1, result: new Uint8Array([7]) })
  })

  it('doubles its waits with each busy answer in a row, up to a bound, and never gives the leader up', () => {
    const { c, sentTo, tick } = client()
    c.submit(request)
    const leader = sentTo()[0]!
    const waits: number[] = []
    for (let round = 0; round < 8; round++) {
      c.receive(leader, { ...reply('busy', leader), result: new Uint8Array(0) })
      let waited = 0
      let out: NodeId[] = []
      while (out.length === 0 && waited < 100) { out = tick(1); waited++ }
      expect(out).toEqual([leader])
      waits.push(waited)
    }
    for (let i = 0; i < waits.length; i++) {
      const base = 2 ** Math.min(i, 4)
      expect(waits[i]).toBeGreaterThanOrEqual(base)
      expect(waits[i]).toBeLessThan(2 * base)
    }
  })

  it('goes at once to the leader a busy follower names', () => {
    const { c, sentTo } = client()
    c.submit(request)
    const follower = sentTo()[0]!
    const leader = (follower + 1) % 3
    c.receive(follower, { ...reply('busy', leader), result: new Uint8Array(0) })
    expect(sentTo()).toEqual([leader])
  })
})
