/**
 * The Storage contract (core/storage.ts) as a test suite any backend can run:
 *
 *   storageConformance('memory storage', () => { const s = createMemoryStorage(); return { open: () => s, crash: () => s.crash() } })
 *
 * It checks the model (hard records, sparse log, truncate, snapshot compaction), that synced writes survive a crash,
 * that sync completions come in call order, and a seeded random workload against a reference model. Set
 * STORAGE_SEED to replay one random run.
 */
import { describe, expect, it } from 'vitest'
import { createRng } from '../../core/random.ts'
import type { Rng } from '../../core/random.ts'
import type { DurableState, PersistOp, Storage } from '../../core/storage.ts'

export interface StorageHarness {
  /** The storage over this harness's medium: empty the first time, what survived the last close or crash after. */
  open(): Storage
  /** Kill `storage` as a process kill or power loss would: unsynced writes may be lost. */
  crash(storage: Storage): void
  /** Release the medium (temp directories...). */
  dispose?(): void
}

export type StorageHarnessFactory = () => StorageHarness

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values)
const text = (s: string): Uint8Array => new TextEncoder().encode(s)

export function syncOf(storage: Storage): Promise<void> {
  return new Promise(resolve => storage.sync(resolve))
}

/** Plain comparable form: hard records by key, log as [index, hex] pairs, snapshot fields as hex. */
export function plain(state: DurableState): unknown {
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
  return {
    hard: Object.fromEntries([...state.hard].map(([k, v]) => [k, hex(v)]).sort(([a], [b]) => (a! < b! ? -1 : 1))),
    log: state.log.map(e => [e.index, hex(e.value)]),
    snapshot: state.snapshot === null ? null
      : { index: state.snapshot.index, meta: hex(state.snapshot.meta), data: hex(state.snapshot.data) },
  }
}

/** The reference model: what a storage must hold after these ops were synced. */
export class ModelState {
  readonly hard = new Map<string, Uint8Array>()
  readonly log = new Map<number, Uint8Array>()
  snapshot: { index: number; meta: Uint8Array; data: Uint8Array } | null = null

  apply(op: PersistOp): void {
    switch (op.kind) {
      case 'put': this.hard.set(op.key, op.value.slice()); break
      case 'entry': this.log.set(op.index, op.value.slice()); break
      case 'truncate': for (const i of [...this.log.keys()]) if (i >= op.from) this.log.delete(i); break
      case 'forget': this.log.delete(op.index); break
      case 'snapshot':
        if (this.snapshot !== null && this.snapshot.index > op.index) break
        this.snapshot = { index: op.index, meta: op.meta.slice(), data: op.data.slice() }
        for (const i of [...this.log.keys()]) if (i <= op.index) this.log.delete(i)
        break
    }
  }

  state(): DurableState {
    const indexes = [...this.log.keys()].sort((a, b) => a - b)
    return { hard: this.hard, log: indexes.map(index => ({ index, value: this.log.get(index)! })), snapshot: this.snapshot }
  }
}

function randomOp(rng: Rng, nextIndex: { value: number }): PersistOp {
  const value = (): Uint8Array => { const b = new Uint8Array(rng.int(40)); for (let i = 0; i < b.length; i++) b[i] = rng.int(256); return b }
  const roll = rng.int(100)
  if (roll < 15) return { kind: 'put', key: ['term', 'vote', 'view', 'ballot'][rng.int(4)]!, value: value() }
  if (roll < 80) return { kind: 'entry', index: nextIndex.value++, value: value() }
  if (roll < 85) return { kind: 'entry', index: rng.range(1, nextIndex.value + 3), value: value() } // sparse / overwrite
  if (roll < 88) return { kind: 'forget', index: rng.range(1, nextIndex.value + 3) } // present or not
  if (roll < 92) {
    const from = rng.range(1, nextIndex.value)
    nextIndex.value = from
    return { kind: 'truncate', from }
  }
  return { kind: 'snapshot', index: rng.range(0, nextIndex.value), meta: value(), data: value() }
}

