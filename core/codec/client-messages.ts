/**
 * Wire layout of the client <-> replica messages, which every protocol shares (protocols own only their
 * replica-to-replica codec). Also the canonical bytes a Byzantine-protocol client signs.
 */
import type { ClientReply, ClientRequest, ReplyStatus } from '../types.ts'
import { BinaryReader, BinaryWriter } from './binary.ts'
import { CodecError } from '../errors.ts'
import { MAX_BATCH_SIGNATURE_LENGTH } from '../signers/signature-batch.ts'

// Codes on the wire are positions here: append, never reorder.
const STATUS: readonly ReplyStatus[] = ['ok', 'redirect', 'error', 'busy']

export function writeRequest(w: BinaryWriter, r: ClientRequest): void {
  w.uvarint(r.clientId).uvarint(r.seq).bool(r.readOnly).bytes(r.op).bytes(r.signature)
}

export function readRequest(rd: BinaryReader): ClientRequest {
  const clientId = rd.uvarint()
  const seq = rd.uvarint()
  const readOnly = rd.bool()
  const op = rd.bytes()
  // A plain Ed25519 signature (64 bytes), or a batch signature with its Merkle path (core/signers/signature-batch.ts).
  const signature = rd.bytes(MAX_BATCH_SIGNATURE_LENGTH)
  return { clientId, seq, readOnly, op, signature }
}

export function encodeRequest(r: ClientRequest): Uint8Array {
  const w = new BinaryWriter(16 + r.op.length + r.signature.length)
  writeRequest(w, r)
  return w.finish()
}

export function decodeRequest(bytes: Uint8Array): ClientRequest {
  const rd = new BinaryReader(bytes, 'ClientRequest')
  const r = readRequest(rd)
  rd.end()
  return r
}

export function encodeReply(r: ClientReply): Uint8Array {
  const w = new BinaryWriter(24 + r.result.length + r.error.length)
  w.uvarint(r.clientId).uvarint(r.seq).u8(STATUS.indexOf(r.status)).bytes(r.result).svarint(r.leaderHint)
    .uvarint(r.epoch).string(r.error)
  return w.finish()
}

export function decodeReply(bytes: Uint8Array): ClientReply {
  const rd = new BinaryReader(bytes, 'ClientReply')
  const clientId = rd.uvarint()
  const seq = rd.uvarint()
  const code = rd.u8()
  const status = STATUS[code]
  if (status === undefined) throw new CodecError(`malformed ClientReply: unknown status ${code}`)
  const result = rd.bytes()
  const leaderHint = rd.svarint()
  const epoch = rd.uvarint()
  const error = rd.string()
  rd.end()
  return { clientId, seq, status, result, leaderHint, epoch, error }
}

const REQUEST_DOMAIN = 'consensus/client-request/v1'

/** Domain-separated canonical bytes a client signs: everything in the request but the signature. */
export function requestSigningBytes(r: ClientRequest): Uint8Array {
  const w = new BinaryWriter(48 + r.op.length)
  w.string(REQUEST_DOMAIN).uvarint(r.clientId).uvarint(r.seq).bool(r.readOnly).bytes(r.op)
  return w.finish()
}

/** Two requests are the same command (same client, number and bytes); the signature is not part of identity. */
export function sameRequest(a: ClientRequest, b: ClientRequest): boolean {
  return a.clientId === b.clientId && a.seq === b.seq && a.readOnly === b.readOnly && bytesEqual(a.op, b.op)
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export const EMPTY_BYTES = new Uint8Array(0)
