import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../../core/errors.ts'
import { createFileStorage, FSYNC_POLICIES } from '../../core/storage/file-storage.ts'
import type { FileStorage, FsyncPolicy } from '../../core/storage/file-storage.ts'
import { RECORD_HEADER_BYTES, StorageCorruptionError } from '../../core/storage/record-framing.ts'
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
    return {
      open: () => createFileStorage({ dir, fsync: policy, batchWindowMs: 1 }),
      crash: (s: Storage) => (s as FileStorage).crash(),
      dispose: () => rmSync(dir, { recursive: true, force: true }),
    }
  })
}

const segments = (dir: string): string[] => readdirSync(dir).filter(n => n.startsWith('wal-')).sort()
const lastSegment = (dir: string): string => join(dir, segments(dir).at(-1)!)
const entry = (index: number, fill = index): { kind: 'entry'; index: number; value: Uint8Array } =>
  ({ kind: 'entry', index, value: new Uint8Array(10).fill(fill) })

/** Three synced entries (indexes 1..3), closed: each record is header + 1 kind byte + 1 index byte + 10 value bytes. */
async function threeEntries(dir: string): Promise<number> {
  const s = createFileStorage({ dir })
  s.write([entry(1), entry(2), entry(3)])
  await syncOf(s)
  s.close()
  return RECORD_HEADER_BYTES + 12
}

describe('file storage: crash recovery', () => {
  it('loses writes that were never synced and keeps those that were', async () => {
    const dir = tempDir()
    const s = createFileStorage({ dir })
    s.write([{ kind: 'put', key: 'term', value: new Uint8Array([5]) }, entry(1)])
    await syncOf(s)
    s.write([entry(2)])
    s.crash()
    expect(plain(createFileStorage({ dir }).load())).toEqual({ hard: { term: '05' }, log: [[1, '01'.repeat(10)]], snapshot: null })
  })

  it('cuts a record torn in the middle off the tail and keeps the records before it', async () => {
    const dir = tempDir()
    const recordSize = await threeEntries(dir)
    const file = lastSegment(dir)
    truncateSync(file, 3 * recordSize - 5)
    const s = createFileStorage({ dir })
    expect(s.load().log.map(e => e.index)).toEqual([1, 2])
    expect(s.stats.tornTail).toContain(`at byte offset ${2 * recordSize}`)
    expect(statSync(file).size).toBe(2 * recordSize)
    // Appending after the cut yields a clean log.
    s.write([entry(3, 33)])
    await syncOf(s)
    s.close()
    const again = createFileStorage({ dir })
    expect(again.load().log.map(e => e.index)).toEqual([1, 2, 3])
    expect(again.stats.tornTail).toBeNull()
  })

  it('cuts a short header and a zero-filled tail', async () => {
    const dir = tempDir()
    await threeEntries(dir)
    appendFileSync(lastSegment(dir), new Uint8Array([1, 2, 3]))
    expect(createFileStorage({ dir }).load().log).toHaveLength(3)
    appendFileSync(lastSegment(dir), new Uint8Array(4096))
    const s = createFileStorage({ dir })
    expect(s.load().log).toHaveLength(3)
    expect(s.stats.tornTail).toContain('zero-filled tail')
  })

  it('cuts the last record when its checksum does not match', async () => {
    const dir = tempDir()
    const recordSize = await threeEntries(dir)
    const file = lastSegment(dir)
    const b = readFileSync(file)
    b[3 * recordSize - 1]! ^= 0xff
    writeFileSync(file, b)
    const s = createFileStorage({ dir })
    expect(s.load().log.map(e => e.index)).toEqual([1, 2])
    expect(s.stats.tornTail).toContain('checksum mismatch')
  })

  it('refuses to start on corruption before the last record, naming the file and byte offset', async () => {
    const dir = tempDir()
    const recordSize = await threeEntries(dir)
    const file = lastSegment(dir)
    const b = readFileSync(file)
    b[recordSize + RECORD_HEADER_BYTES + 4]! ^= 0x01 // a value byte of the second record
    writeFileSync(file, b)
    let error: unknown
    try { createFileStorage({ dir }) } catch (e) { error = e }
    expect(error).toBeInstanceOf(StorageCorruptionError)
    expect((error as Error).message).toContain(file)
    expect((error as Error).message).toContain(`byte offset ${recordSize}`)
    expect((error as StorageCorruptionError).offset).toBe(recordSize)
    // Refusing must not have "repaired" anything.
    expect(readFileSync(file)).toEqual(b)
  })

  it('refuses a record whose checksum is right but whose content is not a log record', async () => {
    const dir = tempDir()
    await threeEntries(dir)
    const { sealRecord } = await import('../../core/storage/record-framing.ts')
    const bogus = sealRecord(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 99, 1, 2]))
    const file = lastSegment(dir)
    appendFileSync(file, bogus)
    appendFileSync(file, readFileSync(file).subarray(0, RECORD_HEADER_BYTES + 12))
    expect(() => createFileStorage({ dir })).toThrow(/unknown record kind 99/)
  })
})

