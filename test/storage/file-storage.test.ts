import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../../core/errors.ts'
import { createFileStorage, FSYNC_POLICIES } from '../../core/storage/file-storage.ts'
import type { FileStorage, FsyncPolicy } from '../../core/storage/file-storage.ts'
import { crc32 } from 'node:zlib'
import {
  RECORD_HEADER_BYTES, RECORD_OVERHEAD_BYTES, sealRecord, SEGMENT_HEADER_BYTES, StorageCorruptionError,
} from '../../core/storage/record-framing.ts'
import type { Storage } from '../../core/storage.ts'
import { plain, storageConformance, syncOf } from './conformance.ts'

const dirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'file-storage-'))
  dirs.push(dir)
  return dir
}
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })

for (const policy of FSYNC_POLICIES) {
  storageConformance(`file storage (fsync ${policy})`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'file-storage-conf-'))
    let open: FileStorage | null = null
    return {
      open: () => (open = createFileStorage({ dir, fsync: policy, batchWindowMs: 1, segmentBytes: 2048 })),
      crash: (s: Storage) => (s as FileStorage).crash(),
      dispose: () => { open?.crash(); rmSync(dir, { recursive: true, force: true }) },
    }
  })
}

const segments = (dir: string): string[] => readdirSync(dir).filter(n => n.startsWith('wal-')).sort()
const lastSegment = (dir: string): string => join(dir, segments(dir).at(-1)!)
const entry = (index: number, fill = index): { kind: 'entry'; index: number; value: Uint8Array } =>
  ({ kind: 'entry', index, value: new Uint8Array(10).fill(fill) })
/** Each entry() record: header + 1 kind byte + 1 index byte + 10 value bytes + end marker. */
const RECORD = RECORD_OVERHEAD_BYTES + 12
/** Byte offset of the i-th record (from 0) of the first segment. */
const at = (i: number): number => SEGMENT_HEADER_BYTES + i * RECORD

/** Open, load and close: what a restart would recover. */
function reopen(dir: string): { state: ReturnType<FileStorage['load']>; stats: FileStorage['stats'] } {
  const s = createFileStorage({ dir })
  const state = s.load()
  s.close()
  return { state, stats: s.stats }
}

function patch(file: string, offset: number, bytes: Uint8Array): void {
  const b = readFileSync(file)
  b.set(bytes, offset)
  writeFileSync(file, b)
}

function refusal(dir: string): StorageCorruptionError {
  let error: unknown
  try { createFileStorage({ dir }).close() } catch (e) { error = e }
  expect(error).toBeInstanceOf(StorageCorruptionError)
  return error as StorageCorruptionError
}

/** Three synced entries (indexes 1..3), closed. */
async function threeEntries(dir: string): Promise<void> {
  const s = createFileStorage({ dir, segmentBytes: 4096 })
  s.write([entry(1), entry(2), entry(3)])
  await syncOf(s)
  s.close()
}

