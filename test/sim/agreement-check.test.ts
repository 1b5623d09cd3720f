/** The simulator's cross-replica safety check for total-order protocols: same batch at the same index everywhere. */
import { describe, expect, it } from 'vitest'
import { AgreementCheck } from '../../net/sim/agreement-check.ts'
import type { ClientRequest } from '../../core/types.ts'

const request = (seq: number, op: number[]): ClientRequest =>
  ({ clientId: 1000, seq, readOnly: false, op: new Uint8Array(op), signature: new Uint8Array(0) })

describe('agreement check', () => {
  it('accepts equal batches (the same objects or equal copies) and names a replica that applied another', () => {
    const check = new AgreementCheck()
    const batch = [request(1, [1, 2])]
    expect(check.applied(0, { index: 1, requests: batch })).toBe('first')
    expect(check.applied(1, { index: 1, requests: batch })).toBe('same')
    expect(check.applied(2, { index: 1, requests: [request(1, [1, 2])] })).toBe('same')
    expect(check.applied(3, { index: 1, requests: [request(1, [1, 3])] })).toMatch(/replica 3 applied a different batch at index 1/)
    expect(check.applied(4, { index: 1, requests: [] })).toMatch(/replica 4 applied a different batch at index 1 \(0 requests vs 1/)
    expect(check.applied(0, { index: 2, requests: [] })).toBe('first')
    expect(check.applied(1, { index: 2, requests: [request(2, [9])] })).toMatch(/different batch at index 2/)
  })

  it('compares a replica far behind the others by fingerprint: equal copies pass, any difference is named', () => {
    const check = new AgreementCheck()
    for (let i = 1; i <= 5000; i++) check.applied(0, { index: i, requests: [request(i, [i % 256, 7])] })
    // Index 10 is thousands of indexes back: its batch is no longer held, its fingerprint is.
    expect(check.applied(1, { index: 10, requests: [request(10, [10, 7])] })).toBe('same')
    expect(check.applied(1, { index: 11, requests: [request(11, [11, 8])] })).toMatch(/different batch at index 11/)
    expect(check.applied(1, { index: 12, requests: [request(13, [12, 7])] })).toMatch(/different batch at index 12/)
    expect(check.applied(1, { index: 13, requests: [{ ...request(13, [13, 7]), clientId: 1001 }] })).toMatch(/different batch at index 13/)
    expect(check.applied(1, { index: 14, requests: [{ ...request(14, [14, 7]), readOnly: true }] })).toMatch(/different batch at index 14/)
    expect(check.applied(1, { index: 15, requests: [request(15, [15, 7]), request(15, [15, 7])] })).toMatch(/index 15 \(2 requests vs 1/)
    // The signature is not part of a command's identity (as sameRequest has it).
    expect(check.applied(1, { index: 16, requests: [{ ...request(16, [16, 7]), signature: new Uint8Array([1]) }] })).toBe('same')
  })

  it('remembers a window of 100,000 indexes: an index that far behind the newest is no longer compared', () => {
    const check = new AgreementCheck()
    for (let i = 1; i <= 100_001; i++) expect(check.applied(0, { index: i, requests: [request(i, [i % 256])] })).toBe('first')
    // Index 1 shares its slot with 100,001, which evicted it; a replica that far behind is not judged.
    expect(check.applied(1, { index: 1, requests: [request(1, [7])] })).toBe('first')
    // ...and does not evict the newer index from the slot either.
    expect(check.applied(1, { index: 100_001, requests: [request(100_001, [0])] })).toMatch(/different batch at index 100001/)
    expect(check.applied(1, { index: 2, requests: [request(2, [3])] })).toMatch(/different batch at index 2/)
  })
})
