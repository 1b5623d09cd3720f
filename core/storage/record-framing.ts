/**
 * On-disk framing of the file storage (format version 2): preallocated log segments of checksummed, numbered records,
 * and the snapshot file. This module decides, from the bytes alone, what is a torn append and what is corruption.
 *
 * Segment (`wal-<seq>.log`), preallocated to a fixed size that its header records; the unused remainder is zeros:
 *
 *   [segment header, 40 bytes]  magic "CWAL" | version u32 | segment seq u64 | segment size u64
 *                               | seq of its first record u64 | flags u32 (bit 0: base) | crc32 of the 36 bytes before
 *   [record]*                   records at consecutive positions
 *   [zeros]                     up to the size in the header
 *
 * Record:
 *
 *   [record header, 20 bytes]   payload length u32 | record seq u64 | crc32 of payload u32 | crc32 of the 16 bytes before
 *   [payload]
 *   [end marker, 1 byte]        0xA5: non-zero, and no single bit flip turns it into zero or back into itself
 *
 * All integers little-endian. Record seqs number every record of the directory's log consecutively (across segments
 * and compactions), so a record missing in the middle is seen. A base segment (the first one, or one a compaction
 * wrote) holds the whole live state; segments before the newest base are superseded.
 *
 * Why each piece: a torn append (the unsynced end of the log when the machine died) leaves a prefix of the record
 * bytes followed by the zeros that were there before. A complete record with a flipped bit looks different: its
 * header checksum fails with non-zero payload bytes behind it, or its payload checksum fails with its end marker in
 * place. So a damaged length can no longer pass for a torn tail (format version 1, without a header checksum, cut
 * every record after a damaged length). Truncation at a record boundary, which no byte pattern can tell from "never
 * written", shows up as a segment shorter than its header says. Format version 1 is not migrated: the project has no
 * deployed users yet, so an old segment is refused with a message saying so.
 *
 * Snapshot file (`snapshot.bin`, replaced atomically, so any damage is corruption):
 *
 *   magic "CSNP" | version u32 | one record (seq 0) | nothing after it
 */
import { crc32 } from 'node:zlib'

export const FORMAT_VERSION = 2
export const SEGMENT_HEADER_BYTES = 40
export const RECORD_HEADER_BYTES = 20
/** Bytes a record takes besides its payload: the header and the end marker. */
export const RECORD_OVERHEAD_BYTES = RECORD_HEADER_BYTES + 1
export const RECORD_END_MARKER = 0xa5
export const SNAPSHOT_HEADER_BYTES = 8
/** The largest record we write (a snapshot must fit in one). */
export const MAX_RECORD_BYTES = 1 << 30

const SEGMENT_MAGIC = 0x4c415743 // "CWAL" read as a little-endian u32
const SNAPSHOT_MAGIC = 0x504e5343 // "CSNP"
const BASE_FLAG = 1

