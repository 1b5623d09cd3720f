/**
 * Durable storage in a directory: a write-ahead log of PersistOps plus one snapshot file.
 *
 *   dir/wal-0000000000000001.log   log segment: checksummed records (record-framing.ts), appended to
 *   dir/snapshot.bin               the newest snapshot, one checksummed record, replaced atomically
 *
 * Writes are encoded at write() and kept in memory; sync() appends them to the current segment with one write and
 * then makes them durable according to the fsync policy before calling `done`:
 *
 * - 'always': one fdatasync per sync() call that wrote something, completions in call order.
 * - 'batch':  group commit. An fdatasync starts as soon as none is running; every sync() call that arrives while one
 *             runs shares the next one (and, with `batchWindowMs` > 0, calls within that window of the first join it
 *             too: more sharing, more latency; default 0). Every `done` still runs in call order and only after the
 *             fsync covering its writes.
 * - 'none':   never fsync. Survives a process crash (the bytes are in the OS page cache) but NOT an OS crash or power
 *             loss: acknowledged writes may vanish and the log may be left damaged so that recovery refuses to start.
 *             For benchmarks that want to measure the protocol without the disk.
 *
 * A snapshot op is written to `snapshot.bin.tmp`, fsynced, renamed over `snapshot.bin`, and the directory fsynced; only
 * then is a snapshot marker appended to the log (so any crash leaves a prefix of the writes). At the end of that
 * sync the log is compacted: the live state (hard records and the log records above the snapshot) is written to a new
 * segment through a temporary file and rename, and older segments are deleted, so the log does not grow forever.
 *
 * Recovery replays the segments in order. A damaged last record of the last segment is a torn append and is cut
 * off; damage anywhere else refuses to start with a StorageCorruptionError naming the file and byte offset.
 *
 * One process at a time: nothing locks the directory.
 */
