/**
 * In-memory storage that models fsync: writes sit in a volatile buffer until `sync` completes; `crash()` throws the
 * buffer away, exactly what a power loss does to unsynced writes. The simulator gives it a `defer` so a sync can take
 * virtual time (and a crash can land in the middle of it).
 *
 * Disk faults for the simulator, modelled on what the file storage (file-storage.ts) does with them:
 * - `corrupt(rng)`: a flipped bit in a durable record. The file storage's checksums (CRC32 catches every single-bit
 *   error) make its next start refuse, so the next load() throws a StorageCorruptionError naming the record; a
 *   replica never sees the damaged bytes. The damaged bytes stay in the file storage's log even after the record is
 *   replaced, until a compaction (after a snapshot) rewrites the log from memory: here too a durable snapshot clears
 *   the damage, and a replaced record keeps refusing until then.
 * - `loseNextSync()`: a lying fsync. Durable batches are numbered as the file storage numbers its records, so a lost
 *   batch followed by a durable one is a gap that load() refuses ("lost write"); a lost batch that is the last before
 *   a crash leaves the older state, as a real disk would, and `undetectedLoss` says so.
 * - `wipe()`: an operator emptied the data directory.
 */
import type { Rng } from '../random.ts'
import type { DurableSnapshot, DurableState, PersistOp, Storage } from '../storage.ts'
import { LogRecords } from './log-records.ts'
import { StorageCorruptionError } from './record-framing.ts'

export interface MemoryStorageOptions {
  /** Runs `fn` when an fsync would complete; default: immediately. */
  readonly defer?: (fn: () => void) => void
  /**
   * The writer never touches a buffer again once it is written (the simulator's hosts: every value is freshly
   * encoded, and snapshots are never modified), so durable records may keep the caller's arrays instead of copies.
   * Default false: a write copies, as a disk write does, and a caller may reuse its buffers.
   */
  readonly adoptWrites?: boolean
}

interface Damage {
  readonly where: string
  readonly byte: number
  readonly description: string
  readonly original: Uint8Array
  readonly replace: (bytes: Uint8Array) => void
  /** The damaged bytes are still the stored record (it was not replaced or deleted since). */
  readonly isCurrent: () => boolean
}

export class MemoryStorage implements Storage {
  private hard = new Map<string, Uint8Array>()
  private log = new LogRecords()
  private snap: DurableSnapshot | null = null
  private unsynced: PersistOp[] = []
  /** Bumped by crash() so syncs in flight when the node died do not land afterwards. */
  private epoch = 0
  /** Flipped bits not yet rewritten by a compaction, oldest first: the next load() refuses. */
  private damage: Damage[] = []
  /** Number of the next batch (a sync() with writes), and of the last one that became durable. */
  private nextBatch = 1
  private lastDurableBatch = 0
  private loseNext = false
  /** Batches acknowledged by a lying fsync with no durable batch after them yet. */
  private lostBatches: Array<{ readonly batch: number; readonly ops: number }> = []
  /** A lost batch followed by a durable one: every load() refuses with this. */
  private lostWrite: string | null = null
  private undetected: string | null = null
  private readonly defer: (fn: () => void) => void
  private readonly copy: (bytes: Uint8Array) => Uint8Array
  /** Counters for tests and the bench. */
  syncs = 0
  bytesWritten = 0

  constructor(options: MemoryStorageOptions = {}) {
    this.defer = options.defer ?? (fn => fn())
    this.copy = options.adoptWrites === true ? bytes => bytes : bytes => bytes.slice()
  }

  load(): DurableState {
    if (this.lostWrite !== null) throw new StorageCorruptionError('memory storage', 0, this.lostWrite)
    const first = this.damage[0]
    if (first !== undefined) {
      throw new StorageCorruptionError(`memory storage (${first.where})`, first.byte, `checksum mismatch: ${first.description}`)
    }
    const indexes = this.log.indexes()
    return {
      hard: new Map(this.hard),
      log: indexes.map(index => ({ index, value: this.log.get(index)! })),
      snapshot: this.snap,
    }
  }

  write(ops: readonly PersistOp[]): void {
    for (const op of ops) this.unsynced.push(op)
  }

  sync(done: () => void): void {
    const batch = this.unsynced
    this.unsynced = []
    const epoch = this.epoch
    // A sync with nothing to write has nothing to lose: a pending loseNextSync() waits for one that has.
    const number = batch.length > 0 ? this.nextBatch++ : 0
    const lie = number > 0 && this.loseNext
    if (lie) this.loseNext = false
    this.defer(() => {
      if (epoch !== this.epoch) return // the node crashed before this fsync finished: the writes are lost
      this.syncs++
      if (lie) {
        this.lostBatches.push({ batch: number, ops: batch.length })
        done()
        return
      }
      if (number > 0) {
        const lost = this.lostBatches[0]
        if (lost !== undefined && this.lostWrite === null) {
          this.lostWrite = `lost write: batch ${lost.batch} (${lost.ops} ops) was acknowledged but never became ` +
            `durable, yet batch ${number} after it did`
        }
        this.lostBatches = []
        this.lastDurableBatch = number
      }
      for (const op of batch) this.applyDurably(op)
      done()
    })
  }