describe('file storage: crash recovery', () => {
  it('loses writes that were never synced and keeps those that were', async () => {
    const dir = tempDir()
    const s = createFileStorage({ dir })
    s.write([{ kind: 'put', key: 'term', value: new Uint8Array([5]) }, entry(1)])
    await syncOf(s)
    s.write([entry(2)])
    s.crash()
    expect(plain(reopen(dir).state)).toEqual({ hard: { term: '05' }, log: [[1, '01'.repeat(10)]], snapshot: null })
  })

  it('cuts an append torn in the middle of a record (a prefix, then zeros) by zeroing it, keeping the size', async () => {
    const dir = tempDir()
    await threeEntries(dir)
    const file = lastSegment(dir)
    const size = statSync(file).size
    patch(file, at(2) + 25, new Uint8Array(RECORD - 25)) // the third record's last 8 bytes never reached the disk
    const s = createFileStorage({ dir })
    expect(s.load().log.map(e => e.index)).toEqual([1, 2])
    expect(s.stats.tornTail).toContain(`at byte offset ${at(2)}`)
    expect(s.stats.tornTail).toContain('torn before its end marker')
    expect(statSync(file).size).toBe(size)
    expect(readFileSync(file).subarray(at(2)).every(b => b === 0)).toBe(true)
    // Appending after the cut yields a clean log.
    s.write([entry(3, 33)])
    await syncOf(s)
    s.close()
    const again = reopen(dir)
    expect(again.state.log.map(e => e.index)).toEqual([1, 2, 3])
    expect(again.stats.tornTail).toBeNull()
  })

  it('cuts a partial record header, and stray bits in the zeros after the last record', async () => {
    const dir = tempDir()
    await threeEntries(dir)
    const file = lastSegment(dir)
    patch(file, at(3), new Uint8Array([0x40, 0, 0, 0, 1, 2, 3])) // a header promising 64 bytes, cut after 7
    let r = reopen(dir)
    expect(r.state.log).toHaveLength(3)
    expect(r.stats.tornTail).toContain(`partial or damaged record header followed only by zeros at byte offset ${at(3)}`)
    patch(file, 3000, new Uint8Array([0x10]))
    r = reopen(dir)
    expect(r.state.log).toHaveLength(3)
    expect(r.stats.tornTail).toContain(`a stray non-zero byte at byte offset 3000 after the last record at byte offset ${at(3)}`)
    expect(reopen(dir).stats.tornTail).toBeNull()
    // More than one stray byte could be a record that lost its header: refused.
    patch(file, at(3) + RECORD_HEADER_BYTES, new Uint8Array([2, 4, 0xa5]))
    expect(refusal(dir).message).toContain(`byte offset ${at(3)}: zeros where record #4 belongs, yet non-zero bytes follow`)
  })

  it('refuses a complete last record whose payload checksum fails (its end marker shows it was written whole)', async () => {
    const dir = tempDir()
    await threeEntries(dir)
    const file = lastSegment(dir)
    const b = readFileSync(file)
    b[at(3) - 2]! ^= 0x01
    writeFileSync(file, b)
    const error = refusal(dir)
    expect(error.message).toContain(`${file} at byte offset ${at(2)}: payload checksum mismatch on record #3`)
    expect(readFileSync(file).equals(b)).toBe(true)
  })

  it('refuses to start on corruption before the last record, naming the file and byte offset', async () => {
    const dir = tempDir()
    await threeEntries(dir)
    const file = lastSegment(dir)
    const b = readFileSync(file)
    b[at(1) + RECORD_HEADER_BYTES + 4]! ^= 0x01 // a value byte of the second record
    writeFileSync(file, b)
    writeFileSync(join(dir, 'snapshot.bin.tmp'), new Uint8Array([1])) // left by a crash: kept too, for inspection
    const error = refusal(dir)
    expect(error.message).toContain(file)
    expect(error.message).toContain(`byte offset ${at(1)}`)
    expect(error.message).toContain('refusing to start')
    expect(error.offset).toBe(at(1))
    // Refusing must not have "repaired" anything.
    expect(readFileSync(file).equals(b)).toBe(true)
    expect(existsSync(join(dir, 'snapshot.bin.tmp'))).toBe(true)
  })

  it('refuses a damaged length field instead of taking it for a torn tail', async () => {
    const dir = tempDir()
    await threeEntries(dir)
    const file = lastSegment(dir)
    const b = readFileSync(file)
    b[at(2) + 3]! ^= 0x01 // the last record's length: 12 + 2^24
    writeFileSync(file, b)
    expect(refusal(dir).message).toContain(`byte offset ${at(2)}: record header checksum mismatch (length field reads ${12 + 2 ** 24})`)
  })

  it('refuses zeros in place of a record followed by later records (a lost write)', async () => {
    const dir = tempDir()
    await threeEntries(dir)
    const file = lastSegment(dir)
    patch(file, at(1), new Uint8Array(RECORD))
    expect(refusal(dir).message).toContain(`byte offset ${at(1)}: zeros where record #2 belongs, yet record #3 follows at byte offset ${at(2)}`)
  })

  it('refuses a segment cut short at a record boundary (what the bytes alone could not show)', async () => {
    const dir = tempDir()
    await threeEntries(dir)
    const file = lastSegment(dir)
    truncateSync(file, at(2))
    expect(refusal(dir).message).toMatch(/segment is \d+ bytes, its header says 4096 \(truncated or extended\)/)
  })

  it('refuses a segment of an unknown format version, and one of format 1 (no header)', async () => {
    const dir = tempDir()
    await threeEntries(dir)
    const file = lastSegment(dir)
    const header = readFileSync(file).subarray(0, SEGMENT_HEADER_BYTES)
    header.writeUInt32LE(3, 4)
    header.writeUInt32LE(crc32(header.subarray(0, 36)), 36)
    patch(file, 0, header)
    expect(refusal(dir).message).toContain('unknown log format version 3 (this build reads version 2)')
    writeFileSync(file, new Uint8Array(64).fill(7, 8)) // format 1 began with a record length
    expect(refusal(dir).message).toContain('format 1, written by older builds, had no header and is not migrated')
  })

  it('refuses a record whose checksums are right but whose content is not a log record', async () => {
    const dir = tempDir()
    await threeEntries(dir)
    const bogus = sealRecord(new Uint8Array([...new Uint8Array(RECORD_HEADER_BYTES), 99, 1, 2, 0]), 4)
    patch(lastSegment(dir), at(3), bogus)
    expect(() => createFileStorage({ dir })).toThrow(/unknown record kind 99/)
  })

  it('rolls over to a new preallocated segment when a record does not fit, and a record larger than a segment gets its own', async () => {
    const dir = tempDir()
    const s = createFileStorage({ dir, segmentBytes: 512 })
    for (let i = 1; i <= 40; i++) { s.write([entry(i)]); await syncOf(s) }
    s.write([{ kind: 'entry', index: 41, value: new Uint8Array(2000).fill(41) }])
    await syncOf(s)
    s.close()
    const names = segments(dir)
    expect(names.length).toBeGreaterThan(3)
    for (const name of names.slice(0, -1)) expect(statSync(join(dir, name)).size).toBe(512)
    expect(statSync(join(dir, names.at(-1)!)).size).toBeGreaterThan(2000)
    const state = createFileStorage({ dir, segmentBytes: 512 })
    expect(state.load().log.map(e => e.index)).toEqual([...Array(41).keys()].map(i => i + 1))
    state.close()
  })
})

