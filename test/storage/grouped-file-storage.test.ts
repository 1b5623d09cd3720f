/**
 * One write-ahead log per node shared by its consensus groups (core/storage/grouped-file-storage.ts, issue 14): each
 * group's view is a Storage (the conformance suite), groups never see each other's writes, one fdatasync covers the
 * syncs of many groups in one turn, a crash of the node loses only what no group's sync() wrote, damage is cut or
 * refused as in the single-group log, and compaction (when the log is mostly dead) keeps every group's live state.
 *
 * The property test draws interleavings with fast-check from a fixed seed; GROUPED_WAL_SEED=<n> replays another.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../core/errors.ts'
import { createFileStorage } from '../../core/storage/file-storage.ts'
import type { FsyncPolicy } from '../../core/storage/file-storage.ts'
import { createGroupedFileStorage } from '../../core/storage/grouped-file-storage.ts'
import type { GroupedFileStorage } from '../../core/storage/grouped-file-storage.ts'
import { scanSegment, StorageCorruptionError } from '../../core/storage/record-framing.ts'
import { decodeWalRecord, encodeWalRecord, walRecordBytes } from '../../core/storage/wal-codec.ts'
import type { WalRecord } from '../../core/storage/wal-codec.ts'
import type { PersistOp } from '../../core/storage.ts'
import { scratch, scratchDirs } from './scratch-dirs.ts'
import { ModelState, plain, storageConformance, syncOf } from './conformance.ts'

/** On tmpfs where there is one: the format's logic is under test, not the disk (scratch-dirs.ts). */
const tempDir = scratchDirs('grouped-wal-')

const value = (length: number, fill: number): Uint8Array => new Uint8Array(length).fill(fill)
const entry = (index: number, fill = index): PersistOp => ({ kind: 'entry', index, value: value(10, fill) })
const segments = (dir: string): string[] => readdirSync(dir).filter(n => n.startsWith('wal-')).sort()

/** Models by group: what each group's load() must give. */
type Models = Map<number, ModelState>

function apply(models: Models, group: number, ops: readonly PersistOp[]): void {
  let model = models.get(group)
  if (model === undefined) { model = new ModelState(); models.set(group, model) }
  for (const op of ops) model.apply(op)
}

function cloneModels(models: Models): Models {
  const copy: Models = new Map()
  for (const [group, m] of models) {
    const c = new ModelState()
    for (const [k, v] of m.hard) c.hard.set(k, v)
    for (const [i, v] of m.log) c.log.set(i, v)
    c.snapshot = m.snapshot
    copy.set(group, c)
  }
  return copy
}

/** Every group's recovered state, as plain data, for the groups in `models` (and those the storage lists). */
function recoveredOf(storage: GroupedFileStorage, models: Models): Record<number, unknown> {
  const out: Record<number, unknown> = {}
  for (const group of new Set([...models.keys(), ...storage.groups()])) out[group] = plain(storage.group(group).load())
  return out
}

function expectedOf(models: Models, storage: GroupedFileStorage): Record<number, unknown> {
  const out: Record<number, unknown> = {}
  const empty = plain(new ModelState().state())
  for (const group of new Set([...models.keys(), ...storage.groups()])) {
    out[group] = models.has(group) ? plain(models.get(group)!.state()) : empty
  }
  return out
}

/** Small segments: recovery reads whole segments, and these tests hold a few records. */
function reopen(dir: string, segmentBytes = 16 * 1024): GroupedFileStorage {
  return createGroupedFileStorage({ dir, fsync: 'always', segmentBytes })
}

