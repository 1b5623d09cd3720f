/**
 * The slot log every replica keeps: per slot, what its acceptor accepted and what its learner knows to be chosen,
 * plus the snapshot that replaced every slot up to `snapshotIndex`. The log only holds slots above the snapshot, so
 * its size is bounded by the snapshot interval plus the leader's window.
 */
import type { CommittedEntry } from '../../core/types.ts'
import { ZERO_BALLOT } from './ballot.ts'
import type { Ballot } from './ballot.ts'
import type { Batch } from './messages.ts'

export interface SlotRecord {
  /** Acceptor: the ballot of the last value accepted here (ZERO_BALLOT when none). */
  acceptedBallot: Ballot
  acceptedValue: Batch | null
  /** Learner: the chosen value once known. Never changes after it is set. */
  chosenValue: Batch | null
}

export class SlotLog {
  private readonly slots = new Map<number, SlotRecord>()
  /** Highest slot such that it and every slot below it are chosen (and handed to the host). */
  commitIndex = 0
  /** Slots up to here live only in the snapshot. */
  snapshotIndex = 0
  snapshotData: Uint8Array = new Uint8Array(0)
  /** Highest slot with any record (accepted or chosen), or the snapshot index. */
  maxSlot = 0

  get size(): number {
    return this.slots.size
  }

  get(slot: number): SlotRecord | undefined {
    return this.slots.get(slot)
  }

  private getOrCreate(slot: number): SlotRecord {
    let rec = this.slots.get(slot)
    if (rec === undefined) {
      rec = { acceptedBallot: ZERO_BALLOT, acceptedValue: null, chosenValue: null }
      this.slots.set(slot, rec)
      if (slot > this.maxSlot) this.maxSlot = slot
    }
    return rec
  }

  isChosen(slot: number): boolean {
    return slot <= this.commitIndex || this.slots.get(slot)?.chosenValue != null
  }

  chosenValue(slot: number): Batch | null {
    return this.slots.get(slot)?.chosenValue ?? null
  }

  /** Record an acceptance (the caller checked the promise and persists it). */
  accept(slot: number, ballot: Ballot, value: Batch): void {
    const rec = this.getOrCreate(slot)
    rec.acceptedBallot = ballot
    rec.acceptedValue = value
  }

  /** Learn that `value` is chosen at `slot`. Returns false when the slot was already known (or compacted). */
  learn(slot: number, value: Batch): boolean {
    if (slot <= this.commitIndex) return false
    const rec = this.getOrCreate(slot)
    if (rec.chosenValue !== null) return false
    rec.chosenValue = value
    return true
  }

  /** Move the commit index over every newly contiguous chosen slot, handing each to `emit` in order. */
  advance(emit: (entry: CommittedEntry) => void): void {
    for (;;) {
      const next = this.slots.get(this.commitIndex + 1)
      if (next === undefined || next.chosenValue === null) return
      this.commitIndex++
      emit({ index: this.commitIndex, requests: next.chosenValue })
    }
  }

  /** Keep `data` as the snapshot after `index` and forget every slot up to it. */
  compact(index: number, data: Uint8Array): void {
    if (index <= this.snapshotIndex) return
    for (const slot of this.slots.keys()) if (slot <= index) this.slots.delete(slot)
    this.snapshotIndex = index
    this.snapshotData = data
    if (this.commitIndex < index) this.commitIndex = index
    if (this.maxSlot < index) this.maxSlot = index
  }

  /** Chosen values from `from` on, contiguous, at most `maxCount` slots and about `maxBytes` of ops. */
  chosenRange(from: number, maxCount: number, maxBytes: number): Array<{ slot: number; value: Batch }> {
    const out: Array<{ slot: number; value: Batch }> = []
    let bytes = 0
    for (let slot = Math.max(from, this.snapshotIndex + 1); out.length < maxCount && bytes < maxBytes; slot++) {
      const value = this.slots.get(slot)?.chosenValue
      if (value == null) break
      out.push({ slot, value })
      for (const r of value) bytes += r.op.length + 16
    }
    return out
  }

  /** Every slot record from `from` on (for Promises). */
  *recordsFrom(from: number): Iterable<[number, SlotRecord]> {
    for (const entry of this.slots) if (entry[0] >= from) yield entry
  }
}
