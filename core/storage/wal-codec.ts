/**
 * Payloads of the file storage's records: one write-ahead-log record per PersistOp (a snapshot appears in the log
 * only as a marker; its bytes live in the snapshot file), and the snapshot file's single record.
 *
 * Each encoder returns a whole unsealed record (header space + payload + end-marker space, see record-framing.ts) so
 * an op is copied exactly once, into the buffer that is later sealed (given its seq) and written to the file; the
 * decoded values are views of that buffer, so a caller reusing its own buffers after write() cannot change what gets
 * stored.
 *
 * Records of a grouped log (one log shared by many consensus groups, shared-wal.ts) carry their group as a prefix:
 * GROUP u8 | group uvarint | the record as above. Group 0's records have no prefix, so a single-group log is exactly
 * the log of group 0 and either storage reads the other's directory.
 */
import { BinaryReader, BinaryWriter } from '../codec/binary.ts'
import { CodecError } from '../errors.ts'
import type { DurableSnapshot } from '../storage.ts'
import { RECORD_HEADER_BYTES, RECORD_OVERHEAD_BYTES } from './record-framing.ts'

const PUT = 1
const ENTRY = 2
const TRUNCATE = 3
const SNAPSHOT_MARKER = 4
const SNAPSHOT_FILE = 5
const FORGET = 6
const GROUP = 7

const HEADER_SPACE = new Uint8Array(RECORD_HEADER_BYTES)

export type WalRecord =
  | { readonly kind: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly kind: 'entry'; readonly index: number; readonly value: Uint8Array }
  | { readonly kind: 'truncate'; readonly from: number }
  | { readonly kind: 'forget'; readonly index: number }
  /**
   * Log records with index <= `index` are covered by the snapshot file (written, and made durable, before this).
   * `generation` counts snapshots installed in this directory, so recovery can tell whether the marker of the snapshot
   * file it holds made it into the log.
   */
  | { readonly kind: 'snapshot-marker'; readonly index: number; readonly generation: number }

/** A group id fits a u32: replicas are addressed by it in frames too, and it keeps the prefix at most 5 bytes. */
export const MAX_GROUP = 0xffff_ffff

function writer(payloadSizeHint: number, group = 0): BinaryWriter {
  const w = new BinaryWriter(RECORD_HEADER_BYTES + payloadSizeHint + 24).raw(HEADER_SPACE)
  return group === 0 ? w : w.u8(GROUP).uvarint(group)
}

/** The end-marker byte, filled in by sealRecord. */
function unsealed(w: BinaryWriter): Uint8Array {
  return w.u8(0).finish()
}

/** `group`: the consensus group the record belongs to (0, the default, is written without a prefix). */
export function encodeWalRecord(record: WalRecord, group = 0): Uint8Array {
  switch (record.kind) {
    case 'put':
      return unsealed(writer(record.key.length * 3 + record.value.length, group).u8(PUT).string(record.key).raw(record.value))
    case 'entry':
      return unsealed(writer(record.value.length, group).u8(ENTRY).uvarint(record.index).raw(record.value))
    case 'truncate':
      return unsealed(writer(0, group).u8(TRUNCATE).uvarint(record.from))
    case 'forget':
      return unsealed(writer(0, group).u8(FORGET).uvarint(record.index))
    case 'snapshot-marker':
      return unsealed(writer(0, group).u8(SNAPSHOT_MARKER).uvarint(record.index).uvarint(record.generation))
  }
}

/** Bytes of a uvarint. */
function uvarintBytes(value: number): number {
  let n = 1
  while (value >= 0x80) { value = Math.floor(value / 0x80); n++ }
  return n
}

function stringBytes(text: string): number {
  const n = Buffer.byteLength(text)
  return uvarintBytes(n) + n
}

/** The length of encodeWalRecord(record, group) without encoding it (what a compaction would rewrite). */
export function walRecordBytes(record: WalRecord, group: number): number {
  const prefix = group === 0 ? 0 : 1 + uvarintBytes(group)
  const overhead = RECORD_OVERHEAD_BYTES + prefix + 1
  switch (record.kind) {
    case 'put': return overhead + stringBytes(record.key) + record.value.length
    case 'entry': return overhead + uvarintBytes(record.index) + record.value.length
    case 'truncate': return overhead + uvarintBytes(record.from)
    case 'forget': return overhead + uvarintBytes(record.index)
    case 'snapshot-marker': return overhead + uvarintBytes(record.index) + uvarintBytes(record.generation)
  }
}

export interface GroupedWalRecord {
  readonly group: number
  readonly record: WalRecord
}

/** `where` names the record (file and offset) in the error for a payload that passed its checksum but is not ours. */
export function decodeWalRecord(payload: Uint8Array, where: string): GroupedWalRecord {
  const r = new BinaryReader(payload, `log record (${where})`)
  let kind = r.u8()
  let group = 0
  if (kind === GROUP) {
    group = r.uvarint()
    // One canonical encoding per record: group 0 never has a prefix.
    if (group === 0 || group > MAX_GROUP) throw new CodecError(`malformed log record (${where}): group ${group} in a group prefix`)
    kind = r.u8()
  }
  return { group, record: decodeRecordBody(r, kind, where) }
}

function decodeRecordBody(r: BinaryReader, kind: number, where: string): WalRecord {
  switch (kind) {
    case PUT: {
      const key = r.string()
      return { kind: 'put', key, value: r.raw(r.remaining) }
    }
    case ENTRY: {
      const index = r.uvarint()
      return { kind: 'entry', index, value: r.raw(r.remaining) }
    }
    case TRUNCATE: {
      const from = r.uvarint()
      r.end()
      return { kind: 'truncate', from }
    }
    case FORGET: {
      const index = r.uvarint()
      r.end()
      return { kind: 'forget', index }
    }
    case SNAPSHOT_MARKER: {
      const index = r.uvarint()
      const generation = r.uvarint()
      r.end()
      return { kind: 'snapshot-marker', index, generation }
    }
    default:
      throw new CodecError(`malformed log record (${where}): unknown record kind ${kind}`)
  }
}

export interface SnapshotFileRecord extends DurableSnapshot {
  readonly generation: number
}

export function encodeSnapshotRecord(snapshot: SnapshotFileRecord): Uint8Array {
  return unsealed(writer(snapshot.meta.length + snapshot.data.length).u8(SNAPSHOT_FILE).uvarint(snapshot.index)
    .uvarint(snapshot.generation).bytes(snapshot.meta).raw(snapshot.data))
}

export function decodeSnapshotRecord(payload: Uint8Array, where: string): SnapshotFileRecord {
  const r = new BinaryReader(payload, `snapshot (${where})`)
  const kind = r.u8()
  if (kind !== SNAPSHOT_FILE) throw new CodecError(`malformed snapshot (${where}): record kind ${kind}, expected ${SNAPSHOT_FILE}`)
  const index = r.uvarint()
  const generation = r.uvarint()
  const meta = r.bytes()
  return { index, generation, meta, data: r.raw(r.remaining) }
}