  /** Power loss: everything not yet synced is gone, and syncs in flight never complete. */
  crash(): void {
    this.unsynced = []
    this.epoch++
    const lost = this.lostBatches
    if (lost.length > 0 && this.undetected === null) {
      this.undetected = `batch${lost.length > 1 ? 'es' : ''} ${lost.map(l => l.batch).join(', ')} acknowledged by a ` +
        'lying fsync and lost in a crash before any later batch became durable'
    }
    this.lostBatches = []
    // The restarted node numbers its writes on from what is durable (as the file storage's record seqs do), so the
    // gap is never seen.
    this.nextBatch = this.lastDurableBatch + 1
  }

  /**
   * Flip one bit of one durable record (a hard-state record, a log entry or the snapshot, chosen by `rng`). Returns
   * what was flipped, or null when no durable record has a byte to flip.
   */
  corrupt(rng: Rng): string | null {
    const targets: Array<{
      where: string; bytes: Uint8Array; replace: (b: Uint8Array) => void; current: () => Uint8Array | undefined
    }> = []
    for (const [key, value] of this.hard) {
      if (value.length > 0) {
        targets.push({ where: `hard state ${JSON.stringify(key)}`, bytes: value, replace: b => { this.hard.set(key, b) }, current: () => this.hard.get(key) })
      }
    }
    for (const index of this.log.indexes()) {
      const value = this.log.get(index)!
      if (value.length > 0) {
        targets.push({ where: `log entry ${index}`, bytes: value, replace: b => { this.log.set(index, b) }, current: () => this.log.get(index) })
      }
    }
    const snap = this.snap
    if (snap !== null && snap.meta.length + snap.data.length > 0) {
      const bytes = new Uint8Array(snap.meta.length + snap.data.length)
      bytes.set(snap.meta)
      bytes.set(snap.data, snap.meta.length)
      targets.push({
        where: `snapshot at index ${snap.index}`, bytes,
        replace: b => { this.snap = { index: snap.index, meta: b.subarray(0, snap.meta.length), data: b.subarray(snap.meta.length) } },
        current: () => this.snap?.data.length === 0 ? this.snap.meta : this.snap?.data,
      })
    }
    if (targets.length === 0) return null
    const target = targets[rng.int(targets.length)]!
    const byte = rng.int(target.bytes.length)
    const bit = rng.int(8)
    // A copy: a replica still holding the array from an earlier load() keeps its (memory's) correct bytes.
    const damaged = target.bytes.slice()
    damaged[byte]! ^= 1 << bit
    target.replace(damaged)
    const description = `flipped bit ${bit} of byte ${byte} of ${target.where}`
    const current = target.current
    this.damage.push({
      where: target.where, byte, description, original: target.bytes, replace: target.replace,
      isCurrent: () => current()?.buffer === damaged.buffer,
    })
    return description
  }

  /** The next sync() that has writes calls `done` without making them durable (a lying fsync). */
  loseNextSync(): void {
    this.loseNext = true
  }

  /**
   * What a lying fsync lost without any later durable write revealing it (the node crashed first and load() returned
   * the older state), or null. The replica may have forgotten writes it acknowledged.
   */
  get undetectedLoss(): string | null {
    return this.undetected
  }

  /** Everything gone, as if an operator wiped the data directory: the next load() finds a fresh storage. */
  wipe(): void {
    this.hard = new Map()
    this.log = new LogRecords()
    this.snap = null
    this.unsynced = []
    this.epoch++
    this.damage = []
    this.nextBatch = 1
    this.lastDurableBatch = 0
    this.loseNext = false
    this.lostBatches = []
    this.lostWrite = null
    this.undetected = null
  }

  private applyDurably(op: PersistOp): void {
    switch (op.kind) {
      case 'put':
        this.hard.set(op.key, this.copy(op.value))
        this.bytesWritten += op.value.length
        break
      case 'entry':
        this.log.set(op.index, this.copy(op.value))
        this.bytesWritten += op.value.length
        break
      case 'truncate':
        this.log.deleteFrom(op.from)
        break
      case 'forget':
        this.log.delete(op.index)
        break
      case 'snapshot':
        if (this.snap !== null && this.snap.index > op.index) break // never replace a newer snapshot with an older one
        // The file storage compacts here, rewriting the log from its (undamaged) memory: the damage is gone.
        for (const d of this.damage.reverse()) if (d.isCurrent()) d.replace(d.original)
        this.damage = []
        this.snap = { index: op.index, meta: this.copy(op.meta), data: this.copy(op.data) }
        this.log.deleteThrough(op.index)
        this.bytesWritten += op.data.length + op.meta.length
        break
    }
  }
}

export function createMemoryStorage(options?: MemoryStorageOptions): MemoryStorage {
  return new MemoryStorage(options)
}
