/**
 * PBFT wire messages (Castro & Liskov, OSDI 1999, the signature-based protocol of section 4) and their binary codec.
 *
 * Every message but `Forward` names its sender (`replica`) and carries that replica's Ed25519 signature over the
 * canonical bytes of signing.ts: certificates (prepared certificates and checkpoint proofs inside VIEW-CHANGE,
 * VIEW-CHANGE messages inside NEW-VIEW) are forwarded by third parties, so each embedded message must prove its own
 * origin. `Forward` carries a client request, which the client's own signature authenticates.
 */
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import { readRequest, writeRequest } from '../../core/codec/client-messages.ts'
import { CodecError } from '../../core/errors.ts'
import type { MessageCodec } from '../../core/protocol.ts'
import type { ClientRequest, NodeId } from '../../core/types.ts'

export const DIGEST_LENGTH = 32
export const SIGNATURE_LENGTH = 64

/** The primary assigns sequence number `seq` to a batch in `view`. */
export interface PrePrepare {
  readonly type: 'PrePrepare'
  readonly view: number
  readonly seq: number
  /** SHA-256 of the encoded batch (digest.ts); an empty batch is the paper's null request. */
  readonly digest: Uint8Array
  readonly batch: readonly ClientRequest[]
  readonly replica: NodeId
  readonly signature: Uint8Array
}

/** A backup accepted the pre-prepare for (view, seq, digest). */
export interface Prepare {
  readonly type: 'Prepare'
  readonly view: number
  readonly seq: number
  readonly digest: Uint8Array
  readonly replica: NodeId
  readonly signature: Uint8Array
}

/** The sender holds a prepared certificate for (view, seq, digest). */
export interface Commit {
  readonly type: 'Commit'
  readonly view: number
  readonly seq: number
  readonly digest: Uint8Array
  readonly replica: NodeId
  readonly signature: Uint8Array
}

/** The sender's state after executing `seq` hashes to `stateDigest`. */
export interface Checkpoint {
  readonly type: 'Checkpoint'
  readonly seq: number
  readonly stateDigest: Uint8Array
  readonly replica: NodeId
  readonly signature: Uint8Array
}

/** A pre-prepare plus 2f matching prepares from distinct backups: proof that a batch prepared at `seq`. */
export interface PreparedCertificate {
  readonly prePrepare: PrePrepare
  readonly prepares: readonly Prepare[]
}

/** The sender moves to `newView`: its stable checkpoint (with 2f+1 signed proof) and what prepared above it. */
export interface ViewChange {
  readonly type: 'ViewChange'
  readonly newView: number
  readonly stableSeq: number
  /** 2f+1 matching CHECKPOINT messages for `stableSeq`; empty when `stableSeq` is 0 (the initial state). */
  readonly checkpointProof: readonly Checkpoint[]
  /** The paper's P: for each seq above `stableSeq` prepared at the sender, its certificate from the highest view. */
  readonly prepared: readonly PreparedCertificate[]
  readonly replica: NodeId
  readonly signature: Uint8Array
}

/** The new primary's proof (V: 2f+1 view-changes) and the pre-prepares it re-issues (O). */
export interface NewView {
  readonly type: 'NewView'
  readonly view: number
  readonly viewChanges: readonly ViewChange[]
  readonly prePrepares: readonly PrePrepare[]
  readonly replica: NodeId
  readonly signature: Uint8Array
}

/** A replica behind the stable checkpoint asks for the state at (at least) `seq`. */
export interface StateRequest {
  readonly type: 'StateRequest'
  readonly seq: number
  readonly replica: NodeId
  readonly signature: Uint8Array
}

/** A snapshot and the stable-checkpoint proof its digest must match. */
export interface StateTransfer {
  readonly type: 'StateTransfer'
  readonly seq: number
  readonly data: Uint8Array
  readonly checkpointProof: readonly Checkpoint[]
  readonly replica: NodeId
  readonly signature: Uint8Array
}

/** A client request a backup received, passed on to the primary (authenticated by the client's signature). */
export interface Forward {
  readonly type: 'Forward'
  readonly request: ClientRequest
}

export type PbftMessage =
  | PrePrepare | Prepare | Commit | Checkpoint | ViewChange | NewView | StateRequest | StateTransfer | Forward

export type PbftMessageType = PbftMessage['type']

/** Messages that carry a sender and a signature. */
export type SignedMessage = Exclude<PbftMessage, Forward>