import {
  closeSync, fdatasync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync,
  truncateSync, unlinkSync, writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { CodecError, ConfigError } from '../errors.ts'
import { createLogger } from '../logger.ts'
import type { Logger } from '../logger.ts'
import type { DurableState, PersistOp, Storage } from '../storage.ts'
import { RECORD_HEADER_BYTES, scanRecords, StorageCorruptionError } from './record-framing.ts'
import { decodeSnapshotRecord, decodeWalRecord, encodeSnapshotRecord, encodeWalRecord } from './wal-codec.ts'
import type { SnapshotFileRecord, WalRecord } from './wal-codec.ts'

export type FsyncPolicy = 'always' | 'batch' | 'none'
export const FSYNC_POLICIES: readonly FsyncPolicy[] = ['always', 'batch', 'none']

export interface FileStorageOptions {
  readonly dir: string
  /** Default 'always'. */
  readonly fsync?: FsyncPolicy
  /** 'batch' only: how long the first sync() of a group waits for others to join it. Default 0: start at once. */
  readonly batchWindowMs?: number
  readonly logger?: Logger
}

export interface FileStorageStats {
  fsyncs: number
  /** Bytes appended to log segments (compaction rewrites included) and snapshot files. */
  bytesWritten: number
  compactions: number
  /** What recovery cut off the end of the log, or null. */
  tornTail: string | null
}

const SNAPSHOT_FILE = 'snapshot.bin'
const TMP_SUFFIX = '.tmp'
const SEGMENT_PATTERN = /^wal-(\d{16})\.log$/
const DEFAULT_BATCH_WINDOW_MS = 0

function segmentName(seq: number): string {
  return `wal-${String(seq).padStart(16, '0')}.log`
}

interface PendingSnapshot {
  readonly snapshot: SnapshotFileRecord
  readonly record: Uint8Array
}

interface Waiter {
  readonly done: () => void
  /** This sync() appended bytes ('always' fsyncs once per such call). */
  readonly wrote: boolean
}

export class FileStorage implements Storage {
  readonly dir: string
  readonly policy: FsyncPolicy
  readonly stats: FileStorageStats = { fsyncs: 0, bytesWritten: 0, compactions: 0, tornTail: null }
  private readonly batchWindowMs: number
  private readonly log: Logger

  /** Everything written so far (durable or not): what a compaction rewrites. Values are views of encoded records. */
  private readonly hard = new Map<string, Uint8Array>()
  private readonly entries = new Map<number, Uint8Array>()
  private snapshot: SnapshotFileRecord | null = null
  /** State as recovered at open, returned by load(). */
  private readonly recovered: DurableState

  private pending: Array<Uint8Array | PendingSnapshot> = []
  private segmentSeq: number
  private fd: number
  /** Bytes appended since the last fsync started. */
  private dirty = false
  private readonly waiters: Waiter[] = []
  private fsyncInFlight = false
  private scheduled: NodeJS.Timeout | NodeJS.Immediate | null = null
  /** Descriptors replaced while an fsync on them was running: closed when it finishes. */
  private retired: number[] = []
  private closed = false

  constructor(options: FileStorageOptions) {
    if (typeof options.dir !== 'string' || options.dir === '') throw new ConfigError('dir', 'expected a directory path')
    const policy = options.fsync ?? 'always'
    if (!FSYNC_POLICIES.includes(policy)) {
      throw new ConfigError('fsync', `expected one of ${FSYNC_POLICIES.join(', ')}, got ${JSON.stringify(policy)}`)
    }
    const window = options.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS
    if (typeof window !== 'number' || !Number.isFinite(window) || window < 0 || window > 10_000) {
      throw new ConfigError('batchWindowMs', `expected milliseconds from 0 to 10000, got ${JSON.stringify(window)}`)
    }
    this.dir = options.dir
    this.policy = policy
    this.batchWindowMs = window
    this.log = options.logger ?? createLogger('consensus:storage')

    mkdirSync(this.dir, { recursive: true })
    const { lastSeq } = this.recover()
    this.recovered = this.currentState()
    if (lastSeq === 0) {
      this.segmentSeq = 1
      this.fd = openSync(this.path(segmentName(1)), 'a')
      this.fsyncDirectory()
    } else {
      this.segmentSeq = lastSeq
      this.fd = openSync(this.path(segmentName(lastSeq)), 'a')
    }
  }

  load(): DurableState {
    return this.recovered
  }

  write(ops: readonly PersistOp[]): void {
    this.checkOpen('write')
    for (const op of ops) {
      if (op.kind === 'snapshot') {
        // Never replace a newer snapshot with an older one (a late InstallSnapshot), as the memory storage does.
        if (this.snapshot !== null && this.snapshot.index > op.index) continue
        const generation = (this.snapshot?.generation ?? 0) + 1
        const record = encodeSnapshotRecord({ index: op.index, generation, meta: op.meta, data: op.data })
        const snapshot = decodeSnapshotRecord(record.subarray(RECORD_HEADER_BYTES), 'new snapshot')
        this.applyToState({ kind: 'snapshot-marker', index: op.index, generation })
        this.snapshot = snapshot
        this.pending.push({ snapshot, record })
      } else {
        const record = encodeWalRecord(op)
        this.applyToState(decodeWalRecord(record.subarray(RECORD_HEADER_BYTES), 'new record'))
        this.pending.push(record)
      }
    }
  }

  sync(done: () => void): void {
    this.checkOpen('sync')
    const wrote = this.flush()
    this.waiters.push({ done, wrote })
    this.schedule()
  }

  /** Make every write durable (unless the policy is 'none') and release the files. Pending sync callbacks are dropped. */
  close(): void {
    if (this.closed) return
    this.flush()
    if (this.policy !== 'none') this.fsyncNow(this.fd)
    this.shutDown()
  }

  /**
   * A process kill: unsynced writes are lost, pending callbacks never run, nothing more is written. For tests and
   * fault injection (the MemoryStorage has the same method).
   */
  crash(): void {
    if (this.closed) return
    this.pending = []
    this.shutDown()
  }

  // --- writing ---

  /** Append pending records (and install pending snapshots); returns whether any byte was appended. */
  private flush(): boolean {
    if (this.pending.length === 0) return false
    const items = this.pending
    this.pending = []
    let chunks: Uint8Array[] = []
    let compact = false
    for (const item of items) {
      if (item instanceof Uint8Array) { chunks.push(item); continue }
      // The log records before the snapshot must be durable before it, so a crash leaves a prefix of the writes.
      if (chunks.length > 0) {
        this.append(chunks)
        chunks = []
        if (this.policy !== 'none') this.fsyncNow(this.fd)
      }
      this.writeSnapshotFile(item.record)
      chunks.push(encodeWalRecord({ kind: 'snapshot-marker', index: item.snapshot.index, generation: item.snapshot.generation }))
      compact = true
    }
    this.append(chunks)
    if (compact) this.compact()
    return true
  }

  private append(chunks: Uint8Array[]): void {
    if (chunks.length === 0) return
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
    let written = 0
    while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written)
    this.stats.bytesWritten += bytes.length
    this.dirty = true
  }

  private writeSnapshotFile(record: Uint8Array): void {
    this.replaceFile(SNAPSHOT_FILE, record)
    this.stats.bytesWritten += record.length
    this.log('snapshot file replaced (%d bytes)', record.length)
  }

  /** Write `name` atomically: temp file, fsync, rename, fsync the directory (no fsyncs under 'none'). */
  private replaceFile(name: string, bytes: Uint8Array): void {
    const tmp = this.path(name + TMP_SUFFIX)
    const fd = openSync(tmp, 'w')
    try {
      let written = 0
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written)
      if (this.policy !== 'none') fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, this.path(name))
    this.fsyncDirectory()
  }

  /** Rewrite the live state into a new segment and delete the older ones. */
  private compact(): void {
    const chunks: Uint8Array[] = []
    const snap = this.snapshot
    if (snap !== null) chunks.push(encodeWalRecord({ kind: 'snapshot-marker', index: snap.index, generation: snap.generation }))
    for (const [key, value] of this.hard) chunks.push(encodeWalRecord({ kind: 'put', key, value }))
    for (const index of [...this.entries.keys()].sort((a, b) => a - b)) {
      chunks.push(encodeWalRecord({ kind: 'entry', index, value: this.entries.get(index)! }))
    }
    const bytes = Buffer.concat(chunks)
    const seq = this.segmentSeq + 1
    // Every write so far is in the new segment, which replaceFile made durable: nothing is left to fsync.
    this.replaceFile(segmentName(seq), bytes)
    this.stats.bytesWritten += bytes.length
    this.stats.compactions++
    this.retire(this.fd)
    this.fd = openSync(this.path(segmentName(seq)), 'a')
    this.segmentSeq = seq
    this.dirty = false
    // Oldest first, so a crash part way leaves a suffix of segments, which replays to the same state.
    for (const old of this.segmentSeqs()) if (old < seq) unlinkSync(this.path(segmentName(old)))
    this.log('compacted the log into %s (%d bytes)', segmentName(seq), bytes.length)
  }

  // --- making writes durable ---

  private schedule(): void {
    if (this.fsyncInFlight || this.scheduled !== null || this.waiters.length === 0 || this.closed) return
    if (this.policy === 'batch' && this.batchWindowMs > 0) this.scheduled = setTimeout(this.runGroup, this.batchWindowMs)
    else this.scheduled = setImmediate(this.runGroup)
  }

  private readonly runGroup = (): void => {
    this.scheduled = null
    if (this.closed) return
    const group = this.policy === 'always' ? this.waiters.splice(0, 1) : this.waiters.splice(0)
    const needsFsync = this.policy !== 'none' && (this.dirty || (this.policy === 'always' && group[0]!.wrote))
    if (!needsFsync) {
      for (const w of group) w.done()
      this.schedule()
      return
    }
    // Everything the group wrote was appended before now, so this fsync covers it.
    this.dirty = false
    this.fsyncInFlight = true
    const fd = this.fd
    fdatasync(fd, err => {
      this.fsyncInFlight = false
      this.closeRetired()
      // A failed fsync leaves the page cache in an unknown state (PostgreSQL's "fsyncgate"): retrying could report
      // lost data as durable, so the only safe answer is to stop the process and recover from the files.
      if (err !== null) throw new Error(`fdatasync of ${join(this.dir, segmentName(this.segmentSeq))} failed: ${err.message}`)
      this.stats.fsyncs++
      if (this.closed) return
      for (const w of group) w.done()
      this.schedule()
    })
  }

  private fsyncNow(fd: number): void {
    fdatasyncSync(fd)
    this.stats.fsyncs++
  }

  private fsyncDirectory(): void {
    if (this.policy === 'none') return
    const fd = openSync(this.dir, 'r')
    try { fsyncSync(fd) } finally { closeSync(fd) }
  }

  private retire(fd: number): void {
    if (this.fsyncInFlight) this.retired.push(fd)
    else closeSync(fd)
  }

  private closeRetired(): void {
    for (const fd of this.retired) closeSync(fd)
    this.retired = []
  }

  private shutDown(): void {
    this.closed = true
    if (this.scheduled !== null) { clearTimeout(this.scheduled as NodeJS.Timeout); clearImmediate(this.scheduled as NodeJS.Immediate) }
    this.scheduled = null
    this.waiters.length = 0
    this.retire(this.fd)
  }

  private checkOpen(what: string): void {
    if (this.closed) throw new Error(`file storage ${this.dir}: ${what}() after close`)
  }

  // --- recovery ---

  private recover(): { lastSeq: number } {
    for (const name of readdirSync(this.dir)) {
      // A temp file is a replacement that never got renamed: the old file is still the valid one.
      if (name.endsWith(TMP_SUFFIX)) unlinkSync(this.path(name))
    }
    const snapshotPath = this.path(SNAPSHOT_FILE)
    let snapshotBytes: Uint8Array | null = null
    try { snapshotBytes = asUint8Array(readFileSync(snapshotPath)) } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e }
    if (snapshotBytes !== null) {
      // The snapshot file is replaced atomically, so any damage in it is corruption, never a torn write.
      const { records } = scanRecords(snapshotBytes, snapshotPath, false)
      if (records.length !== 1) throw new StorageCorruptionError(snapshotPath, 0, `${records.length} records, expected 1`)
      this.snapshot = this.decoded(snapshotPath, 0, () => decodeSnapshotRecord(records[0]!.payload, snapshotPath))
    }

    const seqs = this.segmentSeqs()
    let markerSeen = false
    for (const [i, seq] of seqs.entries()) {
      const file = this.path(segmentName(seq))
      const last = i === seqs.length - 1
      const bytes = asUint8Array(readFileSync(file))
      const scan = scanRecords(bytes, file, last)
      for (const { offset, payload } of scan.records) {
        const record = this.decoded(file, offset, () => decodeWalRecord(payload, `${file} at byte offset ${offset}`))
        if (record.kind === 'snapshot-marker') {
          const held = this.snapshot
          if (held === null || held.generation < record.generation) {
            throw new StorageCorruptionError(file, offset, `log marks snapshot #${record.generation} but ` +
              `${SNAPSHOT_FILE} holds ${held === null ? 'none' : `#${held.generation}`}`)
          }
          if (held.generation === record.generation) markerSeen = true
        }
        this.applyToState(record, true)
      }
      if (scan.tornTail !== null) {
        truncateSync(file, scan.validLength)
        if (this.policy !== 'none') {
          const fd = openSync(file, 'r+')
          try { fsyncSync(fd) } finally { closeSync(fd) }
        }
        this.stats.tornTail = `${file}: ${scan.tornTail}`
        this.log('cut a torn tail off %s: %s', file, scan.tornTail)
      }
    }
    // The snapshot file is made durable before its marker is logged, and nothing is logged after the snapshot before
    // the marker: a missing marker was lost in a crash at the very end of the log, where it now belongs.
    const snap = this.snapshot
    if (snap !== null && !markerSeen) this.applyToState({ kind: 'snapshot-marker', index: snap.index, generation: snap.generation })
    return { lastSeq: seqs.length === 0 ? 0 : seqs[seqs.length - 1]! }
  }

  private decoded<T>(file: string, offset: number, decode: () => T): T {
    try {
      return decode()
    } catch (e) {
      if (e instanceof CodecError) throw new StorageCorruptionError(file, offset, e.message)
      throw e
    }
  }

  private segmentSeqs(): number[] {
    const seqs: number[] = []
    for (const name of readdirSync(this.dir)) {
      const m = SEGMENT_PATTERN.exec(name)
      if (m !== null) seqs.push(Number(m[1]))
    }
    return seqs.sort((a, b) => a - b)
  }

  // --- the in-memory image of what was written ---

  /** `copy`: the value is a view of a whole file read at recovery; copy it so that buffer can be freed. */
  private applyToState(record: WalRecord, copy = false): void {
    switch (record.kind) {
      case 'put':
        this.hard.set(record.key, copy ? record.value.slice() : record.value)
        break
      case 'entry':
        this.entries.set(record.index, copy ? record.value.slice() : record.value)
        break
      case 'truncate':
        for (const index of this.entries.keys()) if (index >= record.from) this.entries.delete(index)
        break
      case 'snapshot-marker':
        for (const index of this.entries.keys()) if (index <= record.index) this.entries.delete(index)
        break
    }
  }

  private currentState(): DurableState {
    const indexes = [...this.entries.keys()].sort((a, b) => a - b)
    return {
      hard: new Map(this.hard),
      log: indexes.map(index => ({ index, value: this.entries.get(index)! })),
      snapshot: this.snapshot === null ? null
        : { index: this.snapshot.index, meta: this.snapshot.meta, data: this.snapshot.data },
    }
  }

  private path(name: string): string {
    return join(this.dir, name)
  }
}

export function createFileStorage(options: FileStorageOptions): FileStorage {
  return new FileStorage(options)
}

/** Values handed to replicas are plain Uint8Arrays (a Buffer compares and serialises differently). */
function asUint8Array(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length)
}
