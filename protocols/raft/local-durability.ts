/**
 * How far the leader's own log is durable, when it sends AppendEntries before its own write is synced (Raft
 * dissertation §10.2.1: "the leader can write to its disk in parallel with replicating to the followers"; etcd-io/raft
 * does the same). The leader may count itself in the commit quorum only for entries it has made durable, so it tracks
 * that here: each Ready with writes is remembered with the log's last index at that time, and when the host reports
 * that Ready synced (Replica.synced, in order), everything up to that index is durable.
 */
export class LocalDurability {
  /** Every log entry at or below this index is durable. */
  durable: number
  /** Last log index of each Ready with writes not yet reported synced, oldest first. */
  private readonly unsynced: number[] = []

  constructor(recoveredLastIndex: number) {
    this.durable = recoveredLastIndex
  }

  /** A Ready with writes was handed to the host while the log ended at `lastIndex`. */
  wrote(lastIndex: number): void {
    this.unsynced.push(lastIndex)
  }

  /** The oldest unreported Ready with writes is durable; the log now ends at `lastIndex`. */
  synced(lastIndex: number): void {
    const through = this.unsynced.shift()
    if (through === undefined) throw new Error('raft: a sync was reported for writes that were never handed out')
    this.durable = Math.max(this.durable, Math.min(through, lastIndex))
  }

  /**
   * The log was cut back to end at `lastKept` (a conflicting suffix removed, or a snapshot installed): entries beyond it
   * that are written later are new ones, which no earlier Ready's sync makes durable.
   */
  truncated(lastKept: number): void {
    this.durable = Math.min(this.durable, lastKept)
    for (let i = 0; i < this.unsynced.length; i++) this.unsynced[i] = Math.min(this.unsynced[i]!, lastKept)
  }
}