const TAGS: readonly PbftMessageType[] = [
  'PrePrepare', 'Prepare', 'Commit', 'Checkpoint', 'ViewChange', 'NewView', 'StateRequest', 'StateTransfer', 'Forward',
]

export const MESSAGE_TYPES: readonly PbftMessageType[] = TAGS

// ---- writers -------------------------------------------------------------------------------------------------------

export function writeBatch(w: BinaryWriter, batch: readonly ClientRequest[]): void {
  w.uvarint(batch.length)
  for (const r of batch) writeRequest(w, r)
}

function writeDigest(w: BinaryWriter, digest: Uint8Array): void {
  if (digest.length !== DIGEST_LENGTH) throw new CodecError(`digest must be ${DIGEST_LENGTH} bytes, got ${digest.length}`)
  w.raw(digest)
}

function writeSignature(w: BinaryWriter, signature: Uint8Array): void {
  // Length-prefixed (not fixed) so an unsigned message under construction still encodes; readers bound it to 64.
  w.bytes(signature)
}

function writePrePrepare(w: BinaryWriter, m: PrePrepare): void {
  w.uvarint(m.view).uvarint(m.seq)
  writeDigest(w, m.digest)
  writeBatch(w, m.batch)
  w.uvarint(m.replica)
  writeSignature(w, m.signature)
}

function writeVote(w: BinaryWriter, m: Prepare | Commit): void {
  w.uvarint(m.view).uvarint(m.seq)
  writeDigest(w, m.digest)
  w.uvarint(m.replica)
  writeSignature(w, m.signature)
}

function writeCheckpoint(w: BinaryWriter, m: Checkpoint): void {
  w.uvarint(m.seq)
  writeDigest(w, m.stateDigest)
  w.uvarint(m.replica)
  writeSignature(w, m.signature)
}

function writeCheckpoints(w: BinaryWriter, proof: readonly Checkpoint[]): void {
  w.uvarint(proof.length)
  for (const c of proof) writeCheckpoint(w, c)
}

export function writePreparedCertificate(w: BinaryWriter, c: PreparedCertificate): void {
  writePrePrepare(w, c.prePrepare)
  w.uvarint(c.prepares.length)
  for (const p of c.prepares) writeVote(w, p)
}

/** The fields of a VIEW-CHANGE other than its signature (also its signing payload). */
export function writeViewChangeBody(w: BinaryWriter, m: ViewChange): void {
  w.uvarint(m.newView).uvarint(m.stableSeq)
  writeCheckpoints(w, m.checkpointProof)
  w.uvarint(m.prepared.length)
  for (const c of m.prepared) writePreparedCertificate(w, c)
  w.uvarint(m.replica)
}

function writeViewChange(w: BinaryWriter, m: ViewChange): void {
  writeViewChangeBody(w, m)
  writeSignature(w, m.signature)
}

/** The fields of a NEW-VIEW other than its signature (also its signing payload). */
export function writeNewViewBody(w: BinaryWriter, m: NewView): void {
  w.uvarint(m.view)
  w.uvarint(m.viewChanges.length)
  for (const v of m.viewChanges) writeViewChange(w, v)
  w.uvarint(m.prePrepares.length)
  for (const p of m.prePrepares) writePrePrepare(w, p)
  w.uvarint(m.replica)
}

function writeMessage(w: BinaryWriter, m: PbftMessage): void {
  w.u8(TAGS.indexOf(m.type))
  switch (m.type) {
    case 'PrePrepare': writePrePrepare(w, m); break
    case 'Prepare': case 'Commit': writeVote(w, m); break
    case 'Checkpoint': writeCheckpoint(w, m); break
    case 'ViewChange': writeViewChange(w, m); break
    case 'NewView': writeNewViewBody(w, m); writeSignature(w, m.signature); break
    case 'StateRequest': w.uvarint(m.seq).uvarint(m.replica); writeSignature(w, m.signature); break
    case 'StateTransfer':
      w.uvarint(m.seq).bytes(m.data)
      writeCheckpoints(w, m.checkpointProof)
      w.uvarint(m.replica)
      writeSignature(w, m.signature)
      break
    case 'Forward': writeRequest(w, m.request); break
  }
}

// ---- readers -------------------------------------------------------------------------------------------------------

function readBatch(r: BinaryReader): ClientRequest[] {
  const n = r.count()
  const batch: ClientRequest[] = []
  for (let i = 0; i < n; i++) batch.push(readRequest(r))
  return batch
}

