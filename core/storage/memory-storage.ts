/**
 * In-memory storage that models fsync: writes sit in a volatile buffer until `sync` completes; `crash()` throws the
 * buffer away, exactly what a power loss does to unsynced writes. The simulator gives it a `defer` so a sync can take
 * virtual time (and a crash can land in the middle of it).
 */
import type { DurableSnapshot, DurableState, PersistOp, Storage } from '../storage.ts'

export interface MemoryStorageOptions {
  /** Runs `fn` when an fsync would complete; default: immediately. */
  readonly defer?: (fn: () => void) => void
}

export class MemoryStorage implements Storage {
  private hard = new Map<string, Uint8Array>()
  private log = new Map<number, Uint8Array>()
  private snap: DurableSnapshot | null = null
  private unsynced: PersistOp[] = []
  /** Bumped by crash() so syncs in flight when the node died do not land afterwards. */
  private epoch = 0
  private readonly defer: (fn: () => void) => void
  /** Counters for tests and the bench. */
  syncs = 0
  bytesWritten = 0

  constructor(options: MemoryStorageOptions = {}) {
    this.defer = options.defer ?? (fn => fn())
  }

  load(): DurableState {
    const indexes = [...this.log.keys()].sort((a, b) => a - b)
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
    this.defer(() => {
      if (epoch !== this.epoch) return // the node crashed before this fsync finished: the writes are lost
      for (const op of batch) this.applyDurably(op)
      this.syncs++
      done()
    })
  }

  /** Power loss: everything not yet synced is gone, and syncs in flight never complete. */
  crash(): void {
    this.unsynced = []
    this.epoch++
  }

  private applyDurably(op: PersistOp): void {
    switch (op.kind) {
      case 'put':
        this.hard.set(op.key, op.value.slice())
        this.bytesWritten += op.value.length
        break
      case 'entry':
        this.log.set(op.index, op.value.slice())
        this.bytesWritten += op.value.length
        break
      case 'truncate':
        for (const index of [...this.log.keys()]) if (index >= op.from) this.log.delete(index)
        break
      case 'snapshot':
        if (this.snap !== null && this.snap.index > op.index) break // never replace a newer snapshot with an older one
        this.snap = { index: op.index, meta: op.meta.slice(), data: op.data.slice() }
        for (const index of [...this.log.keys()]) if (index <= op.index) this.log.delete(index)
        this.bytesWritten += op.data.length + op.meta.length
        break
    }
  }
}

export function createMemoryStorage(options?: MemoryStorageOptions): MemoryStorage {
  return new MemoryStorage(options)
}
