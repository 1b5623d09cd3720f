/**
 * Hashes and what each replica signs. Block hashes are SHA-256 over a domain prefix and the canonical block encoding
 * (messages.ts), so a hash names exactly one block, its commands, parent and justify included. Signing bytes are
 * domain-separated and bind the message kind, so a vote can never be replayed as a proposal or a NEW-VIEW, nor for
 * another view, block or replica.
 */
import { createHash } from 'node:crypto'
import { BinaryWriter } from '../../core/codec/binary.ts'
import type { Signer, Verifier } from '../../core/signer.ts'
import type { NodeId } from '../../core/types.ts'
import { writeBlock, type Block, type NewView, type Proposal, type Vote } from './messages.ts'

const DOMAIN = 'consensus/hotstuff/v1'
const KIND_BLOCK = 0
const KIND_PROPOSAL = 1
const KIND_VOTE = 2
const KIND_NEW_VIEW = 3

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

export function blockHash(b: Block): Uint8Array {
  const w = new BinaryWriter(256)
  w.string(DOMAIN).u8(KIND_BLOCK)
  writeBlock(w, b)
  return sha256(w.finish())
}

/** Hex form of a hash, for map keys and logs. */
export function hashKey(hash: Uint8Array): string {
  return Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString('hex')
}

function header(kind: number): BinaryWriter {
  return new BinaryWriter(96).string(DOMAIN).u8(kind)
}

export function proposalSigningBytes(hash: Uint8Array, proposer: NodeId): Uint8Array {
  return header(KIND_PROPOSAL).raw(hash).uvarint(proposer).finish()
}

/** What a vote signs, and so what every signature inside a QC for (view, hash) signs. */
export function voteSigningBytes(view: number, hash: Uint8Array, replica: NodeId): Uint8Array {
  return header(KIND_VOTE).uvarint(view).raw(hash).uvarint(replica).finish()
}

export function newViewSigningBytes(view: number, qcView: number, qcHash: Uint8Array, replica: NodeId): Uint8Array {
  return header(KIND_NEW_VIEW).uvarint(view).uvarint(qcView).raw(qcHash).uvarint(replica).finish()
}

export function signProposal(signer: Signer, block: Block): Proposal {
  return { type: 'Proposal', block, signature: signer.sign(proposalSigningBytes(blockHash(block), block.proposer)) }
}

export function signVote(signer: Signer, view: number, hash: Uint8Array, replica: NodeId): Vote {
  return { type: 'Vote', view, blockHash: hash, replica, signature: signer.sign(voteSigningBytes(view, hash, replica)) }
}

export function signNewView(signer: Signer, view: number, highQC: NewView['highQC'], lastVote: Vote | null, replica: NodeId): NewView {
  // The carried vote has its own signature, checked on its own; the NEW-VIEW signature covers the view and the QC.
  return {
    type: 'NewView', view, highQC, lastVote, replica,
    signature: signer.sign(newViewSigningBytes(view, highQC.view, highQC.blockHash, replica)),
  }
}

export type KeyOf = (id: NodeId) => Uint8Array | undefined

function verifyWith(verifier: Verifier, keyOf: KeyOf, id: NodeId, bytes: Uint8Array, sig: Uint8Array): boolean {
  const key = keyOf(id)
  return key !== undefined && verifier.verify(key, bytes, sig)
}

export function verifyProposal(p: Proposal, hash: Uint8Array, verifier: Verifier, keyOf: KeyOf): boolean {
  return verifyWith(verifier, keyOf, p.block.proposer, proposalSigningBytes(hash, p.block.proposer), p.signature)
}

export function verifyVote(v: Vote, verifier: Verifier, keyOf: KeyOf): boolean {
  return verifyWith(verifier, keyOf, v.replica, voteSigningBytes(v.view, v.blockHash, v.replica), v.signature)
}

export function verifyNewView(m: NewView, verifier: Verifier, keyOf: KeyOf): boolean {
  return verifyWith(verifier, keyOf, m.replica, newViewSigningBytes(m.view, m.highQC.view, m.highQC.blockHash, m.replica), m.signature)
}
