/** Admission control: a bounded count of pending requests per replica, retransmissions free, stale ones aged out. */
import { describe, expect, it } from 'vitest'
import { AdmissionControl } from '../../core/admission.ts'
import { decodeReply, encodeReply } from '../../core/codec/client-messages.ts'
import type { ClientReply } from '../../core/types.ts'

describe('admission control', () => {
  it('admits up to the limit, then sheds, and admits again once a pending request is answered', () => {
    const a = new AdmissionControl(2)
    expect(a.admit(1, 0)).toBe(true)
    expect(a.admit(2, 0)).toBe(true)
    expect(a.admit(3, 0)).toBe(false)
    expect(a.shed).toBe(1)
    expect(a.pending).toBe(2)
    a.settle(1)
    expect(a.admit(3, 1)).toBe(true)
    expect(a.pending).toBe(2)
  })

  it('admits a session that is already pending (a retransmission, or its next request) without counting it twice', () => {
    const a = new AdmissionControl(1)
    expect(a.admit(7, 0)).toBe(true)
    expect(a.admit(7, 5)).toBe(true)
    expect(a.pending).toBe(1)
    expect(a.shed).toBe(0)
  })

  it('stops counting a request whose answer never came after the stale age, so lost answers do not shrink capacity', () => {
    const a = new AdmissionControl(1, 100)
    expect(a.admit(1, 0)).toBe(true)
    expect(a.admit(2, 99)).toBe(false)
    expect(a.admit(2, 100)).toBe(true)
    expect(a.pending).toBe(1)
  })

  it('refuses a limit that is not a positive integer, and takes Infinity as no limit', () => {
    expect(() => new AdmissionControl(0)).toThrow(/maxPendingRequests must be an integer >= 1.*got 0/)
    expect(() => new AdmissionControl(1.5)).toThrow(/got 1.5/)
    const open = new AdmissionControl(Infinity)
    for (let s = 0; s < 10_000; s++) expect(open.admit(s, 0)).toBe(true)
  })
})

describe('the busy reply on the wire', () => {
  const busy: ClientReply = { clientId: 5, seq: 9, status: 'busy', result: new Uint8Array(0), leaderHint: 2, epoch: 3,
    error: 'too many requests: 4 pending at replica 0 (at most 4); retry later' }

  it('round-trips, and keeps the codes of the older statuses (a new status is appended, never reordered)', () => {
    expect(decodeReply(encodeReply(busy))).toEqual(busy)
    const code = (status: ClientReply['status']) => encodeReply({ ...busy, status })[2]
    expect([code('ok'), code('redirect'), code('error'), code('busy')]).toEqual([0, 1, 2, 3])
  })

  it('refuses an unknown status code with a message naming it', () => {
    const bytes = encodeReply(busy)
    bytes[2] = 4
    expect(() => decodeReply(bytes)).toThrow(/malformed ClientReply: unknown status 4/)
  })
})
