/**
 * Bad input: malformed frames are refused by the codec with a CodecError naming what is wrong; well-formed but
 * invalid messages (bad signatures, QCs with duplicate, non-member or too few signers, blocks whose hash is not the
 * one asked for) are dropped before they touch state and counted by reason, like PBFT's drops.
 */
import { describe, expect, it } from 'vitest'
import { CodecError } from '../../core/errors.ts'
import { checkQC } from '../../protocols/hotstuff/qc.ts'
import {
  decodeMessage, encodeMessage, hotstuffCodec, type HotStuffMessage,
} from '../../protocols/hotstuff/messages.ts'
import { GENESIS_HASH, GENESIS_QC } from '../../protocols/hotstuff/replica.ts'
import { blockHash, signNewView, signVote } from '../../protocols/hotstuff/signing.ts'
import { Fixture, messagesOfType } from './fixtures.ts'

const fx = new Fixture(4)
const keyOf = (id: number) => fx.ctx(0).publicKeyOf(id)
const verifier = fx.ctx(0).verifier

describe('codec', () => {
  const b1 = fx.block(1, null, [fx.request(1)])
  const samples: HotStuffMessage[] = [
    fx.propose(b1),
    signVote(fx.signer(2), 1, blockHash(b1), 2),
    signNewView(fx.signer(3), 4, fx.qc(1, blockHash(b1)), signVote(fx.signer(3), 1, blockHash(b1), 3), 3),
    signNewView(fx.signer(3), 4, GENESIS_QC, null, 3),
    { type: 'BlockRequest', hash: blockHash(b1) },
    { type: 'BlockResponse', hash: blockHash(b1), blocks: [b1] },
    { type: 'SnapshotRequest', index: 7 },
    { type: 'SnapshotResponse', index: 7, offset: 1, block: b1, data: new Uint8Array([1, 2, 3]) },
    { type: 'Forward', requests: [fx.request(2)] },
  ]

  it('round-trips every message type, and typeName is the type', () => {
    for (const m of samples) {
      const bytes = encodeMessage(m)
      expect(encodeMessage(decodeMessage(bytes))).toEqual(bytes)
      expect(hotstuffCodec.typeName(m)).toBe(m.type)
    }
  })

  it('refuses truncated frames, trailing bytes, unknown tags and oversized signatures with a CodecError', () => {
    for (const m of samples) {
      const bytes = encodeMessage(m)
      expect(() => decodeMessage(bytes.subarray(0, bytes.length - 1)), m.type).toThrow(CodecError)
      expect(() => decodeMessage(new Uint8Array([...bytes, 0])), m.type).toThrow(/trailing bytes/)
    }
    expect(() => decodeMessage(new Uint8Array([200]))).toThrow(/unknown type tag 200/)
    expect(() => decodeMessage(new Uint8Array([]))).toThrow(CodecError)
    const vote = signVote(fx.signer(2), 1, blockHash(b1), 2)
    expect(() => decodeMessage(encodeMessage({ ...vote, signature: new Uint8Array(65) }))).toThrow(/exceeds 64/)
    expect(() => encodeMessage({ ...vote, blockHash: new Uint8Array(31) })).toThrow(/hash must be 32 bytes/)
  })
})

describe('quorum certificates', () => {
  const b1 = fx.block(1, null)
  const hash = blockHash(b1)

  it('a QC needs n - f distinct members with valid signatures over (view, hash)', () => {
    expect(checkQC(fx.qc(1, hash), fx.members, verifier, keyOf, GENESIS_HASH)).toBeNull()
    expect(checkQC(fx.qc(1, hash, [0, 1]), fx.members, verifier, keyOf, GENESIS_HASH)).toMatch(/2 of 3 signatures/)
    const dup = fx.qc(1, hash, [0, 1, 1])
    expect(checkQC(dup, fx.members, verifier, keyOf, GENESIS_HASH)).toMatch(/signed twice by 1/)
    const stranger = fx.qc(1, hash, [0, 1, 2])
    const withStranger = { ...stranger, votes: [...stranger.votes.slice(0, 2), { replica: 9, signature: stranger.votes[2]!.signature }] }
    expect(checkQC(withStranger, fx.members, verifier, keyOf, GENESIS_HASH)).toMatch(/non-member 9/)
    const good = fx.qc(1, hash)
    const forged = { ...good, votes: good.votes.map((v, i) => i === 1 ? { ...v, signature: new Uint8Array(64).fill(7) } : v) }
    expect(checkQC(forged, fx.members, verifier, keyOf, GENESIS_HASH)).toMatch(/bad QC signature from 1/)
    // Signatures for another view do not certify this one.
    expect(checkQC({ ...fx.qc(2, hash), view: 1 }, fx.members, verifier, keyOf, GENESIS_HASH)).toMatch(/bad QC signature/)
    expect(checkQC({ view: 0, blockHash: hash, votes: [] }, fx.members, verifier, keyOf, GENESIS_HASH)).toMatch(/genesis/)
  })
})

