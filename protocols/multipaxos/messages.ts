/**
 * Replica-to-replica messages of Multi-Paxos and their binary codec. A slot's value is a batch of client requests; an
 * empty batch is the no-op a new leader uses to fill holes.
 *
 * Learning is piggybacked: Accept and Heartbeat carry the leader's commit index, so steady state needs no Commit
 * message (see README).
 */
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import { readRequest, writeRequest } from '../../core/codec/client-messages.ts'
import { CodecError } from '../../core/errors.ts'
import type { MessageCodec } from '../../core/protocol.ts'
import type { ClientRequest } from '../../core/types.ts'
import { readBallot, writeBallot } from './ballot.ts'
import type { Ballot } from './ballot.ts'

export type Batch = readonly ClientRequest[]

/** Phase 1a: promise not to accept below `ballot`, and report what you accepted at slots >= `fromSlot`. */
export interface Prepare {
  readonly type: 'Prepare'
  readonly ballot: Ballot
  readonly fromSlot: number
}

/** One slot as reported in a Promise: the highest-ballot value the acceptor accepted there, or the chosen value. */
export interface PromisedSlot {
  readonly slot: number
  readonly ballot: Ballot
  /** The acceptor has learned this value is chosen (then `ballot` is irrelevant). */
  readonly chosen: boolean
  readonly value: Batch
}

/** Phase 1b. */
export interface PromiseMessage {
  readonly type: 'Promise'
  readonly ballot: Ballot
  /**
   * Slots up to here were compacted into the acceptor's snapshot: chosen, but not reported. A leader behind it must
   * catch up before it may fill any slot there.
   */
  readonly snapshotIndex: number
  readonly slots: readonly PromisedSlot[]
}

/** Phase 2a for one slot, with the leader's commit index piggybacked (that is how followers learn). */
export interface Accept {
  readonly type: 'Accept'
  readonly ballot: Ballot
  readonly slot: number
  readonly value: Batch
  readonly commitIndex: number
}

/** Phase 2b, to the leader only. */
export interface Accepted {
  readonly type: 'Accepted'
  readonly ballot: Ballot
  readonly slot: number
}

/** "I still lead": sent to a follower that got no Accept for heartbeatTicks; carries the commit index too. */
export interface Heartbeat {
  readonly type: 'Heartbeat'
  readonly ballot: Ballot
  readonly commitIndex: number
  /** The leader's tick when it sent this; echoed in the ack so a lease is measured from the send. */
  readonly stamp: number
}

/** Keeps the leader's quorum check (and lease) alive while it is idle. */
export interface HeartbeatAck {
  readonly type: 'HeartbeatAck'
  readonly ballot: Ballot
  readonly commitIndex: number
  readonly stamp: number
}

/** "Send me the chosen values from `fromSlot` on." */
export interface CatchUpRequest {
  readonly type: 'CatchUpRequest'
  readonly fromSlot: number
}

/** Chosen values, contiguous from `entries[0].slot`. */
export interface CatchUp {
  readonly type: 'CatchUp'
  readonly entries: ReadonlyArray<{ readonly slot: number; readonly value: Batch }>
}

/** The sender's state machine snapshot after applying `index`: for replicas that fell behind its compaction. */
export interface Snapshot {
  readonly type: 'Snapshot'
  readonly index: number
  readonly data: Uint8Array
}

/** A Prepare or Accept refused: the acceptor promised `promised`, higher than the sender's ballot. */
export interface Nack {
  readonly type: 'Nack'
  readonly ballot: Ballot
  readonly promised: Ballot
}

/**
 * Leader transfer: the leader of `ballot` asks the receiver to run Phase 1 now. Any replica may start Phase 1 at any
 * time without harm to safety (that is Paxos); the message only saves the receiver its leader timeout, so a
 * multi-group node can place leaders where they belong.
 */
export interface TakeOver {
  readonly type: 'TakeOver'
  readonly ballot: Ballot
}

export type MultiPaxosMessage =
  | Prepare | PromiseMessage | Accept | Accepted | Heartbeat | HeartbeatAck | CatchUpRequest | CatchUp | Snapshot | Nack
  | TakeOver

const TAGS = [
  'Prepare', 'Promise', 'Accept', 'Accepted', 'Heartbeat', 'HeartbeatAck', 'CatchUpRequest', 'CatchUp', 'Snapshot', 'Nack',
  'TakeOver',
] as const satisfies ReadonlyArray<MultiPaxosMessage['type']>

export function writeBatch(w: BinaryWriter, batch: Batch): void {
  w.uvarint(batch.length)
  for (const r of batch) writeRequest(w, r)
}

