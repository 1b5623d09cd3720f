/**
 * The leader's read-only path (dissertation §6.4; etcd-io/raft's read_only.go): ReadIndex reads wait for a heartbeat
 * round that a quorum acknowledges, which proves no newer leader existed when the read arrived; lease reads skip the
 * round while acknowledgements of recent rounds still hold other candidates off. The replica decides when rounds go
 * out and who acknowledged what; this file keeps the reads and the rounds' send times.
 */
import type { ClientRequest, NodeId } from '../../core/types.ts'

export interface PendingRead {
  readonly request: ClientRequest
  readonly from: NodeId
  /** The leader's commitIndex when the read was placed: the state to read must include it. */
  index: number
}

interface ReadBatch {
  /** The heartbeat round whose quorum of acknowledgements confirms leadership for these reads. */
  readonly round: number
  readonly reads: PendingRead[]
}

export class ReadOnly {
  private round = 0
  /** Send tick of each recent heartbeat round (a lease starts at the round a quorum acknowledged). */
  private readonly roundSentAt = new Map<number, number>()
  /** Reads that arrived before this leader committed an entry of its own term: its commit index may still lag. */
  private awaitingTermCommit: PendingRead[] = []
  /** Placed reads waiting for the next heartbeat round. */
  private unsent: PendingRead[] = []
  /** Reads riding on a round, oldest round first. */
  private batches: ReadBatch[] = []
  private readonly electionTicks: number

  constructor(electionTicks: number) {
    this.electionTicks = electionTicks
  }

  awaitTermCommit(read: PendingRead): void {
    this.awaitingTermCommit.push(read)
  }

  /** The leader committed an entry of its term: reads that waited for it can be placed now. */
  takeAwaitingTermCommit(): PendingRead[] {
    const waiting = this.awaitingTermCommit
    this.awaitingTermCommit = []
    return waiting
  }

  /** Queue a placed read for the next heartbeat round. */
  queue(read: PendingRead): void {
    this.unsent.push(read)
  }

  /** Whether reads wait and no round is in flight: one round at a time, so reads arriving meanwhile share the next. */
  needsRound(): boolean {
    return this.batches.length === 0 && this.unsent.length > 0
  }

  /** A heartbeat round goes out at `now`: queued reads ride on it. Returns the round number to send. */
  startRound(now: number): number {
    const round = ++this.round
    this.roundSentAt.set(round, now)
    // Rounds older than an election timeout can no longer extend a lease.
    for (const [r, at] of this.roundSentAt) {
      if (at < now - this.electionTicks) this.roundSentAt.delete(r)
      else break
    }
    if (this.unsent.length > 0) {
      this.batches.push({ round, reads: this.unsent })
      this.unsent = []
    }
    return round
  }

  /** Reads whose round `acknowledged` says a quorum confirmed, in order (a later round confirms the earlier ones). */
  takeConfirmed(acknowledged: (round: number) => boolean): PendingRead[] {
    const out: PendingRead[] = []
    while (this.batches.length > 0 && acknowledged(this.batches[0]!.round)) out.push(...this.batches.shift()!.reads)
    return out
  }

  /** When the leader sent `round` (-Infinity when it is too old to count or unknown). */
  sentAt(round: number): number {
    return this.roundSentAt.get(round) ?? -Infinity
  }

  /** Leaving leadership: every pending read, to be redirected (never answered from here). */
  drain(): PendingRead[] {
    const reads = [...this.awaitingTermCommit, ...this.unsent, ...this.batches.flatMap(b => b.reads)]
    this.awaitingTermCommit = []
    this.unsent = []
    this.batches = []
    this.roundSentAt.clear()
    return reads
  }
}