describe('drops', () => {
  const b1 = fx.block(1, null, [fx.request(1)])
  const b2 = fx.block(2, b1)

  it('proposals with bad signatures, from non-leaders, with bad QCs or unsigned commands are dropped and counted', () => {
    const r = fx.replica(0)
    r.receive(1, { ...fx.propose(b1), signature: new Uint8Array(64) })
    r.receive(2, fx.propose({ ...b1, proposer: 2 })) // view 1's leader is 1
    r.receive(9, fx.propose(b1)) // not a member
    r.receive(2, fx.propose(fx.block(2, b1, [], fx.qc(1, blockHash(b1), [0, 1, 1])))) // duplicate signer in justify
    r.receive(1, fx.propose({ ...b1, commands: [{ ...fx.request(1), signature: new Uint8Array(64) }] }))
    r.receive(1, fx.propose({ ...b1, justify: { ...b1.justify, view: 3 } })) // justify not older than the block
    expect(r.dropCounts()).toEqual({
      'bad-signature': 1, 'not-leader': 1, 'unknown-sender': 1, 'bad-qc': 1, 'bad-client-signature': 1, 'bad-block': 1,
    })
    expect(messagesOfType(r.ready().messages, 'Vote')).toEqual([])
  })

  it('a copy of a known QC with a forged signature is still refused (the check cache is by exact bytes)', () => {
    const r = fx.replica(0)
    r.receive(1, fx.propose(b1))
    r.receive(2, fx.propose(b2))
    const good = fx.qc(2, blockHash(b2))
    r.receive(3, fx.propose(fx.block(3, b2, [], good))) // the genuine QC(b2) is checked here
    const forged = { ...good, votes: good.votes.map((v, i) => i === 0 ? { ...v, signature: new Uint8Array(64).fill(1) } : v) }
    r.receive(1, fx.propose(fx.block(5, b2, [], forged)))
    expect(r.dropCounts()).toEqual({ 'bad-qc': 1 })
  })

  it('votes and new-views with bad signatures or for another sender are dropped; a leader one view ahead only takes votes', () => {
    const leader2 = fx.replica(2)
    leader2.receive(1, fx.propose(b1))
    leader2.ready()
    leader2.receive(0, { ...signVote(fx.signer(0), 1, blockHash(b1), 0), signature: new Uint8Array(64) })
    leader2.receive(0, signVote(fx.signer(1), 1, blockHash(b1), 1)) // sent by 0 in 1's name
    leader2.receive(0, signVote(fx.signer(0), 2, blockHash(b1), 0)) // view 2's votes go to the leader of view 3
    leader2.receive(3, { ...signNewView(fx.signer(3), 2, GENESIS_QC, null, 3), signature: new Uint8Array(64).fill(3) })
    expect(leader2.dropCounts()).toEqual({ 'bad-signature': 2, 'sender-mismatch': 1, 'not-leader': 1 })
    // Genuine votes from 0 and 1 with its own make the QC, and the leader proposes view 2.
    leader2.receive(0, signVote(fx.signer(0), 1, blockHash(b1), 0))
    expect(messagesOfType(leader2.ready().messages, 'Proposal')).toEqual([])
    leader2.receive(1, signVote(fx.signer(1), 1, blockHash(b1), 1))
    const proposals = messagesOfType(leader2.ready().messages, 'Proposal')
    expect(proposals.map(p => p.message.block.view)).toEqual([2, 2, 2])
  })

  it('a fetched block whose hash is not the one asked for is dropped (hash-mismatch); an unasked response too', () => {
    const r = fx.replica(0)
    const b3 = fx.block(3, b2)
    r.receive(3, fx.propose(b3)) // parent b2 missing: r asks 3 for it
    const ask = messagesOfType(r.ready().messages, 'BlockRequest')
    expect(ask.map(a => a.to)).toEqual([3])
    r.receive(3, { type: 'BlockResponse', hash: blockHash(b2), blocks: [{ ...b2, commands: [fx.request(5)] }] })
    r.receive(3, { type: 'BlockResponse', hash: blockHash(fx.block(7, null)), blocks: [] })
    expect(r.dropCounts()).toEqual({ 'hash-mismatch': 1, 'unwanted-block': 1 })
    // The genuine chain is accepted (b2, then its parent b1 from the same response) and r votes for b3 (its vote
    // stays here: r leads view 4).
    r.receive(3, { type: 'BlockResponse', hash: blockHash(b2), blocks: [b2, b1] })
    expect(r.debugState().lastVotedView).toBe(3)
    expect(r.debugState().highQCView).toBe(2)
  })
})
