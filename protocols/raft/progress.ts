/**
 * A leader's view of one follower (etcd-io/raft's Progress): how far its log is known to match (matchIndex), what to
 * send next (nextIndex), and the flow-control state:
 *   - probe: the match point is unknown; one AppendEntries at a time until one succeeds;
 *   - replicate: the follower is in sync; AppendEntries are pipelined, nextIndex advances optimistically and up to
 *     maxInflight messages may be unacknowledged;
 *   - snapshot: an InstallSnapshot is in flight; nothing else is sent until it is acknowledged (or times out).
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot'

export class Progress {
  match = 0
  next: number
  state: ProgressState = 'probe'
  /** probe: an AppendEntries is outstanding; cleared by any response (including a heartbeat's). */
  probeSent = false
  /** Last index carried by each unacknowledged AppendEntries, in send order (replicate state). */
  private inflight: number[] = []
  /** Heard from since the last check-quorum round. */
  recentActive = false
  /** Latest heartbeat round this follower acknowledged (ReadIndex, leases). */
  ackedRound = 0
  pendingSnapshot = 0
  snapshotSentAtTick = 0
  /** Stall detection for pipelined replication whose messages were lost (see the leader's heartbeat handling). */
  matchAtLastHeartbeat = 0
  stalledHeartbeats = 0

  constructor(next: number) {
    this.next = next
  }

  get inflightCount(): number { return this.inflight.length }

  /** May the leader send (more) AppendEntries now? */
  canSend(maxInflight: number): boolean {
    if (this.state === 'snapshot') return false
    if (this.state === 'probe') return !this.probeSent
    return this.inflight.length < maxInflight
  }

  /** Record an AppendEntries sent with entries ending at `lastIndex`. */
  sent(lastIndex: number): void {
    if (this.state === 'replicate') {
      this.inflight.push(lastIndex)
      this.next = lastIndex + 1
    } else {
      this.probeSent = true
    }
  }

  /** A success through `index`; returns false if it told nothing new. */
  acknowledged(index: number): boolean {
    let i = 0
    while (i < this.inflight.length && this.inflight[i]! <= index) i++
    if (i > 0) this.inflight.splice(0, i)
    this.probeSent = false
    if (index <= this.match) return false
    this.match = index
    if (this.next <= index) this.next = index + 1
    return true
  }

  /**
   * A rejection of prevLogIndex `rejected` with the leader's best guess `hintNext`. Returns false when the rejection
   * is stale (an answer to an older message than the current probe). Otherwise falls back to probing.
   */
  rejected(rejected: number, hintNext: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false
    } else if (this.state === 'probe') {
      if (rejected !== this.next - 1) return false
    } else {
      return false
    }
    this.becomeProbe()
    this.next = Math.max(Math.min(rejected, hintNext), this.match + 1)
    return true
  }

  becomeProbe(): void {
    this.state = 'probe'
    this.probeSent = false
    this.inflight = []
    this.pendingSnapshot = 0
    this.next = Math.max(this.next, this.match + 1)
  }

  becomeReplicate(): void {
    this.state = 'replicate'
    this.probeSent = false
    this.stalledHeartbeats = 0
    this.inflight = []
    this.next = this.match + 1
  }

  becomeSnapshot(index: number, tick: number): void {
    this.state = 'snapshot'
    this.inflight = []
    this.pendingSnapshot = index
    this.snapshotSentAtTick = tick
  }

  /**
   * A heartbeat answer shows the follower is reachable: in probe state allow another probe; in replicate state with
   * a full window (the messages may have been lost) free one slot so replication cannot stall for good.
   */
  heardFrom(maxInflight: number): void {
    this.probeSent = false
    if (this.state === 'replicate' && this.inflight.length >= maxInflight) this.inflight.shift()
  }
}