for (const policy of ['always', 'batch'] as const) {
  // Group 5's view, with groups 0 and 300 (a two-byte group prefix) writing beside it on every open: their records
  // share its segments, its fsyncs and its compactions.
  storageConformance(`grouped file storage, group 5 among others (fsync ${policy})`, () => {
    const dir = mkdtempSync(join(scratch, 'grouped-wal-conf-'))
    let open: GroupedFileStorage | null = null
    let noise = 0
    return {
      open: () => {
        open?.close()
        open = createGroupedFileStorage({ dir, fsync: policy, batchWindowMs: 1, segmentBytes: 2048 })
        noise++
        open.group(0).write([entry(noise, noise & 0xff)])
        open.group(300).write([{ kind: 'put', key: 'term', value: value(3, noise & 0xff) }])
        return open.group(5)
      },
      crash: () => open!.crash(),
      dispose: () => { open?.crash(); rmSync(dir, { recursive: true, force: true }) },
    }
  })
}

describe('grouped file storage: groups are isolated', () => {
  it('a write, truncate, forget or snapshot in one group never changes another group\'s state', async () => {
    const dir = tempDir()
    const s = reopen(dir)
    const models: Models = new Map()
    const write = (group: number, ops: PersistOp[]): void => { s.group(group).write(ops); apply(models, group, ops) }
    // The same indexes and keys in every group.
    for (const group of [0, 1, 2, 3]) write(group, [1, 2, 3, 4, 5, 6].map(i => entry(i, group * 16 + i)))
    for (const group of [0, 1, 2, 3]) write(group, [{ kind: 'put', key: 'term', value: value(1, group) }])
    write(1, [{ kind: 'truncate', from: 3 }])
    write(2, [{ kind: 'snapshot', index: 4, meta: value(1, 2), data: value(5, 0x22) }])
    write(3, [{ kind: 'forget', index: 2 }, { kind: 'put', key: 'term', value: value(1, 33) }])
    await syncOf(s.group(0))
    expect(s.groups()).toEqual([0, 1, 2, 3])
    s.close()
    expect(readdirSync(dir).filter(n => n.startsWith('snapshot'))).toEqual(['snapshot-2.bin'])

    const again = reopen(dir)
    expect(recoveredOf(again, models)).toEqual(expectedOf(models, again))
    expect(plain(again.group(0).load())).toMatchObject({ log: [1, 2, 3, 4, 5, 6].map(i => [i, Buffer.from(value(10, i)).toString('hex')]) })
    expect(again.group(1).load().log.map(e => e.index)).toEqual([1, 2])
    expect(again.group(2).load().log.map(e => e.index)).toEqual([5, 6])
    expect(again.group(3).load().log.map(e => e.index)).toEqual([1, 3, 4, 5, 6])
    expect(again.group(7).load()).toEqual({ hard: new Map(), log: [], snapshot: null })
    expect(again.groups()).toEqual([0, 1, 2, 3]) // asking for group 7's view gave it no durable state
    again.close()
  })

  it('recovers every group in the log, listed ascending before any view is asked for', async () => {
    const dir = tempDir()
    const s = reopen(dir)
    for (const group of [12, 3, 7]) s.group(group).write([entry(group)])
    await syncOf(s.group(12))
    s.crash()
    const again = reopen(dir)
    expect(again.groups()).toEqual([3, 7, 12])
    for (const group of [3, 7, 12]) expect(again.group(group).load().log.map(e => e.index)).toEqual([group])
    again.close()
  })

  it('the same view for a group while it is open; after its close, a new view with the state so far', async () => {
    const dir = tempDir()
    const s = reopen(dir)
    const one = s.group(1)
    expect(s.group(1)).toBe(one)
    one.write([entry(1)])
    s.group(2).write([entry(9)])
    one.close?.()
    expect(() => one.write([entry(2)])).toThrow(/group 1 of file storage .*: write\(\) after close/)
    s.group(2).write([entry(10)])
    await syncOf(s.group(2)) // the other groups go on
    const reborn = s.group(1)
    expect(reborn).not.toBe(one)
    expect(reborn.load().log.map(e => e.index)).toEqual([1])
    s.crash() // group 1's close made its write (and group 2's first) durable
    const again = reopen(dir)
    expect(again.group(1).load().log.map(e => e.index)).toEqual([1])
    expect(again.group(2).load().log.map(e => e.index)).toEqual([9, 10])
    again.close()
  })

  it('rejects a group that is not an integer from 0 to 2^32-1', () => {
    const s = reopen(tempDir())
    for (const bad of [-1, 1.5, NaN, 2 ** 32]) {
      expect(() => s.group(bad)).toThrow(ConfigError)
      expect(() => s.group(bad)).toThrow(/^group: expected an integer from 0 to 4294967295/)
    }
    s.close()
  })
})

