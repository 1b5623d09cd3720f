/**
 * Bad input is refused before it touches state, and counted by reason (replica.dropCounts()). Each case hands one
 * forged or stale message to an honest replica of a running cluster and checks the counter for exactly that reason.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { requestSigningBytes } from '../../core/codec/client-messages.ts'
import { encodeKvCommand } from '../../core/kv.ts'
import type { ClientRequest } from '../../core/types.ts'
import { batchDigest, NULL_DIGEST, stateDigest } from '../../protocols/pbft/digest.ts'
import type { Checkpoint, Prepare, PrePrepare } from '../../protocols/pbft/messages.ts'
import { sign } from '../../protocols/pbft/signing.ts'
import { PbftHarness } from './harness.ts'

const E = new Uint8Array(0)
const K = 4

/** Every case runs with real Ed25519 and with the simulator's modelled signatures: forgeries must fail alike. */
describe.each(['node', 'sim'] as const)('PBFT drops bad input and counts it by reason (signer %s)', (signer) => {
  let h: PbftHarness
  const target = 1

  beforeEach(() => {
    h = new PbftHarness({ n: 4, seed: 'drops', clients: 1, signer, options: { checkpointInterval: K } })
    expect(h.stepUntil(() => h.completedRequests >= 6 && h.replica(target).debugState().lowWatermark >= K, 500)).toBe(true)
    h.workloadOn = false
    h.run(10)
  })

  function expectDrop(reason: string, deliver: () => void): void {
    const before = h.replica(target).dropCounts()[reason] ?? 0
    const applied = h.appliedOf(target)
    deliver()
    expect(h.replica(target).dropCounts()[reason] ?? 0, reason).toBe(before + 1)
    expect(h.appliedOf(target)).toBe(applied)
  }

  function prePrepare(from: number, seq: number, batch: ClientRequest[] = [], view = 0): PrePrepare {
    return sign(h.signerOf(from), { type: 'PrePrepare', view, seq, digest: batchDigest(batch), batch, replica: from, signature: E })
  }
  function prepare(from: number, seq: number, view = 0, digest = NULL_DIGEST): Prepare {
    return sign(h.signerOf(from), { type: 'Prepare', view, seq, digest, replica: from, signature: E })
  }
  const next = () => h.replica(target).debugState().lastExecuted + 1

  it('bad-signature: a flipped bit', () => {
    const p = prepare(2, next())
    const sig = p.signature.slice()
    sig[3]! ^= 1
    expectDrop('bad-signature', () => h.inject(2, target, { ...p, signature: sig }))
  })

  it('bad-signature: signed with another replica\'s key', () => {
    const forged = sign(h.signerOf(3), { type: 'Prepare', view: 0, seq: next(), digest: NULL_DIGEST, replica: 2, signature: E })
    expectDrop('bad-signature', () => h.inject(2, target, forged))
  })

  it('unknown-sender: a frame from a non-member', () => {
    expectDrop('unknown-sender', () => h.inject(77, target, prepare(2, next())))
  })

  it('sender-mismatch: a checkpoint claiming another replica', () => {
    const cp: Checkpoint = sign(h.signerOf(3), { type: 'Checkpoint', seq: 400, stateDigest: NULL_DIGEST, replica: 3, signature: E })
    expectDrop('sender-mismatch', () => h.inject(2, target, cp))
  })

  it('wrong-view: a prepare for a future view', () => {
    expectDrop('wrong-view', () => h.inject(2, target, prepare(2, next(), 5)))
  })

  it('not-primary: a pre-prepare from a backup', () => {
    const prepares = h.messageCounts.get('Prepare') ?? 0
    expectDrop('not-primary', () => h.inject(2, target, prePrepare(2, next())))
    expect(h.messageCounts.get('Prepare') ?? 0).toBe(prepares)
  })

  it('above-watermark and below-watermark', () => {
    const { lowWatermark, highWatermark } = h.replica(target).debugState()
    expectDrop('above-watermark', () => h.inject(2, target, prepare(2, highWatermark + 1)))
    expectDrop('below-watermark', () => h.inject(2, target, prepare(2, lowWatermark)))
    expectDrop('above-watermark', () => h.inject(0, target, prePrepare(0, highWatermark + 1)))
  })

  it('digest-mismatch: a pre-prepare whose digest is not its batch\'s', () => {
    const pp = sign(h.signerOf(0), { ...prePrepare(0, next()), digest: batchDigest([clientRequest(1000, 99)]) })
    expectDrop('digest-mismatch', () => h.inject(0, target, pp))
  })

  it('conflicting-pre-prepare: a second batch for the same view and seq (equivocation)', () => {
    const seq = next()
    h.inject(0, target, prePrepare(0, seq, []))
    const sent = h.messageCounts.get('Prepare') ?? 0
    expectDrop('conflicting-pre-prepare', () => h.inject(0, target, prePrepare(0, seq, [clientRequest(1000, 50)])))
    expect(h.messageCounts.get('Prepare') ?? 0).toBe(sent)
  })

  it('conflicting-vote: a replica preparing two digests at one seq', () => {
    const seq = next()
    h.inject(2, target, prepare(2, seq, 0, NULL_DIGEST))
    expectDrop('conflicting-vote', () => h.inject(2, target, prepare(2, seq, 0, batchDigest([clientRequest(1000, 51)]))))
  })

  it('bad-client-signature: a forged request at the primary (it checks what it orders) and inside a pre-prepare', () => {
    const forged: ClientRequest = { ...clientRequest(1000, 60), signature: new Uint8Array(64).fill(1) }
    const primary = 0
    const before = h.replica(primary).dropCounts()['bad-client-signature'] ?? 0
    h.replica(primary).propose(forged, 1000)
    expect(h.replica(primary).dropCounts()['bad-client-signature']).toBe(before + 1)
    // A backup that did not receive the request from its client checks it inside the pre-prepare.
    expectDrop('bad-client-signature', () => h.inject(0, target, prePrepare(0, next(), [forged])))
    // A replica's key does not make a client request valid either.
    const asReplica = { ...clientRequest(2, 1), signature: h.signerOf(2).sign(requestSigningBytes(clientRequest(2, 1))) }
    expectDrop('bad-client-signature', () => h.replica(target).propose(asReplica, 2))
  })

  it('bad-client-signature: a forged request straight from its client is held by a backup until the client repeats it', () => {
    const forged: ClientRequest = { ...clientRequest(1000, 61), signature: new Uint8Array(64).fill(2) }
    const r = h.replica(target)
    const before = r.dropCounts()['bad-client-signature'] ?? 0
    const pending = r.debugState().pending
    const forwards = h.messageCounts.get('Forward') ?? 0
    h.propose(target, forged)
    // The authenticated channel vouches for the request to this backup, so no check yet...
    expect(r.dropCounts()['bad-client-signature'] ?? 0).toBe(before)
    expect(r.debugState().pending).toBe(pending + 1)
    // ...but the repeat is to be forwarded, and to forward it the backup must vouch for it: the check fails, the
    // backup forgets the request (its timer cannot replace a correct primary) and the primary never sees it.
    h.propose(target, forged)
    expect(r.dropCounts()['bad-client-signature']).toBe(before + 1)
    expect(r.debugState().pending).toBe(pending)
    h.run(h.options.retransmitTicks)
    expect(h.messageCounts.get('Forward') ?? 0).toBe(forwards)
  })

  it('a request its client never repeats is forgotten by a backup, without a view change', () => {
    const forged: ClientRequest = { ...clientRequest(1000, 62), signature: new Uint8Array(64).fill(3) }
    const r = h.replica(target)
    const pending = r.debugState().pending
    h.propose(target, forged)
    expect(r.debugState().pending).toBe(pending + 1)
    h.run(Math.max(h.options.requestTimeoutTicks, 2 * h.options.clientRetryTicks) + 1)
    expect(r.debugState().pending).toBe(pending)
    expect(r.status().epoch).toBe(0)
  })

  it('stale-request: a request older than the last one executed for its client', () => {
    const c = h.clients[0]!
    const old = clientRequest(c.id, 1)
    const signed = { ...old, signature: signerOfClient(c.id).sign(requestSigningBytes(old)) }
    expectDrop('stale-request', () => h.replica(target).propose(signed, c.id))
  })

  it('invalid-view-change: a forged prepared certificate', () => {
    const stable = h.replica(target).debugState().lowWatermark
    const batch = [clientRequest(1000, 70)]
    const pp = prePrepare(0, stable + 1, batch)
    const fakePrepares = [1, 2, 3].map(id => sign(h.signerOf(3), { type: 'Prepare' as const, view: 0, seq: stable + 1, digest: pp.digest, replica: id, signature: E }))
    const vc = sign(h.signerOf(3), {
      type: 'ViewChange' as const, newView: 1, stableSeq: 0, checkpointProof: [], prepared: [{ prePrepare: pp, prepares: fakePrepares }], replica: 3, signature: E,
    })
    expectDrop('invalid-view-change', () => h.inject(3, target, vc))
  })

  it('invalid-view-change: a stable checkpoint without proof', () => {
    const vc = sign(h.signerOf(3), {
      type: 'ViewChange' as const, newView: 1, stableSeq: 400, checkpointProof: [], prepared: [], replica: 3, signature: E,
    })
    expectDrop('invalid-view-change', () => h.inject(3, target, vc))
  })

  it('invalid-new-view: a NEW-VIEW without 2f+1 view-changes', () => {
    // Replica 1 is the primary of view 1, so the forged NEW-VIEW goes to replica 2.
    const nv = sign(h.signerOf(1), { type: 'NewView' as const, view: 1, viewChanges: [], prePrepares: [], replica: 1, signature: E })
    const before = h.replica(2).dropCounts()['invalid-new-view'] ?? 0
    h.inject(1, 2, nv)
    expect(h.replica(2).dropCounts()['invalid-new-view']).toBe(before + 1)
    expect(h.replica(2).status().epoch).toBe(0)
  })

  it('invalid-state-transfer: a snapshot whose digest the checkpoint proof does not vouch for', () => {
    const seq = h.replica(target).debugState().lastExecuted + 10 * K
    const proof: Checkpoint[] = [0, 2, 3].map(id => sign(h.signerOf(id), {
      type: 'Checkpoint' as const, seq, stateDigest: stateDigest(new Uint8Array([1])), replica: id, signature: E,
    }))
    const st = sign(h.signerOf(2), { type: 'StateTransfer' as const, seq, data: new Uint8Array([2]), checkpointProof: proof, replica: 2, signature: E })
    expectDrop('invalid-state-transfer', () => h.inject(2, target, st))
    const short = sign(h.signerOf(2), { ...st, data: new Uint8Array([1]), checkpointProof: proof.slice(0, 2) })
    expectDrop('invalid-state-transfer', () => h.inject(2, target, short))
  })

  it('stale-checkpoint: a checkpoint at or below the stable one', () => {
    const { lowWatermark } = h.replica(target).debugState()
    const cp = (seq: number): Checkpoint => sign(h.signerOf(2), { type: 'Checkpoint', seq, stateDigest: NULL_DIGEST, replica: 2, signature: E })
    expectDrop('stale-checkpoint', () => h.inject(2, target, cp(lowWatermark)))
    expectDrop('stale-checkpoint', () => h.inject(2, target, cp(lowWatermark - 1)))
  })

  it('stale-view-change and stale-new-view: messages for a view that is not ahead of ours', () => {
    const vc = sign(h.signerOf(2), { type: 'ViewChange' as const, newView: 0, stableSeq: 0, checkpointProof: [], prepared: [], replica: 2, signature: E })
    expectDrop('stale-view-change', () => h.inject(2, target, vc))
    const nv = sign(h.signerOf(0), { type: 'NewView' as const, view: 0, viewChanges: [], prePrepares: [], replica: 0, signature: E })
    expectDrop('stale-new-view', () => h.inject(0, target, nv))
  })

  it('stale-state-transfer: a snapshot older than what we executed', () => {
    const st = sign(h.signerOf(2), { type: 'StateTransfer' as const, seq: K, data: new Uint8Array([1]), checkpointProof: [], replica: 2, signature: E })
    expectDrop('stale-state-transfer', () => h.inject(2, target, st))
  })

  it('no-state and rate-limited: help requests that cannot or will not be answered yet', () => {
    const { lastExecuted } = h.replica(target).debugState()
    const request = (seq: number) => sign(h.signerOf(2), { type: 'StateRequest' as const, seq, replica: 2, signature: E })
    expectDrop('no-state', () => h.inject(2, target, request(lastExecuted)))
    h.inject(2, target, request(lastExecuted - 1))
    expectDrop('rate-limited', () => h.inject(2, target, request(lastExecuted - 1)))
  })

  function signerOfClient(id: number) {
    return h.signerOf(id)
  }
})

function clientRequest(clientId: number, seq: number): ClientRequest {
  return { clientId, seq, readOnly: false, op: encodeKvCommand({ type: 'put', key: 'x', value: String(seq) }), signature: new Uint8Array(64) }
}