describe('file storage: snapshots and compaction', () => {
  it('replaces the snapshot file atomically and compacts the log into a new segment', async () => {
    const dir = tempDir()
    const s = createFileStorage({ dir })
    for (let i = 1; i <= 500; i++) s.write([entry(i, i & 0xff)])
    s.write([{ kind: 'put', key: 'term', value: new Uint8Array([9]) }])
    await syncOf(s)
    const before = segments(dir)
    const sizeBefore = statSync(lastSegment(dir)).size
    s.write([{ kind: 'snapshot', index: 495, meta: new Uint8Array([1]), data: new Uint8Array(100).fill(7) }, entry(501)])
    await syncOf(s)
    expect(s.stats.compactions).toBe(1)
    const after = segments(dir)
    expect(after).toHaveLength(1)
    expect(after[0]).not.toBe(before[0])
    expect(statSync(lastSegment(dir)).size).toBeLessThan(sizeBefore / 20)
    expect(readdirSync(dir).filter(n => n.endsWith('.tmp'))).toEqual([])
    expect(existsSync(join(dir, 'snapshot.bin'))).toBe(true)
    s.close()
    const state = createFileStorage({ dir }).load()
    expect(state.log.map(e => e.index)).toEqual([496, 497, 498, 499, 500, 501])
    expect(state.snapshot?.index).toBe(495)
    expect(state.snapshot?.data).toEqual(new Uint8Array(100).fill(7))
    expect(plain(state)).toMatchObject({ hard: { term: '09' } })
  })

  it('ignores a half-written snapshot replacement left by a crash', async () => {
    const dir = tempDir()
    const s = createFileStorage({ dir })
    s.write([entry(1), { kind: 'snapshot', index: 1, meta: new Uint8Array([1]), data: new Uint8Array([42]) }, entry(2)])
    await syncOf(s)
    s.close()
    writeFileSync(join(dir, 'snapshot.bin.tmp'), new Uint8Array([1, 2, 3, 4, 5]))
    const state = createFileStorage({ dir }).load()
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
    const state = createFileStorage({ dir }).load()
    expect(state.snapshot?.index).toBe(4)
    expect(state.log.map(e => e.index)).toEqual([5, 6])
  })

  it('an old segment left by a crash during compaction replays to the same state', async () => {
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
    const expected = plain(createFileStorage({ dir }).load())
    writeFileSync(old, oldBytes)
    expect(segments(dir)).toHaveLength(2)
    expect(plain(createFileStorage({ dir }).load())).toEqual(expected)
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
    b[b.length - 1]! ^= 0xff
    writeFileSync(file, b)
    expect(() => createFileStorage({ dir })).toThrow(StorageCorruptionError)
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
    expect(createFileStorage({ dir: storage.dir }).load().log).toHaveLength(23)
  })

  it("'none' never fsyncs, yet survives a process crash (the page cache outlives the process)", async () => {
    const { storage, order } = await syncsInOneTurn('none', 5)
    expect(order).toEqual([0, 1, 2, 3, 4])
    storage.write([{ kind: 'snapshot', index: 2, meta: new Uint8Array(0), data: new Uint8Array(0) }])
    await syncOf(storage)
    expect(storage.stats.fsyncs).toBe(0)
    storage.crash()
    expect(createFileStorage({ dir: storage.dir, fsync: 'none' }).load().log.map(e => e.index)).toEqual([3, 4, 5])
  })

  it('rejects bad options by field', () => {
    const dir = tempDir()
    expect(() => createFileStorage({ dir, fsync: 'sometimes' as FsyncPolicy })).toThrow(ConfigError)
    expect(() => createFileStorage({ dir, fsync: 'sometimes' as FsyncPolicy })).toThrow(/fsync/)
    expect(() => createFileStorage({ dir, batchWindowMs: -1 })).toThrow(/batchWindowMs/)
    expect(() => createFileStorage({ dir: '' })).toThrow(/dir/)
  })

  it('refuses writes after close', () => {
    const s = createFileStorage({ dir: tempDir() })
    s.close()
    expect(() => s.write([entry(1)])).toThrow(/after close/)
  })
})
