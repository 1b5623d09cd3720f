/**
 * One write-ahead log per node, shared by the node's consensus groups (CockroachDB stores and TiKV nodes likewise
 * share one engine among their ranges / regions): a Storage view per group over one shared WAL (shared-wal.ts), so a
 * sync() of each of many groups in one turn shares one fdatasync under the 'batch' policy (group commit across
 * groups), and a crash of the node restarts every group from the one log.
 *
 * Each record names its group; each group has its own snapshot file, and its snapshot drops only its own log
 * records. The log is compacted when it is mostly dead, not at every group's snapshot (shared-wal.ts, "Compaction").
 * Group 0's records and snapshot file are laid out exactly as FileStorage's, so a single replica's directory opens
 * here as group 0 (and a grouped directory holding only group 0 opens as a FileStorage).
 */
import { ConfigError } from '../errors.ts'
import type { DurableState, GroupedStorage, PersistOp, Storage } from '../storage.ts'
import { SharedWal } from './shared-wal.ts'
import type { FileStorageOptions, FileStorageStats, FsyncPolicy } from './shared-wal.ts'
import { MAX_GROUP } from './wal-codec.ts'

/**
 * One group's Storage. close() makes the writes of every group durable (not only this one's: they share the log)
 * and retires this view; the shared files stay open for the other groups until GroupedFileStorage.close().
 */
class GroupView implements Storage {
  readonly group: number
  closed = false
  private readonly wal: SharedWal
  private readonly recovered: DurableState

  constructor(wal: SharedWal, group: number) {
    this.wal = wal
    this.group = group
    this.recovered = wal.state(group)
  }

  load(): DurableState {
    return this.recovered
  }

  write(ops: readonly PersistOp[]): void {
    this.checkOpen('write')
    this.wal.write(this.group, ops)
  }

  sync(done: () => void): void {
    this.checkOpen('sync')
    this.wal.sync(done)
  }

  close(): void {
    if (this.closed) return
    this.wal.persist()
    this.closed = true
  }

  private checkOpen(what: string): void {
    if (this.closed) throw new Error(`group ${this.group} of file storage ${this.wal.dir}: ${what}() after close`)
  }
}

export class GroupedFileStorage implements GroupedStorage {
  readonly dir: string
  readonly policy: FsyncPolicy
  /** For the whole log: `fsyncs` counts one per fdatasync, however many groups' syncs it covered. */
  readonly stats: FileStorageStats
  private readonly wal: SharedWal
  private readonly views = new Map<number, GroupView>()

  constructor(options: FileStorageOptions) {
    this.wal = new SharedWal(options, 'grouped')
    this.dir = this.wal.dir
    this.policy = this.wal.policy
    this.stats = this.wal.stats
  }

  /**
   * The view of group `group`: the same one on every call while it is open. After that view's close(), a new view,
   * whose load() is the group's state then (all of it durable): a replica of the group restarting on a running node.
   */
  group(group: number): Storage {
    if (!Number.isInteger(group) || group < 0 || group > MAX_GROUP) {
      throw new ConfigError('group', `expected an integer from 0 to ${MAX_GROUP}, got ${JSON.stringify(group)}`)
    }
    let view = this.views.get(group)
    if (view === undefined || view.closed) {
      view = new GroupView(this.wal, group)
      this.views.set(group, view)
    }
    return view
  }

  groups(): number[] {
    return this.wal.groups()
  }

  /** Make every group's writes durable (unless the policy is 'none') and release the files. Pending callbacks are dropped. */
  close(): void {
    this.wal.close()
  }

  /** A process kill of the node: every group's unsynced writes are lost, pending callbacks never run. For tests. */
  crash(): void {
    this.wal.crash()
  }
}

export function createGroupedFileStorage(options: FileStorageOptions): GroupedFileStorage {
  return new GroupedFileStorage(options)
}
