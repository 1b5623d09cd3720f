/**
 * The acceptor role: the only durable state Paxos needs for safety. It persists the promised ballot (hard record
 * 'promised') and each accepted (ballot, value) (log record at the slot) in the same Ready as the Promise or Accepted
 * reply that depends on it; the host syncs that Ready's writes before its messages leave, so a restarted acceptor
 * never contradicts what it told anyone.
 */
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import type { ReadyBuffer } from '../../core/ready.ts'
import type { DurableState } from '../../core/storage.ts'
import { ZERO_BALLOT, compareBallots, readBallot, writeBallot } from './ballot.ts'
import type { Ballot } from './ballot.ts'
import type { SlotLog } from './log.ts'
import { readBatch, writeBatch } from './messages.ts'
import type { Batch, MultiPaxosMessage, PromisedSlot } from './messages.ts'

export const PROMISED_KEY = 'promised'

export function encodePromised(b: Ballot): Uint8Array {
  const w = new BinaryWriter(12)
  writeBallot(w, b)
  return w.finish()
}

export function decodePromised(bytes: Uint8Array): Ballot {
  const r = new BinaryReader(bytes, 'multipaxos promised ballot')
  const b = readBallot(r)
  r.end()
  return b
}

export function encodeAccepted(ballot: Ballot, value: Batch): Uint8Array {
  const w = new BinaryWriter(64)
  writeBallot(w, ballot)
  writeBatch(w, value)
  return w.finish()
}

export function decodeAccepted(bytes: Uint8Array): { ballot: Ballot; value: Batch } {
  const r = new BinaryReader(bytes, 'multipaxos accepted slot')
  const ballot = readBallot(r)
  const value = readBatch(r)
  r.end()
  return { ballot, value }
}

/** What happened to an Accept. */
export type AcceptOutcome = 'accepted' | 'rejected' | 'chosen'

export class Acceptor {
  private promisedBallot: Ballot = ZERO_BALLOT
  private readonly log: SlotLog
  private readonly out: ReadyBuffer<MultiPaxosMessage>

  constructor(log: SlotLog, out: ReadyBuffer<MultiPaxosMessage>, recovered: DurableState) {
    this.log = log
    this.out = out
    const promised = recovered.hard.get(PROMISED_KEY)
    if (promised !== undefined) this.promisedBallot = decodePromised(promised)
    const snapshotIndex = recovered.snapshot?.index ?? 0
    for (const rec of recovered.log) {
      if (rec.index <= snapshotIndex) continue
      const { ballot, value } = decodeAccepted(rec.value)
      log.accept(rec.index, ballot, value)
      // An accepted ballot is an implicit promise; keep the invariant promised >= every accepted ballot.
      if (compareBallots(ballot, this.promisedBallot) > 0) this.promisedBallot = ballot
    }
  }

  get promised(): Ballot {
    return this.promisedBallot
  }

  /**
   * Phase 1b: promise `ballot` if it is at least the current promise. Returns the slots to report from `fromSlot`
   * on, or null when refused.
   */
  promise(ballot: Ballot, fromSlot: number): PromisedSlot[] | null {
    if (compareBallots(ballot, this.promisedBallot) < 0) return null
    this.raisePromise(ballot)
    const slots: PromisedSlot[] = []
    for (const [slot, rec] of this.log.recordsFrom(fromSlot)) {
      if (rec.chosenValue !== null) slots.push({ slot, ballot: rec.acceptedBallot, chosen: true, value: rec.chosenValue })
      else if (rec.acceptedValue !== null) slots.push({ slot, ballot: rec.acceptedBallot, chosen: false, value: rec.acceptedValue })
    }
    return slots
  }

  /**
   * Phase 2b. A slot this replica already knows chosen (or compacted) is not overwritten: the caller tells the
   * proposer the chosen value instead of acknowledging, so the learner's chosen value never changes.
   */
  accept(ballot: Ballot, slot: number, value: Batch): AcceptOutcome {
    if (this.log.isChosen(slot)) return 'chosen'
    if (compareBallots(ballot, this.promisedBallot) < 0) return 'rejected'
    this.raisePromise(ballot)
    this.log.accept(slot, ballot, value)
    this.out.persist({ kind: 'entry', index: slot, value: encodeAccepted(ballot, value) })
    return 'accepted'
  }

  private raisePromise(ballot: Ballot): void {
    if (compareBallots(ballot, this.promisedBallot) <= 0) return
    this.promisedBallot = ballot
    this.out.persist({ kind: 'put', key: PROMISED_KEY, value: encodePromised(ballot) })
  }
}
