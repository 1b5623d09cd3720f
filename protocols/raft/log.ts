/**
 * The in-memory Raft log with a snapshot offset: entries after `snapshotIndex` are held in an array, everything up to
 * and including it is covered by the snapshot (only its index and term remain). Indexes start at 1; index 0 with term
 * 0 is the empty log's sentinel, which doubles as the "snapshot" of an uncompacted log.
 */
import type { Entry } from './messages.ts'
import { entrySize } from './messages.ts'

export class RaftLog {
  private entries: Entry[] = []
  private offset = 0
  private offsetTerm = 0

  /** Index of the last entry covered by the snapshot (0 when the log was never compacted). */
  get snapshotIndex(): number { return this.offset }
  get snapshotTerm(): number { return this.offsetTerm }
  get firstIndex(): number { return this.offset + 1 }
  get lastIndex(): number { return this.offset + this.entries.length }
  get lastTerm(): number { return this.term(this.lastIndex)! }
  /** Entries held in memory. */
  get length(): number { return this.entries.length }

  /** Term of the entry at `index`, or undefined if it was compacted away or is beyond the end. */
  term(index: number): number | undefined {
    if (index === this.offset) return this.offsetTerm
    if (index < this.offset || index > this.lastIndex) return undefined
    return this.entries[index - this.offset - 1]!.term
  }

  entry(index: number): Entry | undefined {
    if (index <= this.offset) return undefined
    return this.entries[index - this.offset - 1]
  }

  /**
   * Entries from `from` on, at most `maxCount` of them and (except for the first, which always goes) at most
   * `maxBytes` by the approximate encoded size. `from` must be above the snapshot.
   */
  slice(from: number, maxCount: number, maxBytes: number): Entry[] {
    const out: Entry[] = []
    let bytes = 0
    for (let i = from; i <= this.lastIndex && out.length < maxCount; i++) {
      const e = this.entries[i - this.offset - 1]!
      bytes += entrySize(e)
      if (out.length > 0 && bytes > maxBytes) break
      out.push(e)
    }
    return out
  }

  append(entry: Entry): number {
    this.entries.push(entry)
    return this.lastIndex
  }

  /** Drop every entry with index >= from (a conflicting suffix). */
  truncateFrom(from: number): void {
    if (from <= this.offset) throw new Error(`raft log: cannot truncate at ${from}, compacted through ${this.offset}`)
    this.entries.length = Math.max(0, from - this.offset - 1)
  }

  /** Drop the prefix through `index` (now covered by a snapshot); keeps later entries. */
  compact(index: number): void {
    if (index <= this.offset) return
    if (index > this.lastIndex) throw new Error(`raft log: cannot compact through ${index}, last index ${this.lastIndex}`)
    const term = this.term(index)!
    this.entries = this.entries.slice(index - this.offset)
    this.offset = index
    this.offsetTerm = term
  }

  /** Replace the whole log by a snapshot's position (InstallSnapshot, or recovery). */
  resetTo(index: number, term: number): void {
    this.entries = []
    this.offset = index
    this.offsetTerm = term
  }

  /** Raft §5.4.1: is a log ending at (lastTerm, lastIndex) at least as up to date as this one? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex)
  }
}