describe('grouped file storage: one fsync for many groups', () => {
  /** `groups` groups each write one entry and sync, all in one turn; resolves when every sync completed. */
  async function oneTurn(policy: FsyncPolicy, groups: number): Promise<{ fsyncs: number; order: number[]; dir: string }> {
    const dir = tempDir()
    const s = createGroupedFileStorage({ dir, fsync: policy })
    const before = s.stats.fsyncs
    const order: number[] = []
    const all: Promise<void>[] = []
    for (let g = 0; g < groups; g++) {
      s.group(g).write([entry(1, g)])
      all.push(new Promise(resolve => s.group(g).sync(() => { order.push(g); resolve() })))
    }
    await Promise.all(all)
    const fsyncs = s.stats.fsyncs - before
    s.close()
    return { fsyncs, order, dir }
  }

  it("'batch': the syncs of 64 groups in one turn share one fdatasync, completing in call order", async () => {
    const { fsyncs, order, dir } = await oneTurn('batch', 64)
    expect(fsyncs).toBe(1)
    expect(order).toEqual([...Array(64).keys()])
    const again = reopen(dir)
    expect(again.groups()).toEqual([...Array(64).keys()])
    for (let g = 0; g < 64; g++) expect(again.group(g).load().log).toEqual([{ index: 1, value: value(10, g) }])
    again.close()
  })

  it("'always': one fdatasync per sync call that wrote, whichever group made it", async () => {
    expect((await oneTurn('always', 64)).fsyncs).toBe(64)
  })
})