describe('file storage: the set of segments', () => {
  async function rolledOver(dir: string): Promise<string[]> {
    const s = createFileStorage({ dir, segmentBytes: 256 })
    for (let i = 1; i <= 30; i++) { s.write([entry(i)]); await syncOf(s) }
    s.close()
    const names = segments(dir)
    expect(names.length).toBeGreaterThanOrEqual(4)
    return names
  }

  it('refuses a log with a segment missing in the middle', async () => {
    const dir = tempDir()
    const names = await rolledOver(dir)
    rmSync(join(dir, names[2]!))
    expect(refusal(dir).message).toContain(`${join(dir, names[3]!)} at byte offset 0: segment 3 is missing`)
  })

  it('refuses a log whose first segment is missing (no base segment to start from)', async () => {
    const dir = tempDir()
    const names = await rolledOver(dir)
    rmSync(join(dir, names[0]!))
    expect(refusal(dir).message).toContain('no base segment')
  })

  it('refuses a segment found under another segment\'s name', async () => {
    const dir = tempDir()
    const names = await rolledOver(dir)
    const second = readFileSync(join(dir, names[1]!))
    const third = readFileSync(join(dir, names[2]!))
    writeFileSync(join(dir, names[1]!), third)
    expect(refusal(dir).message).toContain('header names segment 3')
    writeFileSync(join(dir, names[1]!), second)
    expect(reopen(dir).state.log).toHaveLength(30)
  })
})

