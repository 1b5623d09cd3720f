/**
 * The Byzantine-protocol client (f+1 matching replies) and a busy primary: it asks the first-attempt replicas again
 * after doubled waits instead of broadcasting (which would start every backup's view-change timer against a primary
 * that is only overloaded), and broadcasts anyway after a bounded number of busy rounds (a Byzantine primary answering
 * busy forever cannot stall a client for longer).
 */
import { describe, expect, it } from 'vitest'
import { QuorumClient } from '../../core/clients/quorum-client.ts'
import type { ClientReply, ClientRequest, NodeId } from '../../core/types.ts'

const request: ClientRequest = { clientId: 1000, seq: 1, readOnly: false, op: new Uint8Array([1]), signature: new Uint8Array(0) }
const reply = (status: ClientReply['status']): ClientReply =>
  ({ clientId: 1000, seq: 1, status, result: status === 'ok' ? new Uint8Array([7]) : new Uint8Array(0), leaderHint: 0, epoch: 0, error: '' })
const RETRY = 10

function client() {
  const c = new QuorumClient({ replicas: [0, 1, 2, 3], signer: { publicKey: new Uint8Array(32), sign: () => new Uint8Array(64) } },
    { matchingReplies: 2, retryTicks: RETRY, firstAttemptTo: view => [view % 4] })
  const sentTo = (): NodeId[] => c.ready().messages.map(m => m.to)
  /** Tick until something is sent (at most `limit` ticks): what was sent and after how many ticks. */
  const untilSent = (limit = 1000): { to: NodeId[]; ticks: number } => {
    for (let t = 1; t <= limit; t++) { c.tick(); const to = sentTo(); if (to.length > 0) return { to, ticks: t } }
    return { to: [], ticks: limit }
  }
  return { c, sentTo, untilSent }
}

describe('quorum client and a busy primary', () => {
  it('without busy answers, broadcasts to every replica after the retry period', () => {
    const { c, sentTo, untilSent } = client()
    c.submit(request)
    expect(sentTo()).toEqual([0])
    expect(untilSent()).toEqual({ to: [0, 1, 2, 3], ticks: RETRY })
  })

  it('asks the primary again after waits doubling from one tick while it answers busy, then broadcasts after eight rounds', () => {
    const { c, sentTo, untilSent } = client()
    c.submit(request)
    expect(sentTo()).toEqual([0])
    const rounds: { to: NodeId[]; ticks: number }[] = []
    for (let i = 0; i < 9; i++) {
      c.receive(0, reply('busy'))
      c.receive(0, reply('busy')) // a second busy answer in the same attempt does not lengthen the wait again
      rounds.push(untilSent())
    }
    // Waits of 1, 2, 4, 8 ticks, then capped at the retry period; the ninth busy answer is ignored: broadcast on time.
    expect(rounds.slice(0, 8)).toEqual([1, 2, 4, 8, RETRY, RETRY, RETRY, RETRY].map(ticks => ({ to: [0], ticks })))
    expect(rounds[8]).toEqual({ to: [0, 1, 2, 3], ticks: RETRY })
  })

  it('still completes on f+1 matching ok replies after busy rounds, and starts the next request afresh', () => {
    const { c, sentTo, untilSent } = client()
    c.submit(request)
    sentTo()
    c.receive(0, reply('busy'))
    untilSent()
    c.receive(0, reply('ok'))
    c.receive(1, reply('ok'))
    expect(c.ready().completed).toEqual({ seq: 1, result: new Uint8Array([7]) })
    c.submit({ ...request, seq: 2 })
    expect(sentTo()).toEqual([0])
    expect(untilSent()).toEqual({ to: [0, 1, 2, 3], ticks: RETRY })
  })

  it('ignores busy answers from outside the cluster', () => {
    const { c, sentTo, untilSent } = client()
    c.submit(request)
    sentTo()
    c.receive(99, reply('busy'))
    expect(untilSent()).toEqual({ to: [0, 1, 2, 3], ticks: RETRY })
  })
})
