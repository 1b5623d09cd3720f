/**
 * The write-ahead log of a data directory, shared by one or more consensus groups: PersistOps of every group in one
 * log, plus one snapshot file per group (format in record-framing.ts and wal-codec.ts). FileStorage (file-storage.ts)
 * is its single-group face, GroupedFileStorage (grouped-file-storage.ts) its multi-group one; one machinery, so a
 * single-group directory is exactly a grouped directory holding only group 0.
 *
 *   dir/LOCK                       who has the directory open (dir-lock.ts)
 *   dir/wal-0000000000000001.log   log segment: preallocated to `segmentBytes`, checksummed numbered records, each
 *                                  naming its group (group 0 implicitly, wal-codec.ts)
 *   dir/snapshot.bin               group 0's newest snapshot, one checksummed record, replaced atomically
 *   dir/snapshot-<group>.bin       the same for every other group that has one
 *
 * Writes are encoded at write() and kept in memory; sync() writes them at the current end of the log (positional
 * writes into the preallocated segment, never append mode) and then makes them durable according to the fsync
 * policy before calling `done`. A sync() of any group writes every group's pending writes, and the fsync it waits for
 * covers them all: group commit across groups.
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
 * A record that does not fit in the current segment goes to a new one (preallocated, and durable with its header
 * before any record is written to it), after the current one is made durable, so only the last segment can end in a
 * torn append. Preallocation is what lets recovery see a log cut short: every segment's size is in its checksummed
 * header (etcd preallocates 64 MiB segments; we default to 16 MiB because recovery reads whole segments).
 *
 * A snapshot op is written to `snapshot.bin.tmp` (`snapshot-<group>.bin.tmp`), fsynced, renamed over the group's
 * snapshot file, and the directory fsynced; only then is a snapshot marker of that group written to the log (so any
 * crash leaves a prefix of the writes). A group's marker drops only that group's log records.
 *
 * Compaction writes the live state of every group (hard records, snapshot markers and the log records above each
 * snapshot) to a new base segment through a temporary file and rename, and deletes the older segments, so the log
 * does not grow forever. When:
 * - one group (FileStorage): at the end of every sync that wrote a snapshot, as it always has;
 * - many groups: when the log since the base segment holds more dead bytes (overwritten, truncated, forgotten or
 *   covered by a snapshot) than live ones, and more than one segment's worth. Compacting at every group's snapshot
 *   would rewrite all groups' state once per group (quadratic in the number of groups). Under this rule a compaction
 *   runs only when the log is more than half dead, so the live bytes it rewrites are less than half of the log: all
 *   compactions together rewrite fewer bytes than were appended (plus the live state at open), and the log stays
 *   below about twice the live state plus a segment. The live bytes are counted exactly as compaction would write
 *   them (group-image.ts), the log's bytes from the newest base segment on.
 *
 * Recovery replays the segments from the newest base segment on (older ones are leftovers of a compaction that
 * crashed before deleting them), each record into its group's image; every group in the log is recovered, whether
 * or not anyone asks for it. A torn append at the end of the last segment is cut off by zeroing it (the size
 * stays); damage anywhere else refuses to start with a StorageCorruptionError naming the file and byte offset, and
 * leaves every file as it was for inspection.
 */