describe('file storage: snapshots and compaction', () => {
  it('replaces the snapshot file atomically and compacts the log into a new segment', async () => {
    const dir = tempDir()
    const s = createFileStorage({ dir, segmentBytes: 4096 })
    for (let i = 1; i <= 500; i++) s.write([entry(i, i & 0xff)])
    s.write([{ kind: 'put', key: 'term', value: new Uint8Array([9]) }])
    await syncOf(s)
    const before = segments(dir)
    expect(before.length).toBeGreaterThan(4)
    s.write([{ kind: 'snapshot', index: 495, meta: new Uint8Array([1]), data: new Uint8Array(100).fill(7) }, entry(501)])
    await syncOf(s)
    expect(s.stats.compactions).toBe(1)
    const after = segments(dir)
    expect(after).toHaveLength(1)
    expect(before).not.toContain(after[0])
    expect(statSync(lastSegment(dir)).size).toBe(4096)
    expect(readdirSync(dir).filter(n => n.endsWith('.tmp'))).toEqual([])
    expect(existsSync(join(dir, 'snapshot.bin'))).toBe(true)
    s.close()
    const state = reopen(dir).state
    expect(state.log.map(e => e.index)).toEqual([496, 497, 498, 499, 500, 501])
    expect(state.snapshot?.index).toBe(495)
    expect(state.snapshot?.data).toEqual(new Uint8Array(100).fill(7))
    expect(plain(state)).toMatchObject({ hard: { term: '09' } })
  })

  it('a compaction larger than a segment gets a larger segment', async () => {
    const dir = tempDir()
    const s = createFileStorage({ dir, segmentBytes: 512 })
    for (let i = 1; i <= 60; i++) s.write([entry(i)])
    s.write([{ kind: 'snapshot', index: 2, meta: new Uint8Array(0), data: new Uint8Array(0) }])
    await syncOf(s)
    s.close()
    expect(segments(dir)).toHaveLength(1)
    expect(statSync(lastSegment(dir)).size).toBeGreaterThan(58 * RECORD)
    expect(reopen(dir).state.log).toHaveLength(58)
  })

  it('ignores a half-written snapshot replacement left by a crash', async () => {
    const dir = tempDir()
    const s = createFileStorage({ dir })
    s.write([entry(1), { kind: 'snapshot', index: 1, meta: new Uint8Array([1]), data: new Uint8Array([42]) }, entry(2)])
    await syncOf(s)
    s.close()
    writeFileSync(join(dir, 'snapshot.bin.tmp'), new Uint8Array([1, 2, 3, 4, 5]))
    const state = reopen(dir).state
    expect(state.snapshot?.data).toEqual(new Uint8Array([42]))
    expect(state.log.map(e => e.index)).toEqual([2])
    expect(existsSync(join(dir, 'snapshot.bin.tmp'))).toBe(false)
  })

  it('a snapshot made durable before its log marker still covers the older records (crash in between)', async () => {
    const dir = tempDir()
    const s = createFileStorage({ dir })
    for (let i = 1; i <= 6; i++) s.write([entry(i)])
    await syncOf(s)
    s.close()
    // The same snapshot written by another storage: only its file is copied in, as if the marker never made it.
    const other = tempDir()
    const o = createFileStorage({ dir: other })
    o.write([{ kind: 'snapshot', index: 4, meta: new Uint8Array(0), data: new Uint8Array([4]) }])
    await syncOf(o)
    o.close()
    copyFileSync(join(other, 'snapshot.bin'), join(dir, 'snapshot.bin'))
    const state = reopen(dir).state
    expect(state.snapshot?.index).toBe(4)
    expect(state.log.map(e => e.index)).toEqual([5, 6])
  })

  it('an old segment left by a crash during compaction is superseded by the newer base segment and deleted', async () => {
    const dir = tempDir()
    const s = createFileStorage({ dir })
    for (let i = 1; i <= 10; i++) s.write([entry(i)])
    s.write([{ kind: 'truncate', from: 9 }, { kind: 'put', key: 'vote', value: new Uint8Array([1]) }])
    await syncOf(s)
    const old = lastSegment(dir)
    const oldBytes = readFileSync(old)
    s.write([{ kind: 'snapshot', index: 3, meta: new Uint8Array(0), data: new Uint8Array(0) }])
    await syncOf(s)
    s.close()
    const expected = plain(reopen(dir).state)
    writeFileSync(old, oldBytes)
    expect(segments(dir)).toHaveLength(2)
    expect(plain(reopen(dir).state)).toEqual(expected)
    expect(segments(dir)).toHaveLength(1)
    expect((expected as { log: unknown[] }).log).toHaveLength(5) // 4..8
  })

  it('a corrupt snapshot file refuses to start', async () => {
    const dir = tempDir()
    const s = createFileStorage({ dir })
    s.write([{ kind: 'snapshot', index: 2, meta: new Uint8Array(0), data: new Uint8Array(64).fill(1) }])
    await syncOf(s)
    s.close()
    const file = join(dir, 'snapshot.bin')
    const b = readFileSync(file)
    b[b.length - 2]! ^= 0x01
    writeFileSync(file, b)
    expect(refusal(dir).message).toContain(`${file} at byte offset 8: payload checksum mismatch on the snapshot record`)
  })
})