function readSignature(r: BinaryReader): Uint8Array {
  return r.bytes(SIGNATURE_LENGTH)
}

function readPrePrepare(r: BinaryReader): PrePrepare {
  const view = r.uvarint()
  const seq = r.uvarint()
  const digest = r.raw(DIGEST_LENGTH)
  const batch = readBatch(r)
  const replica = r.uvarint()
  return { type: 'PrePrepare', view, seq, digest, batch, replica, signature: readSignature(r) }
}

function readVote<T extends 'Prepare' | 'Commit'>(r: BinaryReader, type: T): Prepare | Commit {
  const view = r.uvarint()
  const seq = r.uvarint()
  const digest = r.raw(DIGEST_LENGTH)
  const replica = r.uvarint()
  return { type, view, seq, digest, replica, signature: readSignature(r) }
}

function readCheckpoint(r: BinaryReader): Checkpoint {
  const seq = r.uvarint()
  const stateDigest = r.raw(DIGEST_LENGTH)
  const replica = r.uvarint()
  return { type: 'Checkpoint', seq, stateDigest, replica, signature: readSignature(r) }
}

function readCheckpoints(r: BinaryReader): Checkpoint[] {
  const n = r.count()
  const out: Checkpoint[] = []
  for (let i = 0; i < n; i++) out.push(readCheckpoint(r))
  return out
}

export function readPreparedCertificate(r: BinaryReader): PreparedCertificate {
  const prePrepare = readPrePrepare(r)
  const n = r.count()
  const prepares: Prepare[] = []
  for (let i = 0; i < n; i++) prepares.push(readVote(r, 'Prepare') as Prepare)
  return { prePrepare, prepares }
}

function readViewChange(r: BinaryReader): ViewChange {
  const newView = r.uvarint()
  const stableSeq = r.uvarint()
  const checkpointProof = readCheckpoints(r)
  const n = r.count()
  const prepared: PreparedCertificate[] = []
  for (let i = 0; i < n; i++) prepared.push(readPreparedCertificate(r))
  const replica = r.uvarint()
  return { type: 'ViewChange', newView, stableSeq, checkpointProof, prepared, replica, signature: readSignature(r) }
}

function readNewView(r: BinaryReader): NewView {
  const view = r.uvarint()
  const nv = r.count()
  const viewChanges: ViewChange[] = []
  for (let i = 0; i < nv; i++) viewChanges.push(readViewChange(r))
  const np = r.count()
  const prePrepares: PrePrepare[] = []
  for (let i = 0; i < np; i++) prePrepares.push(readPrePrepare(r))
  const replica = r.uvarint()
  return { type: 'NewView', view, viewChanges, prePrepares, replica, signature: readSignature(r) }
}

function readMessage(r: BinaryReader): PbftMessage {
  const tag = r.u8()
  const type = TAGS[tag]
  switch (type) {
    case 'PrePrepare': return readPrePrepare(r)
    case 'Prepare': case 'Commit': return readVote(r, type)
    case 'Checkpoint': return readCheckpoint(r)
    case 'ViewChange': return readViewChange(r)
    case 'NewView': return readNewView(r)
    case 'StateRequest': {
      const seq = r.uvarint()
      const replica = r.uvarint()
      return { type, seq, replica, signature: readSignature(r) }
    }
    case 'StateTransfer': {
      const seq = r.uvarint()
      const data = r.bytes()
      const checkpointProof = readCheckpoints(r)
      const replica = r.uvarint()
      return { type, seq, data, checkpointProof, replica, signature: readSignature(r) }
    }
    case 'Forward': return { type, request: readRequest(r) }
    default: throw new CodecError(`malformed PBFT message: unknown type tag ${tag}`)
  }
}

export function encodeMessage(m: PbftMessage): Uint8Array {
  const w = new BinaryWriter(m.type === 'PrePrepare' || m.type === 'Forward' || m.type === 'StateTransfer' ? 256 : 128)
  writeMessage(w, m)
  return w.finish()
}

export function decodeMessage(bytes: Uint8Array): PbftMessage {
  const r = new BinaryReader(bytes, 'PBFT message')
  const m = readMessage(r)
  r.end()
  return m
}

export const pbftCodec: MessageCodec<PbftMessage> = {
  encode: encodeMessage,
  decode: decodeMessage,
  typeName: m => m.type,
}
