/**
 * The one place a live multi-group node opens its storage (GroupedStorage over the replica's dataDir).
 *
 * TEMPORARY: the shared write-ahead log (one WAL per node, one fsync for all groups: createGroupedFileStorage in
 * core/storage/) had not landed when live groups were written, so this adapter gives each group a FileStorage of its
 * own in `<dataDir>/group-<g>/`. It keeps every durability rule of FileStorage, but each group fsyncs on its own, so
 * fsyncs per op are not yet below one group's. Replace the body of `openGroupedStorage` with the shared WAL.
 */
import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { GroupedStorage, Storage } from '../core/storage.ts'
import { createFileStorage, type FileStorage, type FileStorageOptions, type FileStorageStats } from '../core/storage/file-storage.ts'

/** A node's grouped storage with its fsync and byte counts (summed over everything it writes). */
export interface NodeGroupedStorage extends GroupedStorage {
  readonly stats: FileStorageStats
}

/** Smaller than FileStorage's 16 MiB default: one segment is preallocated per group, and a node may host many. */
const GROUP_SEGMENT_BYTES = 1 << 20
const GROUP_DIR = /^group-(\d+)$/

class PerGroupFileStorage implements NodeGroupedStorage {
  private readonly open = new Map<number, FileStorage>()
  private readonly o: FileStorageOptions

  constructor(options: FileStorageOptions) {
    this.o = options
    mkdirSync(options.dir, { recursive: true, mode: 0o700 })
  }

  group(group: number): Storage {
    let s = this.open.get(group)
    if (s === undefined) {
      s = createFileStorage({ segmentBytes: GROUP_SEGMENT_BYTES, ...this.o, dir: join(this.o.dir, `group-${group}`) })
      this.open.set(group, s)
    }
    return s
  }

  groups(): number[] {
    const found = new Set(this.open.keys())
    for (const name of readdirSync(this.o.dir)) {
      const m = GROUP_DIR.exec(name)
      if (m !== null) found.add(Number(m[1]))
    }
    return [...found].sort((a, b) => a - b)
  }

  get stats(): FileStorageStats {
    const total: FileStorageStats = { fsyncs: 0, bytesWritten: 0, compactions: 0, tornTail: null, staleLockTakenOver: null }
    for (const s of this.open.values()) {
      total.fsyncs += s.stats.fsyncs
      total.bytesWritten += s.stats.bytesWritten
      total.compactions += s.stats.compactions
      total.tornTail ??= s.stats.tornTail
      total.staleLockTakenOver ??= s.stats.staleLockTakenOver
    }
    return total
  }

  close(): void {
    for (const s of this.open.values()) s.close()
    this.open.clear()
  }
}

export function openGroupedStorage(options: FileStorageOptions): NodeGroupedStorage {
  return new PerGroupFileStorage(options)
}
