/**
 * The in-memory image of one consensus group's part of a write-ahead log: everything written so far (durable or
 * not), kept so a compaction can rewrite the live state and load() can answer without reading the files. Values are
 * views of encoded records (or copies of what recovery read, so the whole-file buffer can be freed).
 *
 * `liveBytes` is what the group's live records would take in a compacted log, so the grouped log can tell when most
 * of the log is dead (shared-wal.ts, "Compaction").
 */
import type { DurableState } from '../storage.ts'
import { walRecordBytes } from './wal-codec.ts'
import type { SnapshotFileRecord, WalRecord } from './wal-codec.ts'

export class GroupImage {
  readonly group: number
  readonly hard = new Map<string, Uint8Array>()
  readonly entries = new Map<number, Uint8Array>()
  snapshot: SnapshotFileRecord | null = null
  /** Bytes of the live hard and log records (the snapshot marker is added by liveBytes). */
  private recordBytes = 0

  constructor(group: number) {
    this.group = group
  }

  get liveBytes(): number {
    const snap = this.snapshot
    if (snap === null) return this.recordBytes
    return this.recordBytes + walRecordBytes({ kind: 'snapshot-marker', index: snap.index, generation: snap.generation }, this.group)
  }

  /** `copy`: the value is a view of a whole file read at recovery; copy it so that buffer can be freed. */
  apply(record: WalRecord, copy = false): void {
    switch (record.kind) {
      case 'put': {
        const old = this.hard.get(record.key)
        if (old !== undefined) this.recordBytes -= walRecordBytes({ kind: 'put', key: record.key, value: old }, this.group)
        this.hard.set(record.key, copy ? record.value.slice() : record.value)
        this.recordBytes += walRecordBytes(record, this.group)
        break
      }
      case 'entry': {
        this.delete(record.index)
        this.entries.set(record.index, copy ? record.value.slice() : record.value)
        this.recordBytes += walRecordBytes(record, this.group)
        break
      }
      case 'truncate':
        for (const index of this.entries.keys()) if (index >= record.from) this.delete(index)
        break
      case 'forget':
        this.delete(record.index)
        break
      case 'snapshot-marker':
        for (const index of this.entries.keys()) if (index <= record.index) this.delete(index)
        break
    }
  }

  /** The marker and records a compaction rewrites, in replay order. */
  liveRecords(): WalRecord[] {
    const records: WalRecord[] = []
    const snap = this.snapshot
    if (snap !== null) records.push({ kind: 'snapshot-marker', index: snap.index, generation: snap.generation })
    for (const [key, value] of this.hard) records.push({ kind: 'put', key, value })
    for (const index of [...this.entries.keys()].sort((a, b) => a - b)) {
      records.push({ kind: 'entry', index, value: this.entries.get(index)! })
    }
    return records
  }

  state(): DurableState {
    const indexes = [...this.entries.keys()].sort((a, b) => a - b)
    return {
      hard: new Map(this.hard),
      log: indexes.map(index => ({ index, value: this.entries.get(index)! })),
      snapshot: this.snapshot === null ? null
        : { index: this.snapshot.index, meta: this.snapshot.meta, data: this.snapshot.data },
    }
  }

  private delete(index: number): void {
    const old = this.entries.get(index)
    if (old === undefined) return
    this.entries.delete(index)
    this.recordBytes -= walRecordBytes({ kind: 'entry', index, value: old }, this.group)
  }
}
