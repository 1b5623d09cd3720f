/**
 * CheckedMessages: a replica's memory of what it found valid is by object identity, so it only ever repeats what a
 * full check of the same object said. Copies (every frame decoded off the network, every frame from a Byzantine
 * sender in the simulator) are checked in full, and a tampered copy of a remembered message is refused.
 */
import { describe, expect, it } from 'vitest'
import { batchDigest } from '../../protocols/pbft/digest.ts'
import { CheckedMessages } from '../../protocols/pbft/checked-messages.ts'
import type { PrePrepare, ViewChange } from '../../protocols/pbft/messages.ts'
import { sign } from '../../protocols/pbft/signing.ts'
import { checkNewView, buildNewView, checkViewChange, type QuorumContext } from '../../protocols/pbft/view-change.ts'
import type { ClientRequest } from '../../core/types.ts'
import { PbftHarness } from './harness.ts'

const E = new Uint8Array(0)

describe('CheckedMessages', () => {
  const h = new PbftHarness({ n: 4, seed: 'checked-messages', clients: 1 })
  const publicKeyOf = (id: number) => h.signerOf(id).publicKey
  const context = (): QuorumContext => ({
    members: h.ids, f: 1, quorum: 3, window: 128, verifier: h.verifier, publicKeyOf, checked: new CheckedMessages(h.verifier, publicKeyOf),
  })
  const batch: ClientRequest[] = [{ clientId: 1000, seq: 1, readOnly: false, op: new Uint8Array([1]), signature: new Uint8Array(64) }]
  const prePrepare: PrePrepare = sign(h.signerOf(0), { type: 'PrePrepare', view: 0, seq: 1, digest: batchDigest(batch), batch, replica: 0, signature: E })
  const prepares = [1, 2].map(id => sign(h.signerOf(id), { type: 'Prepare' as const, view: 0, seq: 1, digest: prePrepare.digest, replica: id, signature: E }))
  const viewChange = (from: number): ViewChange => sign(h.signerOf(from), {
    type: 'ViewChange', newView: 1, stableSeq: 0, checkpointProof: [], prepared: [{ prePrepare, prepares }], replica: from, signature: E,
  })

  it('answers again for the object it verified, and checks copies in full', () => {
    const checked = new CheckedMessages(h.verifier, publicKeyOf)
    const vc = viewChange(1)
    expect(checked.verify(vc)).toBe(true)
    expect(checked.verify(vc)).toBe(true)
    expect(checked.verify({ ...vc })).toBe(true)
    // A copy with another view under the same signature, and one with a flipped signature byte: refused.
    expect(checked.verify({ ...vc, newView: 2 })).toBe(false)
    const flipped = vc.signature.slice()
    flipped[0]! ^= 1
    expect(checked.verify({ ...vc, signature: flipped })).toBe(false)
    // A message it never verified (bad from the start) is not remembered as good by being asked twice.
    const forged = { ...vc, replica: 2 }
    expect(checked.verify(forged)).toBe(false)
    expect(checked.verify(forged)).toBe(false)
  })

  it('remembers a valid VIEW-CHANGE by identity only: a copy with a tampered certificate is refused', () => {
    const q = context()
    const vc = viewChange(1)
    expect(checkViewChange(vc, q)).toBeNull()
    expect(q.checked!.isValidViewChange(vc)).toBe(true)
    const badPrepare = { ...prepares[1]!, digest: new Uint8Array(32) }
    const tampered: ViewChange = { ...vc, prepared: [{ prePrepare, prepares: [prepares[0]!, badPrepare] }] }
    expect(q.checked!.isValidViewChange(tampered)).toBe(false)
    expect(checkViewChange(tampered, q)).toMatch(/bad view-change signature|does not match/)
  })

  it('gives the same verdicts on NEW-VIEWs as a context without memory, the second time too', () => {
    const q = context()
    const plain: QuorumContext = { members: h.ids, f: 1, quorum: 3, window: 128, verifier: h.verifier, publicKeyOf }
    const vcs = [viewChange(1), viewChange(2), viewChange(3)]
    const nv = buildNewView(h.signerOf(1), 1, 1, vcs)
    const shortened = sign(h.signerOf(1), { ...nv, viewChanges: vcs.slice(0, 2) })
    for (const m of [nv, shortened, { ...nv, view: 5 }]) {
      const expected = checkNewView(m, plain)
      expect(checkNewView(m, q)).toEqual(expected)
      expect(checkNewView(m, q)).toEqual(expected)
    }
    expect(checkNewView(nv, q)).toHaveProperty('plan')
    expect(checkNewView(shortened, q)).toEqual({ error: expect.stringMatching(/2 of 3 view-changes/) })
  })
})
