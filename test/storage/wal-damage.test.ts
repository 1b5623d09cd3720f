/**
 * The WAL's promise, checked by brute force: for a log of synced records, every single-bit flip anywhere in any file
 * (segments and snapshot) and every truncation point of any file ends in one of two ways. Either opening refuses
 * with a StorageCorruptionError naming the file and byte offset, or it recovers a state holding every synced record.
 * Never a silent loss. Small logs exhaustively; a large log by seeded sampling (WAL_DAMAGE_SEED replays one).
 *
 * And the other side: a torn append (any prefix of the unsynced records' bytes, zeros after) recovers every synced
 * record and a prefix of the unsynced ones.
 */
import { readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createRng } from '../../core/random.ts'
import type { Rng } from '../../core/random.ts'
import { createFileStorage } from '../../core/storage/file-storage.ts'
import { lastNonZero, RECORD_OVERHEAD_BYTES, StorageCorruptionError } from '../../core/storage/record-framing.ts'
import type { PersistOp } from '../../core/storage.ts'
import { ModelState, plain, syncOf } from './conformance.ts'
import { scratchDirs } from './scratch-dirs.ts'

/** Tens of thousands of opens: on tmpfs where there is one (scratch-dirs.ts). */
const tempDir = scratchDirs('wal-damage-')

const value = (length: number, fill: number): Uint8Array => new Uint8Array(length).fill(fill)

/** Write `batches` with fsync 'always', each batch synced on its own; returns the model of what is durable. */
async function writeLog(dir: string, batches: readonly PersistOp[][], segmentBytes: number): Promise<ModelState> {
  const model = new ModelState()
  const s = createFileStorage({ dir, fsync: 'always', segmentBytes })
  for (const batch of batches) {
    s.write(batch)
    await syncOf(s)
    for (const op of batch) model.apply(op)
  }
  s.close()
  return model
}

/** Mixed kinds: hard-state puts, entries of several sizes, a conflict truncation, overwrites. */
function smallLog(): PersistOp[][] {
  return [
    [{ kind: 'put', key: 'term', value: value(1, 1) }],
    [{ kind: 'entry', index: 1, value: value(12, 0x11) }],
    [{ kind: 'entry', index: 2, value: value(30, 0x22) }, { kind: 'entry', index: 3, value: value(5, 0x33) }],
    [{ kind: 'put', key: 'vote', value: value(2, 2) }],
    [{ kind: 'entry', index: 4, value: value(40, 0x44) }],
    [{ kind: 'truncate', from: 3 }],
    [{ kind: 'entry', index: 3, value: value(20, 0x35) }],
    [{ kind: 'put', key: 'term', value: value(1, 3) }],
    [{ kind: 'entry', index: 4, value: value(9, 0x45) }],
    [{ kind: 'entry', index: 5, value: value(0, 0) }],
  ]
}

interface Files { readonly names: string[]; readonly bytes: Map<string, Buffer> }

function snapshotOf(dir: string): Files {
  const names = readdirSync(dir).filter(n => n !== 'LOCK').sort()
  return { names, bytes: new Map(names.map(n => [n, readFileSync(join(dir, n))])) }
}

/** Put every file back as it was (recovery may have zeroed a tail or deleted a leftover). */
function restore(dir: string, files: Files): void {
  for (const name of readdirSync(dir)) if (!files.bytes.has(name)) rmSync(join(dir, name))
  for (const [name, bytes] of files.bytes) writeFileSync(join(dir, name), bytes)
}

interface Outcomes { refused: number; recovered: number; failures: string[]; lastRefused?: boolean }

/**
 * Open the damaged directory: refused naming `file` and an offset, or recovered holding exactly `expected`. Then put
 * the files back: only `file` after a refusal (a refusal changes nothing), all of them after a recovery.
 */
function judge(dir: string, files: Files, file: string, expected: string, what: string, out: Outcomes): void {
  try {
    judgeOnce(dir, file, expected, what, out)
  } finally {
    if (out.lastRefused) writeFileSync(join(dir, file), files.bytes.get(file)!)
    else restore(dir, files)
  }
}