describe('grouped file storage: crash recovery and damage', () => {
  it('a crash loses the unsynced writes of every group and runs no pending callback', async () => {
    const dir = tempDir()
    const s = createGroupedFileStorage({ dir, fsync: 'batch' })
    for (const g of [0, 1, 2]) s.group(g).write([entry(1, g)])
    await syncOf(s.group(1))
    for (const g of [0, 1, 2]) s.group(g).write([entry(2, g)])
    let late = 0
    s.group(2).sync(() => late++) // wrote everything, but its fsync never gets to finish
    for (const g of [0, 3]) s.group(g).write([entry(3, g)]) // never synced
    s.crash()
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(late).toBe(0)
    const again = reopen(dir)
    // A process kill keeps what sync() wrote to the files (the page cache outlives the process): entries 1 and 2.
    for (const g of [0, 1, 2]) expect(again.group(g).load().log.map(e => e.index)).toEqual([1, 2])
    expect(again.groups()).toEqual([0, 1, 2])
    again.close()
  })

  /** Synced entries 1..3 of groups 1 and 2, alternating; returns the segment file and its records by group. */
  async function twoGroups(dir: string): Promise<{ file: string; records: Array<{ offset: number; length: number; group: number }> }> {
    const s = reopen(dir)
    for (let i = 1; i <= 3; i++) for (const g of [1, 2]) s.group(g).write([entry(i, g * 16 + i)])
    await syncOf(s.group(1))
    s.close()
    const file = join(dir, segments(dir).at(-1)!)
    const scan = scanSegment(new Uint8Array(readFileSync(file)), file, true)
    const records = scan.records.map((r, i) => ({
      offset: r.offset,
      length: (scan.records[i + 1]?.offset ?? scan.end) - r.offset,
      group: decodeWalRecord(r.payload, 'test').group,
    }))
    expect(records.map(r => r.group)).toEqual([1, 2, 1, 2, 1, 2])
    return { file, records }
  }

  it('cuts an append torn in the last record (of group 2), keeping every other record of both groups', async () => {
    const dir = tempDir()
    const { file, records } = await twoGroups(dir)
    const last = records.at(-1)!
    const bytes = readFileSync(file)
    bytes.fill(0, last.offset + 25, last.offset + last.length)
    writeFileSync(file, bytes)
    const s = reopen(dir)
    expect(s.stats.tornTail).toContain(`at byte offset ${last.offset}`)
    expect(s.group(1).load().log.map(e => e.index)).toEqual([1, 2, 3])
    expect(s.group(2).load().log.map(e => e.index)).toEqual([1, 2])
    s.close()
  })

  it('refuses, naming the file and offset, a flipped bit in a record of one group', async () => {
    const dir = tempDir()
    const { file, records } = await twoGroups(dir)
    const victim = records[2]! // group 1's second entry
    const bytes = readFileSync(file)
    bytes[victim.offset + victim.length - 3]! ^= 0x10
    writeFileSync(file, bytes)
    let error: unknown
    try { reopen(dir) } catch (e) { error = e }
    expect(error).toBeInstanceOf(StorageCorruptionError)
    expect((error as StorageCorruptionError).message).toContain(`${file} at byte offset ${victim.offset}: payload checksum mismatch on record #3`)
    expect(Buffer.compare(readFileSync(file), bytes)).toBe(0) // a refusal changes nothing
  })

  it('refuses a log marker of a group whose snapshot file is missing', async () => {
    const dir = tempDir()
    const s = reopen(dir)
    s.group(4).write([entry(1), { kind: 'snapshot', index: 1, meta: value(0, 0), data: value(3, 4) }])
    await syncOf(s.group(4))
    s.close()
    rmSync(join(dir, 'snapshot-4.bin'))
    expect(() => reopen(dir)).toThrow(/log marks snapshot #1 of group 4 but snapshot-4\.bin holds none/)
  })
})

describe('grouped file storage: compaction', () => {
  it('counts live bytes exactly as records encode (group prefixes of every length included)', () => {
    const records: WalRecord[] = [
      { kind: 'put', key: 'term', value: value(3, 1) }, { kind: 'put', key: 'vöte', value: value(0, 0) },
      { kind: 'entry', index: 1, value: value(10, 1) }, { kind: 'entry', index: 2 ** 40, value: value(300, 1) },
      { kind: 'truncate', from: 128 }, { kind: 'forget', index: 16_384 },
      { kind: 'snapshot-marker', index: 127, generation: 2 ** 21 },
    ]
    for (const group of [0, 1, 127, 128, 70_000, 2 ** 32 - 1]) {
      for (const record of records) expect(walRecordBytes(record, group)).toBe(encodeWalRecord(record, group).length)
    }
  })

  it('does not compact at every group\'s snapshot, only once the log is mostly dead, and keeps every group\'s state', async () => {
    const dir = tempDir()
    const segmentBytes = 4096
    const s = reopen(dir, segmentBytes)
    const models: Models = new Map()
    const write = (group: number, ops: PersistOp[]): void => { s.group(group).write(ops); apply(models, group, ops) }
    // 16 groups, each with a few entries and a snapshot: little is dead yet, so no compaction.
    // State that outlives every compaction: a vote and an entry far above every snapshot, in every group.
    for (let g = 0; g < 16; g++) {
      write(g, [entry(1, g), entry(2, g), { kind: 'snapshot', index: 1, meta: value(1, g), data: value(8, g) }])
      write(g, [{ kind: 'put', key: 'vote', value: value(2, g) }, entry(1000, g)])
    }
    await syncOf(s.group(0))
    expect(s.stats.compactions).toBe(0)
    // Overwriting term records and snapshotting the entries away makes the log mostly dead: it compacts, a few times.
    for (let round = 0; round < 40; round++) {
      for (let g = 0; g < 16; g++) {
        write(g, [{ kind: 'put', key: 'term', value: value(8, round) }, entry(round + 3, g)])
        if (round % 4 === 3) write(g, [{ kind: 'snapshot', index: round + 2, meta: value(1, round), data: value(8, g) }])
      }
      await syncOf(s.group(round % 16))
    }
    const compactions = s.stats.compactions
    // About one per 5 KB of dead records (the live state is about 5 KB): far fewer than the 160 snapshots.
    expect(compactions).toBeGreaterThan(0)
    expect(compactions).toBeLessThanOrEqual(16)
    expect(segments(dir).length).toBeLessThanOrEqual(3)
    s.close()
    const again = reopen(dir, segmentBytes)
    expect(recoveredOf(again, models)).toEqual(expectedOf(models, again))
    expect(again.groups()).toEqual([...Array(16).keys()])
    again.close()
  })
})

describe('grouped file storage: the single-group format is group 0', () => {
  it('a FileStorage directory opens as group 0, and a grouped one holding only group 0 as a FileStorage', async () => {
    const dir = tempDir()
    const single = createFileStorage({ dir })
    single.write([entry(1), { kind: 'snapshot', index: 1, meta: value(1, 1), data: value(2, 2) }, entry(2)])
    await syncOf(single)
    single.close()
    const grouped = reopen(dir)
    expect(grouped.groups()).toEqual([0])
    expect(grouped.group(0).load().log.map(e => e.index)).toEqual([2])
    expect(grouped.group(0).load().snapshot?.index).toBe(1)
    grouped.group(0).write([entry(3)])
    await syncOf(grouped.group(0))
    grouped.close()
    expect(existsSync(join(dir, 'snapshot.bin'))).toBe(true)
    const back = createFileStorage({ dir })
    expect(back.load().log.map(e => e.index)).toEqual([2, 3])
    back.close()
  })

  it('FileStorage refuses a directory holding other groups, saying which storage opens it', async () => {
    const dir = tempDir()
    const grouped = reopen(dir)
    grouped.group(0).write([entry(1)])
    grouped.group(3).write([entry(1)])
    await syncOf(grouped.group(3))
    grouped.close()
    expect(() => createFileStorage({ dir })).toThrow(ConfigError)
    expect(() => createFileStorage({ dir })).toThrow(/holds the shared log of several consensus groups \(group 3 in .*wal-0000000000000001\.log at byte offset \d+\): open it with createGroupedFileStorage/)
  })
})

// --- the property: random interleavings over several groups ---

type Step =
  | { readonly type: 'write'; readonly group: number; readonly ops: PersistOp[] }
  | { readonly type: 'sync'; readonly group: number }
  | { readonly type: 'settle' }
  | { readonly type: 'crash' }
  | { readonly type: 'restart' }

/** Groups without a prefix and with prefixes of one, two and three varint bytes. */
const GROUPS = [0, 1, 300, 70_000]

const bytesArb = fc.uint8Array({ maxLength: 24 })
/** Few indexes: overwrites, truncations and snapshots make the log mostly dead, so it compacts now and then. */
const indexArb = fc.integer({ min: 1, max: 8 })
const opArb: fc.Arbitrary<PersistOp> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('entry' as const), index: indexArb, value: bytesArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('put' as const), key: fc.constantFrom('term', 'vote'), value: bytesArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), from: indexArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('forget' as const), index: indexArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot' as const), index: fc.integer({ min: 0, max: 8 }), meta: bytesArb, data: bytesArb }) },
)
const groupArb = fc.constantFrom(...GROUPS)
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ type: fc.constant('write' as const), group: groupArb, ops: fc.array(opArb, { minLength: 1, maxLength: 4 }) }) },
  { weight: 4, arbitrary: fc.record({ type: fc.constant('sync' as const), group: groupArb }) },
  { weight: 2, arbitrary: fc.constant({ type: 'settle' as const }) },
  { weight: 1, arbitrary: fc.constant({ type: 'crash' as const }) },
  { weight: 1, arbitrary: fc.constant({ type: 'restart' as const }) },
)

