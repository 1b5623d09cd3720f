/**
 * What a replica publishes on the cluster's gossip topic: the broadcast's bytes, and the replicas the sender also sent
 * them to on direct streams, `[uvarint count][uvarint id]*[bytes]`.
 *
 * Why the list: a broadcast is published for the replicas the topic reaches now and written directly to the others
 * (one that is down, or whose gossip stream has not opened yet). Gossip may still relay it to one of those, so a replica
 * named in the list drops the gossip copy: each replica takes a broadcast from exactly one path, and the protocol never
 * sees it twice.
 */
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import type { NodeId } from '../../core/types.ts'

/** Largest id we accept on the wire: NodeIds are small non-negative integers. */
const MAX_ID = 0xffff_ffff

export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError'
}

function header(sentDirect: readonly NodeId[]): BinaryWriter {
  const w = new BinaryWriter(1 + 5 * sentDirect.length).uvarint(sentDirect.length)
  for (const id of sentDirect) {
    if (!Number.isSafeInteger(id) || id < 0 || id > MAX_ID) throw new RangeError(`node id ${id} cannot go in a gossip envelope`)
    w.uvarint(id)
  }
  return w
}

/** Bytes the envelope adds in front of the broadcast. */
export function envelopeOverhead(sentDirect: readonly NodeId[]): number {
  return header(sentDirect).finish().length
}

export function encodeEnvelope(sentDirect: readonly NodeId[], bytes: Uint8Array): Uint8Array {
  return header(sentDirect).raw(bytes).finish()
}

export interface Envelope {
  /** Replicas the sender wrote this broadcast to directly (they ignore the gossip copy). */
  readonly sentDirect: readonly NodeId[]
  readonly bytes: Uint8Array
}

/** Throws EnvelopeError for a truncated or out-of-range header (a sender's bug: a member's copy is still signed). */
export function decodeEnvelope(data: Uint8Array): Envelope {
  const r = new BinaryReader(data, 'gossip envelope')
  try {
    const count = r.uvarint() // each id needs a byte: a count beyond the data ends in "truncated"
    const sentDirect: NodeId[] = []
    for (let i = 0; i < count; i++) {
      const id = r.uvarint()
      if (id > MAX_ID) throw new EnvelopeError(`gossip envelope header names node ${id}, out of range`)
      sentDirect.push(id)
    }
    return { sentDirect, bytes: r.raw(r.remaining) }
  } catch (e) {
    if (e instanceof EnvelopeError) throw e
    throw new EnvelopeError((e as Error).message)
  }
}
