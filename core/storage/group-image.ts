/**
 * The in-memory image of one consensus group's part of a write-ahead log: everything written so far (durable or
 * not), kept so a compaction can rewrite the live state and load() can answer without reading the files. Values are
 * views of encoded records (or copies of what recovery read, so the whole-file buffer can be freed).
 *
 * `liveBytes` estimates what the group's live records take in the log, so the grouped log can tell when most of the
 * log is dead (shared-wal.ts, "Compaction"). It is an estimate (the header fields are counted at their largest), which
 * is all a compaction trigger needs.
 */
import type { DurableState } from '../storage.ts'
import { RECORD_OVERHEAD_BYTES } from './record-framing.ts'
import type { SnapshotFileRecord, WalRecord } from './wal-codec.ts'

/** Kind, group prefix and index varints of a record, at their largest. */
const FIELD_BYTES = 1 + 6 + 8
const ENTRY_BYTES = RECORD_OVERHEAD_BYTES + FIELD_BYTES
/** A snapshot marker: its index and generation. */
const MARKER_BYTES = RECORD_OVERHEAD_BYTES + FIELD_BYTES + 8

export class GroupImage {
  readonly hard = new Map<string, Uint8Array>()
  readonly entries = new Map<number, Uint8Array>()
  snapshot: SnapshotFileRecord | null = null
  liveBytes = 0

  /** `copy`: the value is a view of a whole file read at recovery; copy it so that buffer can be freed. */
  apply(record: WalRecord, copy = false): void {
    switch (record.kind) {
      case 'put': {
        const old = this.hard.get(record.key)
        if (old !== undefined) this.liveBytes -= ENTRY_BYTES + record.key.length + old.length
        this.hard.set(record.key, copy ? record.value.slice() : record.value)
        this.liveBytes += ENTRY_BYTES + record.key.length + record.value.length
        break
      }
      case 'entry': {
        this.delete(record.index)
        this.entries.set(record.index, copy ? record.value.slice() : record.value)
        this.liveBytes += ENTRY_BYTES + record.value.length
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

  /** Replace the snapshot (its marker is rewritten by every compaction, hence counted live). */
  setSnapshot(snapshot: SnapshotFileRecord): void {
    if (this.snapshot === null) this.liveBytes += MARKER_BYTES
    this.snapshot = snapshot
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
    this.liveBytes -= ENTRY_BYTES + old.length
  }
}
