/**
 * The one place a live multi-group node opens its storage: one shared write-ahead log in the replica's dataDir for
 * every group it hosts (core/storage/grouped-file-storage.ts), so one fsync covers every group's writes and group
 * commit spans groups. Its `stats.fsyncs` counts fdatasyncs of that one log (bench live: fsyncs per op).
 */
import type { GroupedStorage } from '../core/storage.ts'
import type { FileStorageOptions, FileStorageStats } from '../core/storage/file-storage.ts'
import { createGroupedFileStorage } from '../core/storage/grouped-file-storage.ts'

/** A node's grouped storage with its fsync and byte counts (the whole log's). */
export interface NodeGroupedStorage extends GroupedStorage {
  readonly stats: FileStorageStats
}

export function openGroupedStorage(options: FileStorageOptions): NodeGroupedStorage {
  return createGroupedFileStorage(options)
}
