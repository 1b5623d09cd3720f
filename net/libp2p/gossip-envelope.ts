/**
 * What a replica publishes on the cluster's gossip topic: the broadcast's bytes, and the replicas the sender also sent
 * them to on direct streams, `[uvarint count][uvarint id]*[bytes]`.
 *
 * Why the list: a broadcast is published for the replicas the topic reaches now and written directly to the others
 * (one that is down, or whose gossip stream has not opened yet). Gossip may still relay it to one of those, so a replica
 * named in the list drops the gossip copy: each replica takes a broadcast from exactly one path, and the protocol never
 * sees it twice.
 */
import type { NodeId } from '../../core/types.ts'

/** Largest id we accept on the wire: NodeIds are small non-negative integers. */
const MAX_ID = 0xffff_ffff

export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError'
}

function varintLength(value: number): number {
  let n = 1
  while (value >= 0x80) { value = Math.floor(value / 0x80); n++ }
  return n
}

function writeVarint(out: Uint8Array, pos: number, value: number): number {
  while (value >= 0x80) { out[pos++] = (value % 0x80) | 0x80; value = Math.floor(value / 0x80) }
  out[pos++] = value
  return pos
}

/** Bytes the envelope adds in front of the broadcast. */
export function envelopeOverhead(sentDirect: readonly NodeId[]): number {
  return sentDirect.reduce((a, id) => a + varintLength(id), varintLength(sentDirect.length))
}

export function encodeEnvelope(sentDirect: readonly NodeId[], bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(envelopeOverhead(sentDirect) + bytes.length)
  let pos = writeVarint(out, 0, sentDirect.length)
  for (const id of sentDirect) {
    if (!Number.isSafeInteger(id) || id < 0 || id > MAX_ID) throw new RangeError(`node id ${id} cannot go in a gossip envelope`)
    pos = writeVarint(out, pos, id)
  }
  out.set(bytes, pos)
  return out
}

export interface Envelope {
  /** Replicas the sender wrote this broadcast to directly (they ignore the gossip copy). */
  readonly sentDirect: readonly NodeId[]
  readonly bytes: Uint8Array
}

/** Throws EnvelopeError for a truncated or out-of-range header (a sender's bug: a member's copy is still signed). */
export function decodeEnvelope(data: Uint8Array): Envelope {
  let pos = 0
  const readVarint = (): number => {
    let value = 0
    for (let scale = 1; ; scale *= 0x80) {
      if (pos >= data.length) throw new EnvelopeError('gossip envelope truncated in its header')
      const b = data[pos++]!
      value += (b & 0x7f) * scale
      if (value > MAX_ID) throw new EnvelopeError('gossip envelope header value out of range')
      if ((b & 0x80) === 0) return value
    }
  }
  const count = readVarint()
  const sentDirect: NodeId[] = []
  for (let i = 0; i < count; i++) sentDirect.push(readVarint())
  return { sentDirect, bytes: data.subarray(pos) }
}