function judgeOnce(dir: string, file: string, expected: string, what: string, out: Outcomes): void {
  let state: string
  out.lastRefused = false
  try {
    const s = createFileStorage({ dir, fsync: 'none' })
    state = JSON.stringify(plain(s.load()))
    s.close()
  } catch (e) {
    if (!(e instanceof StorageCorruptionError)) { out.failures.push(`${what}: threw ${String(e)}`); return }
    out.lastRefused = true
    const path = join(dir, file)
    if (e.file !== path || !e.message.includes(`${path} at byte offset ${e.offset}`) || !e.message.includes('refusing to start')) {
      out.failures.push(`${what}: refusal does not name ${path} and an offset: ${e.message}`)
    }
    out.refused++
    return
  }
  if (state !== expected) out.failures.push(`${what}: recovered a state without every synced record: ${state}`)
  else out.recovered++
}

function assertNoSilentLoss(out: Outcomes): void {
  expect(out.failures.slice(0, 10), `${out.failures.length} failures`).toEqual([])
}

function everyFlipAndTruncation(dir: string, expected: string): Outcomes {
  const files = snapshotOf(dir)
  const out: Outcomes = { refused: 0, recovered: 0, failures: [] }
  for (const name of files.names) {
    const original = files.bytes.get(name)!
    for (let offset = 0; offset < original.length; offset++) {
      for (let bit = 0; bit < 8; bit++) {
        const damaged = Buffer.from(original)
        damaged[offset]! ^= 1 << bit
        writeFileSync(join(dir, name), damaged)
        judge(dir, files, name, expected, `bit ${bit} of byte ${offset} of ${name} flipped`, out)
      }
    }
    for (let length = 0; length < original.length; length++) {
      truncateSync(join(dir, name), length)
      judge(dir, files, name, expected, `${name} truncated to ${length} bytes`, out)
    }
  }
  return out
}

describe('WAL damage: exhaustive over a small log', () => {
  it('every bit flip and every truncation of a log of mixed records across segments is refused or loses nothing', async () => {
    const dir = tempDir()
    const model = await writeLog(dir, smallLog(), 256)
    const files = snapshotOf(dir)
    expect(files.names.filter(n => n.startsWith('wal-')).length).toBeGreaterThanOrEqual(2) // a roll-over happened
    const out = everyFlipAndTruncation(dir, JSON.stringify(plain(model.state())))
    assertNoSilentLoss(out)
    // Flips in the zeros after the last record hold no synced data and recover; damage to records is refused.
    expect(out.recovered).toBeGreaterThan(0)
    expect(out.refused).toBeGreaterThan(out.recovered)
  })

  it('the same after a snapshot and compaction (snapshot file, compacted base segment, records after it)', async () => {
    const dir = tempDir()
    const batches = smallLog()
    batches.splice(6, 0, [{ kind: 'snapshot', index: 2, meta: value(3, 0x5e), data: value(24, 0xda) }])
    batches.push([{ kind: 'entry', index: 6, value: value(15, 0x66) }], [{ kind: 'put', key: 'vote', value: value(1, 9) }])
    const model = await writeLog(dir, batches, 256)
    const files = snapshotOf(dir)
    expect(files.names).toContain('snapshot.bin')
    const out = everyFlipAndTruncation(dir, JSON.stringify(plain(model.state())))
    assertNoSilentLoss(out)
    expect(out.refused).toBeGreaterThan(0)
  })
})