export class StorageCorruptionError extends Error {
  override readonly name = 'StorageCorruptionError'
  readonly file: string
  readonly offset: number
  constructor(file: string, offset: number, reason: string) {
    // Not "restore a backup": an older copy under the same identity forgets votes and acknowledgements just the same.
    super(`storage corrupted: ${file} at byte offset ${offset}: ${reason} (refusing to start; keep these files, and ` +
      'bring the replica back as a fresh member with a new identity: README, "What to do with a refused replica")')
    this.file = file
    this.offset = offset
  }
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** u64 fields hold values below 2^53 (seqs and sizes), read and written as two u32 halves. */
function getU64(v: DataView, at: number): number {
  return v.getUint32(at + 4, true) * 0x1_0000_0000 + v.getUint32(at, true)
}

function setU64(v: DataView, at: number, value: number): void {
  v.setUint32(at, value >>> 0, true)
  v.setUint32(at + 4, Math.floor(value / 0x1_0000_0000), true)
}

// --- records ---

/**
 * Fill in the header of `record`, whose payload starts at byte RECORD_HEADER_BYTES and whose last byte is reserved for
 * the end marker (the wal-codec encoders lay records out so). Returns `record`.
 */
export function sealRecord(record: Uint8Array, seq: number): Uint8Array {
  const payloadLength = record.length - RECORD_OVERHEAD_BYTES
  if (payloadLength > MAX_RECORD_BYTES) throw new RangeError(`record of ${payloadLength} bytes exceeds ${MAX_RECORD_BYTES}`)
  const v = view(record)
  v.setUint32(0, payloadLength, true)
  setU64(v, 4, seq)
  v.setUint32(12, crc32(record.subarray(RECORD_HEADER_BYTES, record.length - 1)), true)
  v.setUint32(16, crc32(record.subarray(0, 16)), true)
  record[record.length - 1] = RECORD_END_MARKER
  return record
}

/** The payload of a record laid out for sealRecord. */
export function recordPayload(record: Uint8Array): Uint8Array {
  return record.subarray(RECORD_HEADER_BYTES, record.length - 1)
}

interface RecordHeader {
  readonly length: number
  readonly seq: number
  readonly payloadCrc: number
}

/** The header at `at` if its checksum holds (an all-zero header never does: crc32 of zeros is not zero). */
function readHeader(bytes: Uint8Array, v: DataView, at: number): RecordHeader | null {
  if (at + RECORD_HEADER_BYTES > bytes.length) return null
  if (crc32(bytes.subarray(at, at + 16)) !== v.getUint32(at + 16, true)) return null
  return { length: v.getUint32(at, true), seq: getU64(v, at + 4), payloadCrc: v.getUint32(at + 12, true) }
}

const ZEROS = new Uint8Array(1 << 16)

/** The offset of the first non-zero byte in [from, to), or -1. Compares 64 KiB at a time (memcmp, not a JS loop). */
export function firstNonZero(bytes: Uint8Array, from: number, to = bytes.length): number {
  for (let at = from; at < to; at += ZEROS.length) {
    const end = Math.min(to, at + ZEROS.length)
    if (Buffer.compare(bytes.subarray(at, end), ZEROS.subarray(0, end - at)) === 0) continue
    for (let i = at; i < end; i++) if (bytes[i] !== 0) return i
  }
  return -1
}

/** The offset of the last non-zero byte in [from, bytes.length), or -1. */
export function lastNonZero(bytes: Uint8Array, from: number): number {
  for (let end = bytes.length; end > from; end -= ZEROS.length) {
    const at = Math.max(from, end - ZEROS.length)
    if (Buffer.compare(bytes.subarray(at, end), ZEROS.subarray(0, end - at)) === 0) continue
    for (let i = end - 1; i >= at; i--) if (bytes[i] !== 0) return i
  }
  return -1
}

/** The first offset >= from holding a record header whose checksum holds, or -1. Skips runs of zeros quickly. */
function findHeader(bytes: Uint8Array, v: DataView, from: number): number {
  let at = from
  while (at + RECORD_OVERHEAD_BYTES <= bytes.length) {
    const z = firstNonZero(bytes, at)
    if (z < 0) return -1
    // A header containing the non-zero byte at z starts at most RECORD_HEADER_BYTES - 1 before it.
    for (let c = Math.max(at, z - RECORD_HEADER_BYTES + 1); c <= z && c + RECORD_OVERHEAD_BYTES <= bytes.length; c++) {
      if (readHeader(bytes, v, c) !== null) return c
    }
    at = z + 1
  }
  return -1
}

// --- segments ---

export interface SegmentHeader {
  readonly seq: number
  readonly size: number
  readonly firstRecordSeq: number
  /** Holds the whole live state (the first segment of a directory, or a compaction's rewrite). */
  readonly base: boolean
}

export function encodeSegmentHeader(header: SegmentHeader): Uint8Array {
  const bytes = new Uint8Array(SEGMENT_HEADER_BYTES)
  const v = view(bytes)
  v.setUint32(0, SEGMENT_MAGIC, true)
  v.setUint32(4, FORMAT_VERSION, true)
  setU64(v, 8, header.seq)
  setU64(v, 16, header.size)
  setU64(v, 24, header.firstRecordSeq)
  v.setUint32(32, header.base ? BASE_FLAG : 0, true)
  v.setUint32(36, crc32(bytes.subarray(0, 36)), true)
  return bytes
}

/**
 * The header of a segment file of `fileSize` bytes from its first bytes; any damage, an unknown version or a size
 * other than the header's is corruption.
 */
export function decodeSegmentHeader(bytes: Uint8Array, file: string, fileSize = bytes.length): SegmentHeader {
  if (fileSize < SEGMENT_HEADER_BYTES || bytes.length < SEGMENT_HEADER_BYTES) {
    throw new StorageCorruptionError(file, 0, `${fileSize} bytes, shorter than a segment header (${SEGMENT_HEADER_BYTES})`)
  }
  const v = view(bytes)
  if (v.getUint32(0, true) !== SEGMENT_MAGIC) {
    throw new StorageCorruptionError(file, 0, 'no segment header (bad magic): not a log segment of format version ' +
      `${FORMAT_VERSION} (format 1, written by older builds, had no header and is not migrated)`)
  }
  if (crc32(bytes.subarray(0, 36)) !== v.getUint32(36, true)) {
    throw new StorageCorruptionError(file, 0, 'segment header checksum mismatch')
  }
  const version = v.getUint32(4, true)
  if (version !== FORMAT_VERSION) {
    throw new StorageCorruptionError(file, 4, `unknown log format version ${version} (this build reads version ${FORMAT_VERSION})`)
  }
  const flags = v.getUint32(32, true)
  if ((flags & ~BASE_FLAG) !== 0) throw new StorageCorruptionError(file, 32, `unknown segment flags ${flags}`)
  const header = { seq: getU64(v, 8), size: getU64(v, 16), firstRecordSeq: getU64(v, 24), base: (flags & BASE_FLAG) !== 0 }
  // Segments are preallocated and never change size: a different size is a truncated (or extended) file, which is
  // the one damage that the bytes that are left could not show.
  if (fileSize !== header.size) {
    throw new StorageCorruptionError(file, Math.min(fileSize, header.size), `segment is ${fileSize} bytes, ` +
      `its header says ${header.size} (truncated or extended)`)
  }
  return header
}

export interface ScannedRecord {
  /** Byte offset of the record's header in the file. */
  readonly offset: number
  readonly seq: number
  readonly payload: Uint8Array
}

export interface SegmentScan {
  readonly header: SegmentHeader
  readonly records: ScannedRecord[]
  /** Where the next record goes: the end of the last good record. */
  readonly end: number
  /** The seq the next record gets. */
  readonly nextRecordSeq: number
  /**
   * Bytes from `end` to discard (a torn append, or stray bits in the zeroed remainder): zero [end, zeroTo). Null when
   * everything after `end` is already zero.
   */
  readonly tail: { readonly zeroTo: number; readonly reason: string } | null
}

/**
 * Every record of a segment file. `last`: the segment being appended to when the process stopped, whose end may hold
 * a torn append; in any other segment every byte after the last record must be zero.
 *
 * At each position the scan finds one of:
 * - a record whose header and payload checksums hold, with its end marker and the expected seq: keep it;
 * - zeros to the end: the end of the log;
 * - a header with a good checksum but a wrong seq, a length past the segment, a bad payload checksum with the end
 *   marker written, or a bad end marker: a complete record that was damaged or misplaced. Refuse;
 * - a good header, the end marker still zero and zeros after: an append torn before its last byte. Cut;
 * - a damaged header with only zeros after it: a header torn part way (or a flipped bit in the zeros just after the
 *   last record). Cut. With anything non-zero after it, it was the header of a complete record. Refuse;
 * - an all-zero header followed by a valid header further on: records after a hole, a lost write. Refuse. Followed
 *   by one non-zero byte and no valid header: a flipped bit in the unused remainder, no data. Cut. By more: perhaps
 *   a record whose header sector was lost, perhaps an unsynced append whose sectors landed out of order; it cannot
 *   be told which, so refuse.
 */
export function scanSegment(bytes: Uint8Array, file: string, last: boolean): SegmentScan {
  const header = decodeSegmentHeader(bytes, file)
  const v = view(bytes)
  const records: ScannedRecord[] = []
  let at = SEGMENT_HEADER_BYTES
  let seq = header.firstRecordSeq
  const refuse = (offset: number, reason: string): never => { throw new StorageCorruptionError(file, offset, reason) }
  const finish = (reason: string | null): SegmentScan => {
    let tail: SegmentScan['tail'] = null
    if (reason !== null) {
      const lastDirty = lastNonZero(bytes, at)
      if (lastDirty >= 0) tail = { zeroTo: lastDirty + 1, reason: `${reason} at byte offset ${at}` }
    }
    return { header, records, end: at, nextRecordSeq: seq, tail }
  }
  const cut = (reason: string): SegmentScan => {
    if (!last) refuse(at, `${reason}, in a segment that is not the last`)
    return finish(reason)
  }
  while (at < bytes.length) {
    if (firstNonZero(bytes, at) < 0) return finish(null)
    if (at + RECORD_OVERHEAD_BYTES > bytes.length) return cut('non-zero bytes where no record fits')
    const h = readHeader(bytes, v, at)
    if (h !== null) {
      if (h.seq !== seq) refuse(at, `record #${h.seq} where record #${seq} belongs (a lost or misdirected write)`)
      const end = at + RECORD_OVERHEAD_BYTES + h.length
      if (end > bytes.length) refuse(at, `record #${seq} of ${h.length} bytes runs past the end of the segment (${bytes.length} bytes)`)
      const marker = bytes[end - 1]!
      const payload = bytes.subarray(at + RECORD_HEADER_BYTES, end - 1)
      if (marker === RECORD_END_MARKER && crc32(payload) === h.payloadCrc) {
        records.push({ offset: at, seq, payload })
        at = end
        seq++
        continue
      }
      if (marker === 0 && firstNonZero(bytes, end) < 0) return cut(`record #${seq} of ${h.length} bytes torn before its end marker`)
      if (marker !== RECORD_END_MARKER) refuse(end - 1, `bad end marker 0x${marker.toString(16)} of record #${seq} (at byte offset ${at})`)
      refuse(at, `payload checksum mismatch on record #${seq} of ${h.length} bytes`)
    }
    const headerEnd = at + RECORD_HEADER_BYTES
    if (firstNonZero(bytes, at, headerEnd) >= 0) {
      if (firstNonZero(bytes, headerEnd) < 0) return cut('partial or damaged record header followed only by zeros')
      refuse(at, `record header checksum mismatch (length field reads ${v.getUint32(at, true)}) with data after it`)
    }
    const later = findHeader(bytes, v, headerEnd)
    if (later >= 0) {
      refuse(at, `zeros where record #${seq} belongs, yet record #${getU64(v, later + 4)} follows at byte offset ${later} ` +
        '(a lost write)')
    }
    // A torn append starts at a header, so it cannot leave this. One stray byte is bit rot in the unused zeros; more
    // could be a record that lost its header (or sectors of an unsynced append that landed without theirs): refuse,
    // since a synced record may be among them.
    const stray = firstNonZero(bytes, at)
    if (stray !== lastNonZero(bytes, at)) {
      refuse(at, `zeros where record #${seq} belongs, yet non-zero bytes follow from byte offset ${stray} (a record ` +
        'that lost its header?)')
    }
    return cut(`a stray non-zero byte at byte offset ${stray} after the last record`)
  }
  return finish(null)
}

// --- the snapshot file ---

export function encodeSnapshotFile(record: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(SNAPSHOT_HEADER_BYTES + record.length)
  const v = view(bytes)
  v.setUint32(0, SNAPSHOT_MAGIC, true)
  v.setUint32(4, FORMAT_VERSION, true)
  bytes.set(sealRecord(record, 0), SNAPSHOT_HEADER_BYTES)
  return bytes
}

/** The payload of the snapshot file's one record. The file is replaced atomically: every deviation is corruption. */
export function decodeSnapshotFile(bytes: Uint8Array, file: string): Uint8Array {
  const refuse = (offset: number, reason: string): never => { throw new StorageCorruptionError(file, offset, reason) }
  if (bytes.length < SNAPSHOT_HEADER_BYTES + RECORD_OVERHEAD_BYTES) refuse(0, `${bytes.length} bytes, too short for a snapshot`)
  const v = view(bytes)
  if (v.getUint32(0, true) !== SNAPSHOT_MAGIC) refuse(0, 'bad magic: not a snapshot file')
  const version = v.getUint32(4, true)
  if (version !== FORMAT_VERSION) refuse(4, `unknown snapshot format version ${version} (this build reads version ${FORMAT_VERSION})`)
  const at = SNAPSHOT_HEADER_BYTES
  const h = readHeader(bytes, v, at)
  if (h === null) return refuse(at, 'record header checksum mismatch')
  if (h.seq !== 0) refuse(at, `record seq ${h.seq}, expected 0`)
  const end = at + RECORD_OVERHEAD_BYTES + h.length
  if (end !== bytes.length) refuse(at, `record of ${h.length} bytes in a file of ${bytes.length} bytes (truncated or extended)`)
  if (bytes[end - 1] !== RECORD_END_MARKER) refuse(end - 1, 'bad end marker')
  const payload = bytes.subarray(at + RECORD_HEADER_BYTES, end - 1)
  if (crc32(payload) !== h.payloadCrc) refuse(at, `payload checksum mismatch on the snapshot record of ${h.length} bytes`)
  return payload
}