describe('file storage: fsync policies', () => {
  async function syncsInOneTurn(policy: FsyncPolicy, count: number): Promise<{ storage: FileStorage; order: number[]; syncReturnedFirst: boolean }> {
    const dir = tempDir()
    const storage = createFileStorage({ dir, fsync: policy, batchWindowMs: 5 })
    const order: number[] = []
    let returned = false
    let syncReturnedFirst = true
    const all: Promise<void>[] = []
    for (let i = 0; i < count; i++) {
      storage.write([entry(i + 1)])
      all.push(new Promise(resolve => storage.sync(() => { if (!returned) syncReturnedFirst = false; order.push(i); resolve() })))
    }
    returned = true
    await Promise.all(all)
    return { storage, order, syncReturnedFirst }
  }

  it("'always' fsyncs once per sync call", async () => {
    const { storage, order, syncReturnedFirst } = await syncsInOneTurn('always', 8)
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect(storage.stats.fsyncs).toBe(8)
    expect(syncReturnedFirst).toBe(true)
    storage.close()
  })

  it("'batch' shares one fsync among the sync calls of a window, completing them in order", async () => {
    const { storage, order, syncReturnedFirst } = await syncsInOneTurn('batch', 20)
    expect(order).toEqual([...Array(20).keys()])
    expect(storage.stats.fsyncs).toBe(1)
    expect(syncReturnedFirst).toBe(true)
    // Syncs arriving while an fsync runs join the next group.
    storage.write([entry(100)])
    const first = syncOf(storage)
    await new Promise(resolve => setTimeout(resolve, 6)) // the first group's fsync is now under way or done
    storage.write([entry(101)])
    const second = syncOf(storage)
    storage.write([entry(102)])
    const third = syncOf(storage)
    await Promise.all([first, second, third])
    expect(storage.stats.fsyncs).toBe(3)
    storage.close()
    expect(reopen(storage.dir).state.log).toHaveLength(23)
  })

  it("'none' never fsyncs, yet survives a process crash (the page cache outlives the process)", async () => {
    const { storage, order } = await syncsInOneTurn('none', 5)
    expect(order).toEqual([0, 1, 2, 3, 4])
    storage.write([{ kind: 'snapshot', index: 2, meta: new Uint8Array(0), data: new Uint8Array(0) }])
    await syncOf(storage)
    expect(storage.stats.fsyncs).toBe(0)
    storage.crash()
    expect(reopen(storage.dir).state.log.map(e => e.index)).toEqual([3, 4, 5])
  })

  it('rejects bad options by field', () => {
    const dir = tempDir()
    expect(() => createFileStorage({ dir, fsync: 'sometimes' as FsyncPolicy })).toThrow(ConfigError)
    expect(() => createFileStorage({ dir, fsync: 'sometimes' as FsyncPolicy })).toThrow(/fsync/)
    expect(() => createFileStorage({ dir, batchWindowMs: -1 })).toThrow(/batchWindowMs/)
    expect(() => createFileStorage({ dir: '' })).toThrow(/dir/)
    expect(() => createFileStorage({ dir, segmentBytes: 100 })).toThrow(/segmentBytes/)
  })

  it('refuses writes after close', () => {
    const s = createFileStorage({ dir: tempDir() })
    s.close()
    expect(() => s.write([entry(1)])).toThrow(/after close/)
  })
})
