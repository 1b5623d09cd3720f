/**
 * The message log: for each sequence number between the watermarks, what this replica knows about it (the paper's
 * log of accepted PRE-PREPARE, PREPARE and COMMIT messages), the certificates derived from it, and its durable form.
 *
 * Votes are kept only for the slot's current view: a replica accepts protocol messages for its own view only, and a
 * NEW-VIEW replaces each slot's pre-prepare. The prepared certificate, in contrast, survives view changes (the one
 * from the highest view is what VIEW-CHANGE reports).
 */
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import { bytesEqual } from '../../core/codec/client-messages.ts'
import type { NodeId } from '../../core/types.ts'
import {
  readPreparedCertificate, writePreparedCertificate,
  type Commit, type PreparedCertificate, type PrePrepare, type Prepare,
} from './messages.ts'

export class Slot {
  readonly seq: number
  /** The accepted PRE-PREPARE of the current view (or the latest one, after a view change). */
  prePrepare: PrePrepare | null = null
  /** PREPAREs of `prePrepare.view` (or of the current view, before the pre-prepare arrives), one per sender. */
  readonly prepares = new Map<NodeId, Prepare>()
  readonly commits = new Map<NodeId, Commit>()
  /** Certificate from the highest view in which this slot prepared here. */
  preparedCertificate: PreparedCertificate | null = null
  /** 2f+1 matching commits and the batch are known: the slot is decided. */
  committed = false
  /** Our own messages for the current pre-prepare, for retransmission and to help laggards. */
  sentPrepare: Prepare | null = null
  sentCommit: Commit | null = null
  /** Ticks at which the current pre-prepare was accepted and at which the slot committed (retransmission timing). */
  acceptedAt = 0
  committedAt = 0
  /** Peers already helped with our messages for this executed slot (each at most once). */
  readonly helped = new Set<NodeId>()

  constructor(seq: number) {
    this.seq = seq
  }

  /** Accept a pre-prepare of a (possibly new) view: the votes of an older view no longer count. */
  accept(prePrepare: PrePrepare): void {
    const oldView = this.prePrepare?.view ?? -1
    this.prePrepare = prePrepare
    if (prePrepare.view !== oldView) {
      for (const [id, p] of this.prepares) if (p.view !== prePrepare.view) this.prepares.delete(id)
      for (const [id, c] of this.commits) if (c.view !== prePrepare.view) this.commits.delete(id)
      this.sentPrepare = null
      this.sentCommit = null
      this.helped.clear()
    }
  }

  /** Prepares that match the pre-prepare (same view and digest), from backups only (the primary's is its pre-prepare). */
  matchingPrepares(primary: NodeId): Prepare[] {
    const pp = this.prePrepare
    if (pp === null) return []
    const out: Prepare[] = []
    for (const p of this.prepares.values()) {
      if (p.replica !== primary && p.view === pp.view && bytesEqual(p.digest, pp.digest)) out.push(p)
    }
    return out
  }

  matchingCommits(): number {
    const pp = this.prePrepare
    if (pp === null) return 0
    let n = 0
    for (const c of this.commits.values()) if (c.view === pp.view && bytesEqual(c.digest, pp.digest)) n++
    return n
  }
}

/** What survives a crash for one slot: the pre-prepare we acted on, the best prepared certificate, and the decision. */
export interface SlotRecord {
  readonly prePrepare: PrePrepare | null
  readonly preparedCertificate: PreparedCertificate | null
  readonly committed: boolean
}

export function encodeSlotRecord(slot: Slot): Uint8Array {
  const w = new BinaryWriter(256)
  w.uvarint(slot.seq)
  w.bool(slot.prePrepare !== null)
  if (slot.prePrepare !== null) writePreparedCertificate(w, { prePrepare: slot.prePrepare, prepares: [] })
  w.bool(slot.preparedCertificate !== null)
  if (slot.preparedCertificate !== null) writePreparedCertificate(w, slot.preparedCertificate)
  w.bool(slot.committed)
  return w.finish()
}

export function decodeSlotRecord(bytes: Uint8Array): SlotRecord & { readonly seq: number } {
  const r = new BinaryReader(bytes, 'PBFT slot record')
  const seq = r.uvarint()
  const prePrepare = r.bool() ? readPreparedCertificate(r).prePrepare : null
  const preparedCertificate = r.bool() ? readPreparedCertificate(r) : null
  const committed = r.bool()
  r.end()
  return { seq, prePrepare, preparedCertificate, committed }
}

/** Slots by sequence number; everything at or below the stable checkpoint is garbage-collected. */
export class MessageLog {
  private readonly slots = new Map<number, Slot>()

  get(seq: number): Slot | undefined {
    return this.slots.get(seq)
  }

  getOrCreate(seq: number): Slot {
    let s = this.slots.get(seq)
    if (s === undefined) {
      s = new Slot(seq)
      this.slots.set(seq, s)
    }
    return s
  }

  /** Drop every slot with seq <= `stableSeq` (the stable checkpoint proves their effect). */
  collectGarbage(stableSeq: number): void {
    for (const seq of this.slots.keys()) if (seq <= stableSeq) this.slots.delete(seq)
  }

  get size(): number {
    return this.slots.size
  }

  values(): IterableIterator<Slot> {
    return this.slots.values()
  }

  /** Slots in increasing seq order. */
  sorted(): Slot[] {
    return [...this.slots.values()].sort((a, b) => a.seq - b.seq)
  }
}