/**
 * Run `steps`; after every crash and restart each group's recovered state must equal the model. A process kill keeps
 * what the last sync() of any group wrote to the files (before its fsync ends: the page cache outlives the process)
 * and nothing after it, so the model is exact: the state at the last sync() call (or close), every group's writes
 * included. In particular no write whose sync completed is ever lost.
 */
async function runSteps(dir: string, policy: FsyncPolicy, steps: readonly Step[]): Promise<{ compactions: number }> {
  const open = (): GroupedFileStorage => createGroupedFileStorage({ dir, fsync: policy, segmentBytes: 256 })
  let storage = open()
  let written: Models = new Map()
  let durable: Models = new Map()
  let outstanding: Promise<void>[] = []
  let completed = 0
  let calls = 0
  let compactions = 0
  const outOfOrder: string[] = []
  const check = (when: string): void => {
    expect(recoveredOf(storage, durable), when).toEqual(expectedOf(durable, storage))
    expect(storage.groups(), when).toEqual([...storage.groups()].sort((a, b) => a - b))
  }
  for (const [i, step] of steps.entries()) {
    switch (step.type) {
      case 'write':
        storage.group(step.group).write(step.ops)
        apply(written, step.group, step.ops)
        break
      case 'sync': {
        const call = calls++
        const current = storage
        outstanding.push(new Promise(resolve => current.group(step.group).sync(() => {
          // Completions in call order across groups, and none after a crash (checked here: a throw would be lost).
          if (call !== completed++) outOfOrder.push(`sync call ${call} of step ${i} completed as #${completed - 1}`)
          resolve()
        })))
        durable = cloneModels(written)
        break
      }
      case 'settle':
        await Promise.all(outstanding)
        outstanding = []
        break
      case 'crash':
      case 'restart':
        compactions += storage.stats.compactions
        if (step.type === 'crash') storage.crash()
        else { storage.close(); durable = cloneModels(written) }
        outstanding = [] // a crash drops them: they never resolve
        completed = calls
        storage = open()
        check(`after the ${step.type} at step ${i}`)
        written = cloneModels(durable)
        break
    }
  }
  compactions += storage.stats.compactions
  storage.crash()
  storage = open()
  check('after the final crash')
  storage.close()
  expect(outOfOrder).toEqual([])
  return { compactions }
}

const numRunsOf = (policy: FsyncPolicy): number => (policy === 'batch' ? 30 : 12)

describe('grouped file storage: random interleavings of writes, syncs, snapshots and crashes', () => {
  const seed = Number(process.env.GROUPED_WAL_SEED ?? 14)
  for (const policy of ['batch', 'always'] as const) {
    it(`recovers exactly what the syncs wrote, in every group (fsync ${policy}, seed ${seed})`, async () => {
      const replay = `replay: GROUPED_WAL_SEED=${seed} npx vitest run test/storage/grouped-file-storage.test.ts`
      let compactions = 0
      try {
        await fc.assert(fc.asyncProperty(fc.array(stepArb, { minLength: 40, maxLength: 160, size: 'medium' }), async steps => {
          const dir = tempDir()
          try { compactions += (await runSteps(dir, policy, steps)).compactions } finally { rmSync(dir, { recursive: true, force: true }) }
        }), { seed, numRuns: numRunsOf(policy) })
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${replay}`, { cause: e })
      }
      // The runs must reach the grouped compaction rule, or they would not test that it keeps every group's state.
      expect(compactions, replay).toBeGreaterThan(numRunsOf(policy))
    })
  }
})
