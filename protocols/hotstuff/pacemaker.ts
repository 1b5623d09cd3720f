/**
 * The pacemaker (paper section 4.4 and 5): which view a replica is in, when it gives up on a view, and how replicas
 * that drifted apart find a common view again.
 *
 * - Leaders rotate: the leader of view v is members[v mod n].
 * - A replica enters view v + 1 once it sees a QC for view v (or votes in v). While it has work pending and no new
 *   QC arrives for `timeout` ticks it leaves the view: it moves to view + 1 and sends NEW-VIEW(view + 1, highQC).
 *   The timeout doubles per consecutive timeout up to `maxViewTimeoutTicks`, so after the network heals the replicas'
 *   timers overlap within a bounded time (and return to the base after the next QC).
 * - NEW-VIEW goes to every replica, not only the next leader: it is also the synchroniser. A replica that sees f+1
 *   others in higher views joins the lowest of them (at least one correct replica is there, and a faulty one alone
 *   cannot drag anyone ahead); a leader that holds 2f+1 NEW-VIEWs for its view (its own included) proposes in it,
 *   extending the highest QC they carry. The broadcast costs n(n-1) messages per timeout, never in the normal case.
 * - An idle replica (nothing pending) runs no timer, so an idle cluster sends nothing.
 */
import type { NodeId } from '../../core/types.ts'
import type { NewView, QuorumCert } from './messages.ts'

export function leaderOf(view: number, members: readonly NodeId[]): NodeId {
  return members[view % members.length]!
}

export interface PacemakerOptions {
  readonly viewTimeoutTicks: number
  readonly maxViewTimeoutTicks: number
}

export class Pacemaker {
  /** The view this replica is in: it waits for (or, as leader, makes) the proposal of this view. */
  curView = 1
  consecutiveTimeouts = 0
  private timerStart = 0
  /** The highest-view NEW-VIEW from each replica (ours included), signature already checked. */
  private readonly newViews = new Map<NodeId, NewView>()
  private readonly o: PacemakerOptions

  constructor(options: PacemakerOptions) {
    this.o = options
  }

  /** Ticks before the current view times out: base * 2^consecutive timeouts, capped. */
  get timeoutTicks(): number {
    const doubled = this.o.viewTimeoutTicks * 2 ** Math.min(this.consecutiveTimeouts, 30)
    return Math.min(doubled, this.o.maxViewTimeoutTicks)
  }

  /** Move forward to `view` (never back); returns whether the view changed. */
  enter(view: number, now: number): boolean {
    if (view <= this.curView) return false
    this.curView = view
    this.timerStart = now
    return true
  }

  /** A new QC: the cluster makes progress, so the backoff starts over. */
  progress(): void {
    this.consecutiveTimeouts = 0
  }

  /**
   * One tick. Returns true when the current view timed out (the caller then broadcasts NEW-VIEW for `curView`, which
   * has already moved on by one).
   */
  tick(now: number, hasWork: boolean): boolean {
    if (!hasWork) {
      this.timerStart = now
      return false
    }
    if (now - this.timerStart < this.timeoutTicks) return false
    this.consecutiveTimeouts++
    this.curView++
    this.timerStart = now
    return true
  }

  /** The highest view `id` has told us it moved to (0 if none). */
  knownView(id: NodeId): number {
    return this.newViews.get(id)?.view ?? 0
  }

  /** Keep `m` if it is the sender's highest so far; returns whether it was kept. */
  record(m: NewView): boolean {
    const known = this.newViews.get(m.replica)
    if (known !== undefined && known.view >= m.view) return false
    this.newViews.set(m.replica, m)
    return true
  }

  /**
   * The f+1 rule: the lowest view that at least `weakQuorum` other replicas have moved to beyond ours, or null. At
   * least one of them is correct, so the view is not beyond every correct replica.
   */
  joinTarget(self: NodeId, weakQuorum: number): number | null {
    const above: number[] = []
    for (const [id, m] of this.newViews) if (id !== self && m.view > this.curView) above.push(m.view)
    if (above.length < weakQuorum) return null
    above.sort((a, b) => b - a)
    return above[weakQuorum - 1]!
  }

  /** How many replicas (ours included) have left every view below `view`. */
  countAtOrAbove(view: number): number {
    let count = 0
    for (const m of this.newViews.values()) if (m.view >= view) count++
    return count
  }

  /** The highest QC the NEW-VIEWs for `view` or later carry. */
  highestQC(view: number): QuorumCert | null {
    let best: QuorumCert | null = null
    for (const m of this.newViews.values()) if (m.view >= view && (best === null || m.highQC.view > best.view)) best = m.highQC
    return best
  }
}
