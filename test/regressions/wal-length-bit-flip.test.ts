/**
 * Regression: one flipped bit in a WAL record's length field silently dropped every later record.
 *
 * 100 entries written with fsync 'always' (each synced), the storage closed, one bit of the length field of record 41
 * flipped: load() succeeded with records 1-40 and reported a "torn tail" (record of 16777268 bytes cut after 3592 at
 * byte offset 2400). Sixty fsynced records were gone without an error; a replica may have acknowledged them. The same
 * flip at one third of a live replica's log made test/live/processes/ flaky. Fixed in log format 2: a record
 * header carries its own checksum, so a damaged length is a damaged complete record (refused), never a torn append.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createFileStorage } from '../../core/storage/file-storage.ts'
import { RECORD_OVERHEAD_BYTES, SEGMENT_HEADER_BYTES, StorageCorruptionError } from '../../core/storage/record-framing.ts'
import { syncOf } from '../storage/conformance.ts'

const dirs: string[] = []
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })

describe('regression: a flipped bit in a WAL length field', () => {
  it('is refused, naming the file and the offset of record 41, instead of dropping records 41-100', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wal-length-flip-'))
    dirs.push(dir)
    const s = createFileStorage({ dir, fsync: 'always' })
    for (let index = 1; index <= 100; index++) {
      s.write([{ kind: 'entry', index, value: new Uint8Array(50).fill(index) }])
      await syncOf(s)
    }
    s.close()
    const file = join(dir, readdirSync(dir).find(n => n.startsWith('wal-'))!)
    // Each record: header, payload (kind byte, one-byte index varint, 50 value bytes), end marker.
    const recordBytes = RECORD_OVERHEAD_BYTES + 52
    const record41 = SEGMENT_HEADER_BYTES + 40 * recordBytes
    const bytes = readFileSync(file)
    expect(bytes.readUInt32LE(record41)).toBe(52)
    bytes[record41 + 3]! ^= 0x01 // length 52 becomes 16777268, as in the report
    writeFileSync(file, bytes)

    let error: unknown
    try { createFileStorage({ dir }).close() } catch (e) { error = e }
    expect(error).toBeInstanceOf(StorageCorruptionError)
    const refusal = error as StorageCorruptionError
    expect(refusal.file).toBe(file)
    expect(refusal.offset).toBe(record41)
    expect(refusal.message).toContain(`${file} at byte offset ${record41}: record header checksum mismatch (length field reads 16777268)`)
    expect(refusal.message).toContain('refusing to start')
    // The refused replica's files are left as they were, for inspection.
    expect(readFileSync(file).equals(bytes)).toBe(true)
  })
})