export function storageConformance(name: string, makeHarness: StorageHarnessFactory): void {
  async function withHarness(body: (h: StorageHarness) => Promise<void>): Promise<void> {
    const h = makeHarness()
    try { await body(h) } finally { h.dispose?.() }
  }

  describe(`${name}: Storage conformance`, () => {
    it('starts empty', () => withHarness(async h => {
      expect(plain(h.open().load())).toEqual({ hard: {}, log: [], snapshot: null })
    }))

    it('keeps hard records, log records and their replacements across a restart', () => withHarness(async h => {
      const s = h.open()
      s.write([
        { kind: 'put', key: 'term', value: bytes(1) },
        { kind: 'put', key: 'vote', value: bytes(2) },
        { kind: 'entry', index: 3, value: text('c') },
        { kind: 'entry', index: 1, value: text('a') },
        { kind: 'entry', index: 10, value: text('sparse') },
      ])
      s.write([{ kind: 'put', key: 'term', value: bytes(7) }, { kind: 'entry', index: 3, value: text('C') }])
      await syncOf(s)
      s.close?.()
      const state = h.open().load()
      expect(plain(state)).toEqual({
        hard: { term: '07', vote: '02' },
        log: [[1, '61'], [3, '43'], [10, Buffer.from('sparse').toString('hex')]],
        snapshot: null,
      })
    }))

    it('truncate deletes every log record at or above its index', () => withHarness(async h => {
      const s = h.open()
      for (let i = 1; i <= 6; i++) s.write([{ kind: 'entry', index: i, value: bytes(i) }])
      s.write([{ kind: 'truncate', from: 4 }, { kind: 'entry', index: 4, value: bytes(44) }])
      await syncOf(s)
      s.close?.()
      expect(plain(h.open().load())).toMatchObject({ log: [[1, '01'], [2, '02'], [3, '03'], [4, '2c']] })
    }))

    it('forget deletes exactly one log record, and a later snapshot does not bring it back', () => withHarness(async h => {
      const s = h.open()
      for (const i of [1, 2, 1_000_001, 1_000_002, 1_000_003]) s.write([{ kind: 'entry', index: i, value: bytes(i % 256) }])
      s.write([{ kind: 'forget', index: 1_000_002 }, { kind: 'forget', index: 77 }])
      s.write([{ kind: 'snapshot', index: 1, meta: bytes(0xa), data: text('one') }])
      await syncOf(s)
      s.close?.()
      expect(plain(h.open().load())).toMatchObject({ log: [[2, '02'], [1_000_001, '41'], [1_000_003, '43']] })
    }))

    it('a snapshot replaces the older one and drops the log records it covers', () => withHarness(async h => {
      const s = h.open()
      for (let i = 1; i <= 8; i++) s.write([{ kind: 'entry', index: i, value: bytes(i) }])
      s.write([{ kind: 'snapshot', index: 3, meta: bytes(0xa), data: text('three') }])
      await syncOf(s)
      s.write([{ kind: 'snapshot', index: 5, meta: bytes(0xb), data: text('five') }, { kind: 'entry', index: 9, value: bytes(9) }])
      await syncOf(s)
      // An older snapshot arriving late never replaces a newer one.
      s.write([{ kind: 'snapshot', index: 4, meta: bytes(0xc), data: text('four') }])
      await syncOf(s)
      s.close?.()
      expect(plain(h.open().load())).toEqual({
        hard: {},
        log: [[6, '06'], [7, '07'], [8, '08'], [9, '09']],
        snapshot: { index: 5, meta: '0b', data: Buffer.from('five').toString('hex') },
      })
    }))

    it('synced writes survive a crash', () => withHarness(async h => {
      const s = h.open()
      s.write([{ kind: 'put', key: 'term', value: bytes(3) }, { kind: 'entry', index: 1, value: bytes(1) }])
      await syncOf(s)
      s.write([{ kind: 'entry', index: 2, value: bytes(2) }]) // never synced: may or may not survive
      h.crash(s)
      const state = plain(h.open().load()) as { hard: unknown; log: unknown[] }
      expect(state.hard).toEqual({ term: '03' })
      expect(state.log[0]).toEqual([1, '01'])
      expect(state.log.length).toBeLessThanOrEqual(2)
    }))

    it('completes sync calls in call order', () => withHarness(async h => {
      const s = h.open()
      const order: number[] = []
      const all: Promise<void>[] = []
      for (let i = 0; i < 10; i++) {
        s.write([{ kind: 'entry', index: i + 1, value: bytes(i) }])
        all.push(new Promise(resolve => s.sync(() => { order.push(i); resolve() })))
      }
      await Promise.all(all)
      expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      s.close?.()
    }))

    it('stored values do not change when the caller reuses its buffers', () => withHarness(async h => {
      const s = h.open()
      const value = bytes(1, 2, 3)
      s.write([{ kind: 'entry', index: 1, value }])
      await syncOf(s)
      value.fill(0xff)
      s.close?.()
      expect(plain(h.open().load())).toMatchObject({ log: [[1, '010203']] })
    }))

    it('matches the reference model over a seeded random workload with restarts and crashes', () => withHarness(async h => {
      const seed = process.env.STORAGE_SEED ?? `${name}-1`
      const rng = createRng(seed)
      const replay = `replay: STORAGE_SEED='${seed}' npx vitest run test/storage`
      const durable = new ModelState()
      const nextIndex = { value: 1 }
      let s = h.open()
      for (let round = 0; round < 30; round++) {
        const batch: PersistOp[] = []
        for (let i = rng.int(12); i >= 0; i--) batch.push(randomOp(rng, nextIndex))
        s.write(batch)
        if (rng.chance(0.8)) {
          await syncOf(s)
          for (const op of batch) durable.apply(op)
        } else {
          // Unsynced: crash now, so the batch is lost or (some prefix of it) kept. Resync the model to what survived.
          h.crash(s)
          s = h.open()
          const survived = s.load()
          expect(survived.hard.size, replay).toBeGreaterThanOrEqual(durable.hard.size)
          const candidate = new ModelState()
          for (const [k, v] of durable.hard) candidate.hard.set(k, v)
          for (const [i, v] of durable.log) candidate.log.set(i, v)
          candidate.snapshot = durable.snapshot
          let matched = plain(candidate.state()) as unknown
          let ok = JSON.stringify(plain(survived)) === JSON.stringify(matched)
          for (const op of batch) {
            if (ok) break
            candidate.apply(op)
            matched = plain(candidate.state())
            ok = JSON.stringify(plain(survived)) === JSON.stringify(matched)
          }
          expect(ok, `after a crash the state must be the synced state plus a prefix of the unsynced batch; ${replay}`)
            .toBe(true)
          durable.hard.clear(); durable.log.clear()
          for (const [k, v] of candidate.hard) durable.hard.set(k, v)
          for (const [i, v] of candidate.log) durable.log.set(i, v)
          durable.snapshot = candidate.snapshot
          nextIndex.value = Math.max(1, ...durable.log.keys()) + 1
          continue
        }
        if (rng.chance(0.25)) {
          s.close?.()
          s = h.open()
          expect(plain(s.load()), `after restart in round ${round}; ${replay}`).toEqual(plain(durable.state()))
        }
      }
      s.close?.()
    }))
  })
}