import {
  closeSync, fdatasync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync,
  readFileSync, readSync, renameSync, unlinkSync, writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { CodecError, ConfigError } from '../errors.ts'
import { createLogger } from '../logger.ts'
import type { Logger } from '../logger.ts'
import { EMPTY_DURABLE_STATE } from '../storage.ts'
import type { DurableState, PersistOp } from '../storage.ts'
import { lockDirectory } from './dir-lock.ts'
import type { DirectoryLock } from './dir-lock.ts'
import { GroupImage } from './group-image.ts'
import {
  decodeSegmentHeader, decodeSnapshotFile, encodeSegmentHeader, encodeSnapshotFile, recordPayload, scanSegment,
  sealRecord, SEGMENT_HEADER_BYTES, StorageCorruptionError,
} from './record-framing.ts'
import type { SegmentHeader } from './record-framing.ts'
import { decodeSnapshotRecord, decodeWalRecord, encodeSnapshotRecord, encodeWalRecord, MAX_GROUP } from './wal-codec.ts'
import type { SnapshotFileRecord } from './wal-codec.ts'

export type FsyncPolicy = 'always' | 'batch' | 'none'
export const FSYNC_POLICIES: readonly FsyncPolicy[] = ['always', 'batch', 'none']

export interface FileStorageOptions {
  readonly dir: string
  /** Default 'always'. */
  readonly fsync?: FsyncPolicy
  /** 'batch' only: how long the first sync() of a group waits for others to join it. Default 0: start at once. */
  readonly batchWindowMs?: number
  /**
   * Size a new log segment is preallocated to (a record larger than that gets a segment of its own size). Default
   * 16 MiB; tests use a few KiB to exercise roll-over.
   */
  readonly segmentBytes?: number
  readonly logger?: Logger
  /** Called with the duration in seconds of every fdatasync of the log (metrics: the WAL fsync histogram). */
  readonly onFsync?: (seconds: number) => void
}

export interface FileStorageStats {
  fsyncs: number
  /** Bytes appended to log segments (compaction rewrites included) and snapshot files. */
  bytesWritten: number
  compactions: number
  /** What recovery cut off (zeroed at) the end of the log, or null. */
  tornTail: string | null
  /** A stale lock of a dead process that opening took over, or null. */
  staleLockTakenOver: string | null
}

const TMP_SUFFIX = '.tmp'
const SEGMENT_PATTERN = /^wal-(\d{16})\.log$/
/** `snapshot.bin` is group 0's; group g > 0 has `snapshot-<g>.bin` (no leading zeros: one name per group). */
const SNAPSHOT_PATTERN = /^snapshot(?:-([1-9]\d*))?\.bin$/
const DEFAULT_BATCH_WINDOW_MS = 0
const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024
const MIN_SEGMENT_BYTES = 256
const MAX_SEGMENT_BYTES = 2 ** 40
const ZERO_CHUNK = new Uint8Array(1 << 16)

function segmentName(seq: number): string {
  return `wal-${String(seq).padStart(16, '0')}.log`
}

export function snapshotFileName(group: number): string {
  return group === 0 ? 'snapshot.bin' : `snapshot-${group}.bin`
}

interface PendingSnapshot {
  readonly group: number
  readonly snapshot: SnapshotFileRecord
  readonly record: Uint8Array
}

interface Waiter {
  readonly done: () => void
  /** This sync() appended bytes ('always' fsyncs once per such call). */
  readonly wrote: boolean
}

/** How the directory is opened: by FileStorage (group 0 only, compaction at every snapshot) or by the grouped storage. */
export type WalMode = 'single-group' | 'grouped'

export class SharedWal {
  readonly dir: string
  readonly policy: FsyncPolicy
  readonly stats: FileStorageStats = { fsyncs: 0, bytesWritten: 0, compactions: 0, tornTail: null, staleLockTakenOver: null }
  private readonly batchWindowMs: number
  private readonly onFsync: ((seconds: number) => void) | undefined
  private readonly segmentBytes: number
  private readonly lock: DirectoryLock
  private readonly log: Logger
  private readonly mode: WalMode

  /** Everything written so far (durable or not), by group: what a compaction rewrites and load() answers from. */
  private readonly images = new Map<number, GroupImage>()
  /** Bytes of the records in the segments from the newest base segment on: what recovery would replay. */
  private logBytes = 0
  /** The images' liveBytes summed (kept up to date at every write: the compaction rule reads it at every sync). */
  private liveBytes = 0

  private pending: Array<Uint8Array | PendingSnapshot> = []
  private segmentSeq = 0
  private fd = -1
  /** The current segment's preallocated size, and where its next record goes. */
  private segmentSize = 0
  private writeOffset = 0
  /** The seq of the next record written (record seqs are consecutive over the whole log). */
  private nextRecordSeq = 1
  /** Bytes appended since the last fsync started. */
  private dirty = false
  private readonly waiters: Waiter[] = []
  private fsyncInFlight = false
  private scheduled: NodeJS.Timeout | NodeJS.Immediate | null = null
  /** Descriptors replaced while an fsync on them was running: closed when it finishes. */
  private retired: number[] = []
  private closed = false

  constructor(options: FileStorageOptions, mode: WalMode) {
    if (typeof options.dir !== 'string' || options.dir === '') throw new ConfigError('dir', 'expected a directory path')
    const policy = options.fsync ?? 'always'
    if (!FSYNC_POLICIES.includes(policy)) {
      throw new ConfigError('fsync', `expected one of ${FSYNC_POLICIES.join(', ')}, got ${JSON.stringify(policy)}`)
    }
    const window = options.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS
    if (typeof window !== 'number' || !Number.isFinite(window) || window < 0 || window > 10_000) {
      throw new ConfigError('batchWindowMs', `expected milliseconds from 0 to 10000, got ${JSON.stringify(window)}`)
    }
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES
    if (!Number.isInteger(segmentBytes) || segmentBytes < MIN_SEGMENT_BYTES || segmentBytes > MAX_SEGMENT_BYTES) {
      throw new ConfigError('segmentBytes', `expected an integer from ${MIN_SEGMENT_BYTES} to ${MAX_SEGMENT_BYTES}, got ${JSON.stringify(segmentBytes)}`)
    }
    this.dir = options.dir
    this.policy = policy
    this.batchWindowMs = window
    this.onFsync = options.onFsync
    this.segmentBytes = segmentBytes
    this.log = options.logger ?? createLogger('consensus:storage')
    this.mode = mode

    mkdirSync(this.dir, { recursive: true })
    // Before recovery: recovery cuts torn tails and deletes leftovers, which must not happen under a running replica.
    this.lock = lockDirectory(this.dir)
    this.stats.staleLockTakenOver = this.lock.tookOver
    if (this.lock.tookOver !== null) this.log('%s: took over the %s', this.dir, this.lock.tookOver)
    try {
      this.recover()
      if (this.fd < 0) {
        this.createSegment(1, this.segmentBytes, 1, true, [])
        this.openSegment(1, this.segmentBytes, SEGMENT_HEADER_BYTES)
      }
    } catch (e) {
      if (this.fd >= 0) closeSync(this.fd)
      this.lock.release()
      throw e
    }
  }

  /** Everything group `group` wrote so far (at open: what was recovered). */
  state(group: number): DurableState {
    return this.images.get(group)?.state() ?? EMPTY_DURABLE_STATE
  }

  /** Groups with an image (recovered or written), ascending. */
  groups(): number[] {
    return [...this.images.keys()].sort((a, b) => a - b)
  }

  write(group: number, ops: readonly PersistOp[]): void {
    this.checkOpen('write')
    for (const op of ops) {
      const image = this.imageOf(group)
      const liveBefore = image.liveBytes
      if (op.kind === 'snapshot') {
        // Never replace a newer snapshot with an older one (a late InstallSnapshot), as the memory storage does.
        if (image.snapshot !== null && image.snapshot.index > op.index) continue
        const generation = (image.snapshot?.generation ?? 0) + 1
        const record = encodeSnapshotRecord({ index: op.index, generation, meta: op.meta, data: op.data })
        const snapshot = decodeSnapshotRecord(recordPayload(record), 'new snapshot')
        image.apply({ kind: 'snapshot-marker', index: op.index, generation })
        image.snapshot = snapshot
        this.pending.push({ group, snapshot, record })
      } else {
        const record = encodeWalRecord(op, group)
        image.apply(decodeWalRecord(recordPayload(record), 'new record').record)
        this.pending.push(record)
      }
      this.liveBytes += image.liveBytes - liveBefore
    }
  }

  sync(done: () => void): void {
    this.checkOpen('sync')
    const wrote = this.flush()
    this.waiters.push({ done, wrote })
    this.schedule()
  }

  /**
   * Make every write so far durable now (unless the policy is 'none'), synchronously: what closing one group's view
   * needs while the others go on. Pending sync callbacks still run as usual. Nothing to do once closed.
   */
  persist(): void {
    if (this.closed) return
    const wrote = this.flush()
    // An fsync under way may have started before these bytes were written, or not yet covered them.
    if (this.policy !== 'none' && (wrote || this.dirty || this.fsyncInFlight)) this.fsyncNow(this.fd)
    this.dirty = false
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

  /** Write pending records (and install pending snapshots); returns whether any byte was written. */
  private flush(): boolean {
    if (this.pending.length === 0) return false
    const items = this.pending
    this.pending = []
    const records: Uint8Array[] = []
    let snapshotWritten = false
    for (const item of items) {
      if (item instanceof Uint8Array) { records.push(item); continue }
      // The log records before the snapshot must be durable before it, so a crash leaves a prefix of the writes.
      if (records.length > 0) {
        this.append(records)
        records.length = 0
        if (this.policy !== 'none') this.fsyncNow(this.fd)
      }
      this.writeSnapshotFile(item.group, item.record)
      records.push(encodeWalRecord({ kind: 'snapshot-marker', index: item.snapshot.index, generation: item.snapshot.generation }, item.group))
      snapshotWritten = true
    }
    this.append(records)
    if (this.mode === 'single-group' ? snapshotWritten : this.mostlyDead()) this.compact()
    return true
  }

  /** The grouped compaction rule (header comment): more dead bytes than live ones, and more than a segment. */
  private mostlyDead(): boolean {
    const live = this.liveBytes
    const dead = this.logBytes - live
    return dead > live && dead > this.segmentBytes
  }

  /** Seal `records` with the next seqs and write them at the end of the log, rolling over to new segments as needed. */
  private append(records: readonly Uint8Array[]): void {
    let chunk: Uint8Array[] = []
    let start = this.writeOffset
    for (const record of records) {
      if (this.writeOffset + record.length > this.segmentSize) {
        this.writeAt(chunk, start)
        chunk = []
        this.rollOver(record.length)
        start = this.writeOffset
      }
      chunk.push(sealRecord(record, this.nextRecordSeq++))
      this.writeOffset += record.length
      this.logBytes += record.length
    }
    this.writeAt(chunk, start)
  }

  private writeAt(chunks: readonly Uint8Array[], position: number): void {
    if (chunks.length === 0) return
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
    writeFully(this.fd, bytes, position)
    this.stats.bytesWritten += bytes.length
    this.dirty = true
  }

  /** The current segment is full: make it durable, then continue in a new one that fits at least `recordBytes`. */
  private rollOver(recordBytes: number): void {
    // Only the last segment may end in a torn append: recovery treats any damage in an earlier one as corruption.
    if (this.policy !== 'none') this.fsyncNow(this.fd)
    const seq = this.segmentSeq + 1
    const size = Math.max(this.segmentBytes, SEGMENT_HEADER_BYTES + recordBytes)
    this.createSegment(seq, size, this.nextRecordSeq, false, [])
    this.retire(this.fd)
    this.openSegment(seq, size, SEGMENT_HEADER_BYTES)
    this.log('rolled over to %s', segmentName(seq))
  }

  /**
   * Create segment `seq` durably: header and (sealed) records written to a temp file preallocated to `size`, fsynced,
   * renamed, directory fsynced. A crash part way leaves only a temp file, which recovery deletes.
   */
  private createSegment(seq: number, size: number, firstRecordSeq: number, base: boolean, records: readonly Uint8Array[]): void {
    const tmp = this.path(segmentName(seq) + TMP_SUFFIX)
    const fd = openSync(tmp, 'w')
    try {
      // Sparse where the file system allows: the zeros cost nothing until written.
      ftruncateSync(fd, size)
      writeFully(fd, encodeSegmentHeader({ seq, size, firstRecordSeq, base }), 0)
      if (records.length > 0) writeFully(fd, Buffer.concat(records), SEGMENT_HEADER_BYTES)
      if (this.policy !== 'none') fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, this.path(segmentName(seq)))
    this.fsyncDirectory()
  }

  private openSegment(seq: number, size: number, writeOffset: number): void {
    this.fd = openSync(this.path(segmentName(seq)), 'r+')
    this.segmentSeq = seq
    this.segmentSize = size
    this.writeOffset = writeOffset
  }

  private writeSnapshotFile(group: number, record: Uint8Array): void {
    const bytes = encodeSnapshotFile(record)
    this.replaceFile(snapshotFileName(group), bytes)
    this.stats.bytesWritten += bytes.length
    this.log('%s replaced (%d bytes)', snapshotFileName(group), bytes.length)
  }

  /** Write `name` atomically: temp file, fsync, rename, fsync the directory (no fsyncs under 'none'). */
  private replaceFile(name: string, bytes: Uint8Array): void {
    const tmp = this.path(name + TMP_SUFFIX)
    const fd = openSync(tmp, 'w')
    try {
      writeFully(fd, bytes, 0)
      if (this.policy !== 'none') fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, this.path(name))
    this.fsyncDirectory()
  }

  /** Rewrite the live state of every group into a new base segment and delete the older ones. */
  private compact(): void {
    const records: Uint8Array[] = []
    for (const group of this.groups()) {
      for (const record of this.images.get(group)!.liveRecords()) records.push(encodeWalRecord(record, group))
    }
    const firstRecordSeq = this.nextRecordSeq
    let bytes = 0
    for (const record of records) { sealRecord(record, this.nextRecordSeq++); bytes += record.length }
    const seq = this.segmentSeq + 1
    const size = Math.max(this.segmentBytes, SEGMENT_HEADER_BYTES + bytes)
    // Every write so far is in the new segment, which createSegment made durable: nothing is left to fsync.
    this.createSegment(seq, size, firstRecordSeq, true, records)
    this.stats.bytesWritten += bytes
    this.logBytes = bytes
    this.stats.compactions++
    this.retire(this.fd)
    this.openSegment(seq, size, SEGMENT_HEADER_BYTES + bytes)
    this.dirty = false
    // Recovery starts at the newest base segment, so a crash part way through leaves leftovers it ignores.
    for (const old of this.segmentSeqs()) if (old < seq) unlinkSync(this.path(segmentName(old)))
    this.log('compacted the log into %s (%d bytes)', segmentName(seq), bytes)
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
    const started = this.onFsync === undefined ? 0 : performance.now()
    fdatasync(fd, err => {
      this.fsyncInFlight = false
      if (this.onFsync !== undefined && err === null) this.onFsync((performance.now() - started) / 1000)
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
    const started = this.onFsync === undefined ? 0 : performance.now()
    fdatasyncSync(fd)
    this.stats.fsyncs++
    this.onFsync?.((performance.now() - started) / 1000)
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
    this.lock.release()
  }

  private checkOpen(what: string): void {
    if (this.closed) throw new Error(`file storage ${this.dir}: ${what}() after close`)
  }

  // --- recovery ---

  /** Read the directory; only once everything checked out, cut a torn tail and delete leftovers (a refusal changes nothing). */
  private recover(): void {
    let firstSnapshot: string | null = null
    for (const name of readdirSync(this.dir).sort()) {
      const m = SNAPSHOT_PATTERN.exec(name)
      if (m === null) continue
      const group = m[1] === undefined ? 0 : Number(m[1])
      if (group > MAX_GROUP) continue
      this.checkGroupMode(group, name)
      const snapshotPath = this.path(name)
      // The snapshot file is replaced atomically, so any damage in it is corruption, never a torn write.
      const payload = decodeSnapshotFile(asUint8Array(readFileSync(snapshotPath)), snapshotPath)
      this.imageOf(group).snapshot = this.decoded(snapshotPath, 0, () => decodeSnapshotRecord(payload, snapshotPath))
      firstSnapshot ??= name
    }

    const seqs = this.segmentSeqs()
    if (seqs.length === 0) {
      if (firstSnapshot !== null) {
        throw new StorageCorruptionError(this.dir, 0, `${firstSnapshot} exists but there is no log segment (deleted?)`)
      }
      this.deleteTempFiles()
      return
    }
    // The newest base segment holds the whole live state; anything before it is superseded (headers only here).
    let baseAt = -1
    for (let i = seqs.length - 1; i >= 0 && baseAt < 0; i--) {
      const file = this.path(segmentName(seqs[i]!))
      const header = readSegmentHeader(file)
      if (header.seq !== seqs[i]) throw new StorageCorruptionError(file, 8, `header names segment ${header.seq}`)
      if (header.base) baseAt = i
    }
    if (baseAt < 0) {
      throw new StorageCorruptionError(this.path(segmentName(seqs[0]!)), 0, 'no base segment: the segment the log ' +
        'starts with (or the compaction that replaced it) is missing')
    }
    /** Groups whose snapshot file's own marker is in the log. */
    const markerSeen = new Set<number>()
    let expectedFirst = -1
    for (let i = baseAt; i < seqs.length; i++) {
      const seq = seqs[i]!
      const file = this.path(segmentName(seq))
      if (i > baseAt && seq !== seqs[i - 1]! + 1) {
        throw new StorageCorruptionError(file, 0, `segment ${seqs[i - 1]! + 1} is missing`)
      }
      const last = i === seqs.length - 1
      const scan = scanSegment(asUint8Array(readFileSync(file)), file, last)
      if (expectedFirst >= 0 && scan.header.firstRecordSeq !== expectedFirst) {
        throw new StorageCorruptionError(file, 24, `first record is #${scan.header.firstRecordSeq} but the previous ` +
          `segment ends before #${expectedFirst} (records lost at the end of segment ${seqs[i - 1]})`)
      }
      expectedFirst = scan.nextRecordSeq
      this.logBytes += scan.end - SEGMENT_HEADER_BYTES
      for (const { offset, payload } of scan.records) {
        const { group, record } = this.decoded(file, offset, () => decodeWalRecord(payload, `${file} at byte offset ${offset}`))
        this.checkGroupMode(group, `${file} at byte offset ${offset}`)
        const image = this.imageOf(group)
        if (record.kind === 'snapshot-marker') {
          const held = image.snapshot
          if (held === null || held.generation < record.generation) {
            throw new StorageCorruptionError(file, offset, `log marks snapshot #${record.generation}${group === 0 ? '' : ` of group ${group}`} ` +
              `but ${snapshotFileName(group)} holds ${held === null ? 'none' : `#${held.generation}`}`)
          }
          if (held.generation === record.generation) markerSeen.add(group)
        }
        image.apply(record, true)
      }
      if (last) {
        this.openSegment(seq, scan.header.size, scan.end)
        this.nextRecordSeq = scan.nextRecordSeq
        if (scan.tail !== null) {
          // Zero it rather than truncate: the segment keeps the size its header promises.
          for (let at = scan.end; at < scan.tail.zeroTo; at += ZERO_CHUNK.length) {
            writeFully(this.fd, ZERO_CHUNK.subarray(0, Math.min(ZERO_CHUNK.length, scan.tail.zeroTo - at)), at)
          }
          if (this.policy !== 'none') this.fsyncNow(this.fd)
          this.stats.tornTail = `${file}: ${scan.tail.reason}`
          this.log('cut a torn tail off %s: %s', file, scan.tail.reason)
        }
      }
    }
    // Leftovers of a compaction that crashed before deleting them.
    for (let i = 0; i < baseAt; i++) unlinkSync(this.path(segmentName(seqs[i]!)))
    if (baseAt > 0) this.fsyncDirectory()
    this.deleteTempFiles()
    // The snapshot file is made durable before its marker is logged, and nothing is logged after the snapshot before
    // the marker: a missing marker was lost in a crash at the very end of the log, where it now belongs.
    for (const [group, image] of this.images) {
      const snap = image.snapshot
      if (snap !== null && !markerSeen.has(group)) image.apply({ kind: 'snapshot-marker', index: snap.index, generation: snap.generation })
      this.liveBytes += image.liveBytes
    }
  }

  /** FileStorage opens only single-group directories: it would otherwise compact, and answer for, group 0 alone. */
  private checkGroupMode(group: number, where: string): void {
    if (this.mode === 'single-group' && group !== 0) {
      throw new ConfigError('dir', `${this.dir} holds the shared log of several consensus groups (group ${group} in ` +
        `${where}): open it with createGroupedFileStorage`)
    }
  }

  /** A temp file is a replacement or a new segment that never got renamed: the old state is still the valid one. */
  private deleteTempFiles(): void {
    for (const name of readdirSync(this.dir)) if (name.endsWith(TMP_SUFFIX)) unlinkSync(this.path(name))
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

  private imageOf(group: number): GroupImage {
    let image = this.images.get(group)
    if (image === undefined) { image = new GroupImage(group); this.images.set(group, image) }
    return image
  }

  private path(name: string): string {
    return join(this.dir, name)
  }
}

function readSegmentHeader(file: string): SegmentHeader {
  const fd = openSync(file, 'r')
  try {
    const bytes = new Uint8Array(SEGMENT_HEADER_BYTES)
    const read = readSync(fd, bytes, 0, bytes.length, 0)
    return decodeSegmentHeader(bytes.subarray(0, read), file, fstatSync(fd).size)
  } finally {
    closeSync(fd)
  }
}

function writeFully(fd: number, bytes: Uint8Array, position: number): void {
  let written = 0
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written, position + written)
}

/** Values handed to replicas are plain Uint8Arrays (a Buffer compares and serialises differently). */
function asUint8Array(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length)
}