describe('WAL damage: sampled over a large log', () => {
  function largeLog(rng: Rng): PersistOp[][] {
    const batches: PersistOp[][] = []
    let next = 1
    for (let i = 0; i < 1000; i++) {
      const roll = rng.int(100)
      if (roll < 8) batches.push([{ kind: 'put', key: ['term', 'vote'][rng.int(2)]!, value: value(rng.int(9), rng.int(256)) }])
      else if (roll < 11 && next > 5) { next -= rng.range(1, 4); batches.push([{ kind: 'truncate', from: next }]) }
      else if (roll < 12) batches.push([{ kind: 'snapshot', index: rng.range(0, next - 1), meta: value(2, 1), data: value(rng.int(60), 7) }])
      else batches.push([{ kind: 'entry', index: next++, value: value(rng.int(48), rng.int(256)) }])
    }
    return batches
  }

  it('thousands of seeded bit flips and truncations of a 1,000-record log are refused or lose nothing', async () => {
    const seed = process.env.WAL_DAMAGE_SEED ?? 'wal-damage-1'
    const replay = `replay: WAL_DAMAGE_SEED='${seed}' npx vitest run test/storage/wal-damage.test.ts`
    const rng = createRng(seed)
    const dir = tempDir()
    const model = await writeLog(dir, largeLog(rng), 4096)
    const expected = JSON.stringify(plain(model.state()))
    const files = snapshotOf(dir)
    const out: Outcomes = { refused: 0, recovered: 0, failures: [] }
    for (let i = 0; i < 2500; i++) {
      const name = files.names[rng.int(files.names.length)]!
      const original = files.bytes.get(name)!
      if (i % 5 === 4) {
        const length = rng.int(original.length)
        truncateSync(join(dir, name), length)
        judge(dir, files, name, expected, `${name} truncated to ${length} bytes (case ${i}; ${replay})`, out)
      } else {
        // Half the flips land in the written part of a file, where the interesting cases are.
        const used = name.startsWith('wal-') ? lastNonZero(original, 0) + 1 : original.length
        const offset = rng.chance(0.5) ? rng.int(used) : rng.int(original.length)
        const bit = rng.int(8)
        const damaged = Buffer.from(original)
        damaged[offset]! ^= 1 << bit
        writeFileSync(join(dir, name), damaged)
        judge(dir, files, name, expected, `bit ${bit} of byte ${offset} of ${name} flipped (case ${i}; ${replay})`, out)
      }
    }
    assertNoSilentLoss(out)
    expect(out.refused).toBeGreaterThan(0)
    expect(out.recovered).toBeGreaterThan(0)
    // Refusals changed nothing: the files are as written.
    for (const [name, bytes] of files.bytes) expect(readFileSync(join(dir, name)).equals(bytes), name).toBe(true)
  })
})

describe('WAL damage: torn appends recover', () => {
  it('every prefix of an unsynced batch (zeros after it) recovers the synced records and whole unsynced ones', async () => {
    const dir = tempDir()
    const synced = smallLog()
    const model = await writeLog(dir, synced, 1 << 16)
    const segment = join(dir, readdirSync(dir).filter(n => n.startsWith('wal-')).sort().at(-1)!)
    const before = readFileSync(segment)
    const start = lastNonZero(before, 0) + 1
    // The unsynced batch, written in one write: what a crash before its fsync may leave any prefix of.
    const batch: PersistOp[] = [
      { kind: 'entry', index: 6, value: value(7, 0x66) },
      { kind: 'put', key: 'term', value: value(1, 4) },
      { kind: 'entry', index: 7, value: value(25, 0x77) },
    ]
    const s = createFileStorage({ dir, fsync: 'always' })
    s.write(batch)
    await syncOf(s)
    s.close()
    const after = readFileSync(segment)
    const end = lastNonZero(after, 0) + 1
    // Where each record of the batch ends (each is a header, its payload and the end marker).
    const ends: number[] = []
    let at = start
    for (const op of batch) {
      const payload = op.kind === 'entry' ? 2 + op.value.length : op.kind === 'put' ? 2 + op.key.length + op.value.length : 0
      at += RECORD_OVERHEAD_BYTES + payload
      ends.push(at)
    }
    expect(ends.at(-1)).toBe(end)
    const expectedWith = (whole: number): string => {
      const m = new ModelState()
      for (const b of synced) for (const op of b) m.apply(op)
      for (const op of batch.slice(0, whole)) m.apply(op)
      return JSON.stringify(plain(m.state()))
    }
    expect(expectedWith(0)).toBe(JSON.stringify(plain(model.state())))
    for (let prefix = 0; prefix <= end - start; prefix++) {
      const torn = Buffer.from(after)
      torn.fill(0, start + prefix, end)
      writeFileSync(segment, torn)
      const whole = ends.filter(e => e <= start + prefix).length
      const r = createFileStorage({ dir, fsync: 'none' })
      expect(JSON.stringify(plain(r.load())), `prefix of ${prefix} bytes`).toBe(expectedWith(whole))
      expect(r.stats.tornTail === null, `prefix of ${prefix} bytes`).toBe(ends.includes(start + prefix) || prefix === 0)
      r.close()
      // The cut is durable and clean: a second open finds nothing to cut.
      const again = createFileStorage({ dir, fsync: 'none' })
      expect(again.stats.tornTail).toBeNull()
      again.close()
    }
  })
})