export function readBatch(r: BinaryReader): ClientRequest[] {
  const n = r.count()
  const out: ClientRequest[] = []
  for (let i = 0; i < n; i++) out.push(readRequest(r))
  return out
}

function batchSize(batch: Batch): number {
  let size = 4
  for (const r of batch) size += 16 + r.op.length + r.signature.length
  return size
}

export function encodeMessage(m: MultiPaxosMessage): Uint8Array {
  const w = new BinaryWriter(m.type === 'Accept' ? 32 + batchSize(m.value) : 32)
  w.u8(TAGS.indexOf(m.type))
  switch (m.type) {
    case 'Prepare':
      writeBallot(w, m.ballot)
      w.uvarint(m.fromSlot)
      break
    case 'Promise':
      writeBallot(w, m.ballot)
      w.uvarint(m.snapshotIndex).uvarint(m.slots.length)
      for (const s of m.slots) {
        w.uvarint(s.slot)
        writeBallot(w, s.ballot)
        w.bool(s.chosen)
        writeBatch(w, s.value)
      }
      break
    case 'Accept':
      writeBallot(w, m.ballot)
      w.uvarint(m.slot).uvarint(m.commitIndex)
      writeBatch(w, m.value)
      break
    case 'Accepted':
      writeBallot(w, m.ballot)
      w.uvarint(m.slot)
      break
    case 'Heartbeat':
    case 'HeartbeatAck':
      writeBallot(w, m.ballot)
      w.uvarint(m.commitIndex).uvarint(m.stamp)
      break
    case 'CatchUpRequest':
      w.uvarint(m.fromSlot)
      break
    case 'CatchUp':
      w.uvarint(m.entries.length)
      for (const e of m.entries) {
        w.uvarint(e.slot)
        writeBatch(w, e.value)
      }
      break
    case 'Snapshot':
      w.uvarint(m.index).bytes(m.data)
      break
    case 'Nack':
      writeBallot(w, m.ballot)
      writeBallot(w, m.promised)
      break
    case 'TakeOver':
      writeBallot(w, m.ballot)
      break
  }
  return w.finish()
}

export function decodeMessage(bytes: Uint8Array): MultiPaxosMessage {
  const r = new BinaryReader(bytes, 'multipaxos message')
  const tag = r.u8()
  const type = TAGS[tag]
  let m: MultiPaxosMessage
  switch (type) {
    case 'Prepare': {
      const ballot = readBallot(r)
      m = { type, ballot, fromSlot: r.uvarint() }
      break
    }
    case 'Promise': {
      const ballot = readBallot(r)
      const snapshotIndex = r.uvarint()
      const count = r.count()
      const slots: PromisedSlot[] = []
      for (let i = 0; i < count; i++) {
        const slot = r.uvarint()
        const slotBallot = readBallot(r)
        const chosen = r.bool()
        slots.push({ slot, ballot: slotBallot, chosen, value: readBatch(r) })
      }
      m = { type, ballot, snapshotIndex, slots }
      break
    }
    case 'Accept': {
      const ballot = readBallot(r)
      const slot = r.uvarint()
      const commitIndex = r.uvarint()
      m = { type, ballot, slot, commitIndex, value: readBatch(r) }
      break
    }
    case 'Accepted': {
      const ballot = readBallot(r)
      m = { type, ballot, slot: r.uvarint() }
      break
    }
    case 'Heartbeat':
    case 'HeartbeatAck': {
      const ballot = readBallot(r)
      const commitIndex = r.uvarint()
      m = { type, ballot, commitIndex, stamp: r.uvarint() }
      break
    }
    case 'CatchUpRequest':
      m = { type, fromSlot: r.uvarint() }
      break
    case 'CatchUp': {
      const count = r.count()
      const entries: Array<{ slot: number; value: Batch }> = []
      for (let i = 0; i < count; i++) {
        const slot = r.uvarint()
        entries.push({ slot, value: readBatch(r) })
      }
      m = { type, entries }
      break
    }
    case 'Snapshot': {
      const index = r.uvarint()
      m = { type, index, data: r.bytes() }
      break
    }
    case 'Nack': {
      const ballot = readBallot(r)
      m = { type, ballot, promised: readBallot(r) }
      break
    }
    case 'TakeOver':
      m = { type, ballot: readBallot(r) }
      break
    default:
      throw new CodecError(`malformed multipaxos message: unknown type tag ${tag}`)
  }
  r.end()
  return m
}

export const multiPaxosCodec: MessageCodec<MultiPaxosMessage> = {
  encode: encodeMessage,
  decode: decodeMessage,
  typeName: m => m.type,
}
