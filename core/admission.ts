/**
 * Server-side admission control: a replica answers "busy" instead of taking on more client requests than it can have
 * pending, so an overloaded cluster serves what it can at its capacity instead of queueing without bound (latency
 * growing until every client times out and retries, which only adds load: the collapse issue 10 measured with 256
 * clients and fsync always). As etcd answers "too many requests" when its apply lags its commit, and Cassandra bounds
 * native_transport_max_concurrent_requests.
 *
 * Pending means admitted and not yet answered, counted per client session (a session has at most one request
 * outstanding, so a retransmission of the pending one is admitted again without counting twice). A request whose
 * answer never comes (proposed at a leader that then lost its term, a session whose client went away) stops counting
 * after `staleAfterTicks`, so lost answers cannot shrink the replica's capacity for good.
 */
import type { NodeId } from './types.ts'

/** The pending requests a replica admits by default: far above any single client node's pipelining depth. */
export const DEFAULT_MAX_PENDING_REQUESTS = 4096
/** Ticks after which an admitted request still unanswered stops counting (10 s at the default 10 ms tick). */
export const DEFAULT_ADMISSION_STALE_TICKS = 1000

export class AdmissionControl {
  /** Admitted, unanswered requests: the tick each session's was admitted. */
  private readonly admittedAt = new Map<NodeId, number>()
  /** Requests refused as busy so far. */
  shed = 0

  readonly maxPending: number
  private readonly staleAfterTicks: number

  constructor(maxPending: number, staleAfterTicks = DEFAULT_ADMISSION_STALE_TICKS) {
    if (!(Number.isInteger(maxPending) && maxPending >= 1) && maxPending !== Infinity) {
      throw new RangeError(`maxPendingRequests must be an integer >= 1 (or Infinity: no limit), got ${maxPending}`)
    }
    this.maxPending = maxPending
    this.staleAfterTicks = staleAfterTicks
  }

  get pending(): number {
    return this.admittedAt.size
  }

  /** Whether to take `session`'s request at tick `now`; false: answer busy (counted in `shed`). */
  admit(session: NodeId, now: number): boolean {
    if (this.admittedAt.has(session) || this.admittedAt.size < this.maxPending) {
      this.admittedAt.set(session, now)
      return true
    }
    // Full: only now is it worth looking for requests whose answer is not coming.
    for (const [s, at] of this.admittedAt) if (now - at >= this.staleAfterTicks) this.admittedAt.delete(s)
    if (this.admittedAt.size < this.maxPending) {
      this.admittedAt.set(session, now)
      return true
    }
    this.shed++
    return false
  }

  /** `session`'s request was answered (or superseded): it no longer counts. */
  settle(session: NodeId): void {
    this.admittedAt.delete(session)
  }
}
