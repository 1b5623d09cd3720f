/**
 * quorum-kv's replica-to-replica messages and their binary codec. The sender is never a payload field: it is the
 * authenticated transport peer handed to `receive(from, message)`.
 *
 * A coordinator names each operation it runs by an OpId: its incarnation (a counter it persists and bumps at every
 * start, so replies meant for an operation of a previous life are never taken for a new one) and a sequence number.
 * Read repairs are their own message types, so the transport's counters separate the steady-state cost of reads and
 * writes from the cost of repairing stale replicas; anti-entropy is idle background traffic, like heartbeats.
 */
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import { CodecError } from '../../core/errors.ts'
import type { MessageCodec } from '../../core/protocol.ts'
import { readEntry, writeEntry, type StoreEntry } from './store.ts'
import { readVersion, writeVersion, type Version } from './version.ts'

export interface OpId {
  readonly incarnation: number
  readonly seq: number
}

/** Coordinator to every replica: store this version (if newer than yours), make it durable, and acknowledge. */
export interface Write {
  readonly type: 'Write'
  readonly op: OpId
  readonly entry: StoreEntry
}

/** Sent once the write is durable here (persist, then send): the coordinator counts it toward W. */
export interface WriteAck {
  readonly type: 'WriteAck'
  readonly op: OpId
}

/** Coordinator to every replica: what do you hold for `key`? */
export interface Read {
  readonly type: 'Read'
  readonly op: OpId
  readonly key: string
}

/** The replica's copy: value null with a version is a tombstone; version null: it never heard of the key. */
export interface ReadReply {
  readonly type: 'ReadReply'
  readonly op: OpId
  readonly key: string
  readonly value: string | null
  readonly version: Version | null
}

/** Dynamo §4.5 read repair: the newest version a read found, to a replica that answered with an older one. */
export interface ReadRepair {
  readonly type: 'ReadRepair'
  readonly op: OpId
  readonly entry: StoreEntry
}

/** The repair is durable here; a blocking read counts it toward putting the value on a W-quorum. */
export interface ReadRepairAck {
  readonly type: 'ReadRepairAck'
  readonly op: OpId
}

/** Anti-entropy (Dynamo §4.7): the sender's hash of each key bucket. */
export interface AntiEntropyDigest {
  readonly type: 'AntiEntropyDigest'
  readonly hashes: readonly number[]
}

/**
 * The entries of the buckets whose hashes differed. The digest's receiver sends its entries with `answerWanted`, and
 * the digest's sender, having merged them, answers with its own for the same buckets: one exchange repairs both.
 */
export interface AntiEntropyEntries {
  readonly type: 'AntiEntropyEntries'
  readonly buckets: readonly number[]
  readonly entries: readonly StoreEntry[]
  readonly answerWanted: boolean
}

export type QuorumKvMessage =
  | Write | WriteAck | Read | ReadReply | ReadRepair | ReadRepairAck | AntiEntropyDigest | AntiEntropyEntries

const TYPES = ['Write', 'WriteAck', 'Read', 'ReadReply', 'ReadRepair', 'ReadRepairAck', 'AntiEntropyDigest',
  'AntiEntropyEntries'] as const satisfies readonly QuorumKvMessage['type'][]

function writeOp(w: BinaryWriter, op: OpId): void {
  w.uvarint(op.incarnation).uvarint(op.seq)
}

function readOp(r: BinaryReader): OpId {
  const incarnation = r.uvarint()
  return { incarnation, seq: r.uvarint() }
}

export function encodeMessage(m: QuorumKvMessage): Uint8Array {
  const w = new BinaryWriter(64)
  w.u8(TYPES.indexOf(m.type))
  switch (m.type) {
    case 'Write':
    case 'ReadRepair':
      writeOp(w, m.op)
      writeEntry(w, m.entry)
      break
    case 'WriteAck':
    case 'ReadRepairAck':
      writeOp(w, m.op)
      break
    case 'Read':
      writeOp(w, m.op)
      w.string(m.key)
      break
    case 'ReadReply':
      writeOp(w, m.op)
      w.string(m.key)
      w.bool(m.value !== null)
      if (m.value !== null) w.string(m.value)
      writeVersion(w, m.version)
      break
    case 'AntiEntropyDigest':
      w.uvarint(m.hashes.length)
      for (const h of m.hashes) w.uvarint(h)
      break
    case 'AntiEntropyEntries':
      w.uvarint(m.buckets.length)
      for (const b of m.buckets) w.uvarint(b)
      w.uvarint(m.entries.length)
      for (const e of m.entries) writeEntry(w, e)
      w.bool(m.answerWanted)
      break
  }
  return w.finish()
}

export function decodeMessage(bytes: Uint8Array): QuorumKvMessage {
  const r = new BinaryReader(bytes, 'quorum-kv message')
  const code = r.u8()
  const type = TYPES[code]
  if (type === undefined) throw new CodecError(`malformed quorum-kv message: unknown type code ${code}`)
  let m: QuorumKvMessage
  switch (type) {
    case 'Write':
    case 'ReadRepair': {
      const op = readOp(r)
      m = { type, op, entry: readEntry(r) }
      break
    }
    case 'WriteAck':
    case 'ReadRepairAck':
      m = { type, op: readOp(r) }
      break
    case 'Read': {
      const op = readOp(r)
      m = { type, op, key: r.string() }
      break
    }
    case 'ReadReply': {
      const op = readOp(r)
      const key = r.string()
      const value = r.bool() ? r.string() : null
      m = { type, op, key, value, version: readVersion(r) }
      break
    }
    case 'AntiEntropyDigest': {
      const count = r.count()
      const hashes: number[] = []
      for (let i = 0; i < count; i++) hashes.push(r.uvarint())
      m = { type, hashes }
      break
    }
    case 'AntiEntropyEntries': {
      const bucketCount = r.count()
      const buckets: number[] = []
      for (let i = 0; i < bucketCount; i++) buckets.push(r.uvarint())
      const entryCount = r.count()
      const entries: StoreEntry[] = []
      for (let i = 0; i < entryCount; i++) entries.push(readEntry(r))
      m = { type, buckets, entries, answerWanted: r.bool() }
      break
    }
  }
  r.end()
  return m
}

export const quorumKvCodec: MessageCodec<QuorumKvMessage> = {
  encode: encodeMessage,
  decode: decodeMessage,
  typeName: m => m.type,
}
