/**
 * Digests: what PRE-PREPARE, PREPARE and COMMIT agree on (a batch) and what CHECKPOINT agrees on (a state snapshot).
 * SHA-256 via node:crypto is a pure function of its input, so it keeps the protocol deterministic.
 */
import { createHash } from 'node:crypto'
import { BinaryWriter } from '../../core/codec/binary.ts'
import type { ClientRequest } from '../../core/types.ts'
import { writeBatch } from './messages.ts'

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

/** Canonical batch encoding: the same as on the wire, client signatures included (they are part of the request). */
export function encodeBatch(batch: readonly ClientRequest[]): Uint8Array {
  const w = new BinaryWriter(64)
  writeBatch(w, batch)
  return w.finish()
}

export function batchDigest(batch: readonly ClientRequest[]): Uint8Array {
  return sha256(encodeBatch(batch))
}

/** Digest of the null request (an empty batch), which fills gaps in a NEW-VIEW. */
export const NULL_DIGEST: Uint8Array = batchDigest([])

export function stateDigest(snapshot: Uint8Array): Uint8Array {
  return sha256(snapshot)
}

/** Hex form, for map keys and logs. */
export function digestKey(digest: Uint8Array): string {
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('hex')
}
