/**
 * Durable storage of one replica in a directory: a write-ahead log of PersistOps plus one snapshot file. The log, its
 * fsync policies, compaction and recovery are the shared WAL's (shared-wal.ts, which documents the files); this is
 * that log holding one consensus group, group 0, compacted at every snapshot. A directory holding other groups too
 * (written by createGroupedFileStorage) is refused with a ConfigError saying so.
 */
import type { DurableState, PersistOp, Storage } from '../storage.ts'
import { SharedWal } from './shared-wal.ts'
import type { FileStorageOptions, FileStorageStats, FsyncPolicy } from './shared-wal.ts'

export { FSYNC_POLICIES } from './shared-wal.ts'
export type { FileStorageOptions, FileStorageStats, FsyncPolicy } from './shared-wal.ts'

export class FileStorage implements Storage {
  readonly dir: string
  readonly policy: FsyncPolicy
  readonly stats: FileStorageStats
  private readonly wal: SharedWal
  /** State as recovered at open, returned by load(). */
  private readonly recovered: DurableState

  constructor(options: FileStorageOptions) {
    this.wal = new SharedWal(options, 'single-group')
    this.dir = this.wal.dir
    this.policy = this.wal.policy
    this.stats = this.wal.stats
    this.recovered = this.wal.state(0)
  }

  load(): DurableState {
    return this.recovered
  }

  write(ops: readonly PersistOp[]): void {
    this.wal.write(0, ops)
  }

  sync(done: () => void): void {
    this.wal.sync(done)
  }

  /** Make every write durable (unless the policy is 'none') and release the files. Pending sync callbacks are dropped. */
  close(): void {
    this.wal.close()
  }

  /**
   * A process kill: unsynced writes are lost, pending callbacks never run, nothing more is written. For tests and
   * fault injection (the MemoryStorage has the same method).
   */
  crash(): void {
    this.wal.crash()
  }
}

export function createFileStorage(options: FileStorageOptions): FileStorage {
  return new FileStorage(options)
}
