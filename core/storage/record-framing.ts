/**
 * Checksummed record framing for storage files: `[payload length u32 LE][crc32 of payload u32 LE][payload]`.
 *
 * Reading tells apart the two ways a file can be damaged. A *torn tail* (the process or machine died while the last
 * append was reaching the disk: a short header, a short payload, or a bad checksum on the very last record) is
 * expected after a crash and is cut off. Damage anywhere before the last record cannot come from a crash (appends
 * never rewrite earlier bytes), so it is corruption and reading stops with an error naming the file and offset.
 */
import { crc32 } from 'node:zlib'

export const RECORD_HEADER_BYTES = 8
/** The largest record we write (a snapshot must fit in one). */
export const MAX_RECORD_BYTES = 1 << 30

export class StorageCorruptionError extends Error {
  override readonly name = 'StorageCorruptionError'
  readonly file: string
  readonly offset: number
  constructor(file: string, offset: number, reason: string) {
    super(`storage corrupted: ${file} at byte offset ${offset}: ${reason} (refusing to start; restore this replica ` +
      'from a peer or a backup)')
    this.file = file
    this.offset = offset
  }
}

/** Fill in the header of a record whose payload starts at byte RECORD_HEADER_BYTES of `record`. */
export function sealRecord(record: Uint8Array): Uint8Array {
  const payloadLength = record.length - RECORD_HEADER_BYTES
  if (payloadLength > MAX_RECORD_BYTES) throw new RangeError(`record of ${payloadLength} bytes exceeds ${MAX_RECORD_BYTES}`)
  const view = new DataView(record.buffer, record.byteOffset, RECORD_HEADER_BYTES)
  view.setUint32(0, payloadLength, true)
  view.setUint32(4, crc32(record.subarray(RECORD_HEADER_BYTES)), true)
  return record
}

export interface ScannedRecord {
  /** Byte offset of the record's header in the file. */
  readonly offset: number
  readonly payload: Uint8Array
}

export interface ScanResult {
  readonly records: ScannedRecord[]
  /** Bytes up to the end of the last good record: the file should be cut to this length. */
  readonly validLength: number
  /** Why the tail was cut, or null when the file ended on a record boundary. */
  readonly tornTail: string | null
}

/**
 * Every record of a file. With `tailMayBeTorn` (the file being appended to when the process stopped) a damaged last
 * record is reported as a torn tail; otherwise any damage is corruption.
 */
export function scanRecords(bytes: Uint8Array, file: string, tailMayBeTorn: boolean): ScanResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const records: ScannedRecord[] = []
  let offset = 0
  const torn = (reason: string): ScanResult => {
    if (!tailMayBeTorn) throw new StorageCorruptionError(file, offset, reason)
    return { records, validLength: offset, tornTail: `${reason} at byte offset ${offset}` }
  }
  while (offset < bytes.length) {
    const left = bytes.length - offset
    if (left < RECORD_HEADER_BYTES) return torn(`short record header (${left} of ${RECORD_HEADER_BYTES} bytes)`)
    const length = view.getUint32(offset, true)
    const checksum = view.getUint32(offset + 4, true)
    // A power loss can leave the unsynced end of a file zero-filled; a zero header would otherwise read as an
    // empty record with a valid checksum.
    if (length === 0 && restIsZero(bytes, offset)) return torn('zero-filled tail')
    const end = offset + RECORD_HEADER_BYTES + length
    // A length past the end of the file is an append that did not finish (or a damaged length field: the two cannot
    // be told apart, as in etcd's WAL; the checksum catches every other damage).
    if (end > bytes.length) return torn(`record of ${length} bytes cut after ${left - RECORD_HEADER_BYTES}`)
    const payload = bytes.subarray(offset + RECORD_HEADER_BYTES, end)
    if (crc32(payload) !== checksum) {
      if (end === bytes.length) return torn('checksum mismatch on the last record')
      throw new StorageCorruptionError(file, offset, `checksum mismatch on a record of ${length} bytes followed by ` +
        `${bytes.length - end} more bytes`)
    }
    records.push({ offset, payload })
    offset = end
  }
  return { records, validLength: offset, tornTail: null }
}

function restIsZero(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false
  return true
}
