/**
 * The proposer role. Phase 1 runs once per leadership for every slot the leader has not learned is chosen: the
 * promises of a Phase 1 quorum tell it, per slot, the highest-ballot value any of them accepted (which it must
 * re-propose) or that the slot is chosen; slots nobody reported are holes and get a no-op. Afterwards Phase 2 runs per
 * slot, pipelined (up to `window` slots outstanding) and batched (up to maxBatchCount requests per slot).
 */
import { countAgreeing, highestReachedByQuorum } from '../../core/quorum.ts'
import { sameRequest } from '../../core/codec/client-messages.ts'
import type { ClientRequest, NodeId } from '../../core/types.ts'
import { ZERO_BALLOT, ballotEquals, compareBallots, formatBallot, nextBallot } from './ballot.ts'
import type { Ballot } from './ballot.ts'
import type { ReplicaEnv } from './env.ts'
import type { Batch, MultiPaxosMessage, PromiseMessage, PromisedSlot } from './messages.ts'

export type ProposerPhase = 'idle' | 'preparing' | 'leading'

/** What the replica must do after a proposer tick. */
export type ProposerTick = 'ok' | 'restart' | 'step-down'

interface InFlightSlot {
  readonly value: Batch
  readonly acks: Set<NodeId>
  sentAt: number
  /** Ticks before the next retransmission to the replicas that have not answered; doubles each time. */
  retryAfter: number
}

export interface PendingRequest {
  readonly request: ClientRequest
  readonly from: NodeId
}

const NOOP: Batch = []

function sameBatch(a: Batch, b: Batch): boolean {
  return a.length === b.length && a.every((r, i) => sameRequest(r, b[i]!))
}

export class Proposer {
  private readonly env: ReplicaEnv
  private readonly others: readonly NodeId[]
  phase: ProposerPhase = 'idle'
  ballot: Ballot = ZERO_BALLOT
  private fromSlot = 1
  private readonly promises = new Map<NodeId, PromiseMessage>()
  private phaseDeadline = 0
  private lastPrepareAt = 0
  private leaderSince = 0
  private readonly inFlight = new Map<number, InFlightSlot>()
  private pending: PendingRequest[] = []
  private pendingHead = 0
  private nextSlot = 1
  private readonly lastHeard = new Map<NodeId, number>()
  private readonly lastSentTo = new Map<NodeId, number>()
  private readonly lastHeartbeatTo = new Map<NodeId, number>()
  /** Per follower, the send stamp of the latest Heartbeat it acknowledged in this leadership (lease reads). */
  private readonly ackedStamps = new Map<NodeId, number>()
  /**
   * Slots this leader accepted locally since the last Ready, whose writes are not durable yet (parallelLeaderAccept):
   * the leader's own acceptance counts only once the host reports them synced.
   */
  private acceptedSinceReady: Array<{ readonly ballot: Ballot; readonly slot: number }> = []

  constructor(env: ReplicaEnv) {
    this.env = env
    this.others = env.members.filter(id => id !== env.id)
  }

  get active(): boolean {
    return this.phase !== 'idle'
  }

  get leading(): boolean {
    return this.phase === 'leading'
  }

  get pendingCount(): number {
    return this.pending.length - this.pendingHead
  }

  get outstandingSlots(): number {
    return this.inFlight.size
  }

  /** The last slot this leader has assigned: every value chosen before its leadership is at or below it. */
  get lastProposedSlot(): number {
    return this.nextSlot - 1
  }

  /** Phase 1 with the smallest own ballot above `above`. */
  startPhase1(above: Ballot): void {
    const { env } = this
    const ballot = nextBallot(above, env.id)
    this.phase = 'preparing'
    this.ballot = ballot
    this.promises.clear()
    this.inFlight.clear()
    const now = env.now()
    const timeout = env.options.leaderTimeoutTicks
    // Randomized, so two suspecting replicas do not keep preempting each other in lockstep.
    this.phaseDeadline = now + timeout + env.rng.int(timeout)
    this.fromSlot = env.log.commitIndex + 1
    const own = env.acceptor.promise(ballot, this.fromSlot)
    if (own === null) {
      this.phase = 'idle'
      return
    }
    env.logger('replica %d prepares ballot %s from slot %d', env.id, formatBallot(ballot), this.fromSlot)
    this.promises.set(env.id, { type: 'Promise', ballot, snapshotIndex: env.log.snapshotIndex, slots: own })
    this.sendPrepare()
    this.tryFinishPhase1()
  }

  private sendPrepare(): void {
    const msg: MultiPaxosMessage = { type: 'Prepare', ballot: this.ballot, fromSlot: this.fromSlot }
    for (const p of this.others) if (!this.promises.has(p)) this.env.out.send(p, msg)
    this.lastPrepareAt = this.env.now()
  }

  onPromise(from: NodeId, m: PromiseMessage): void {
    if (this.phase !== 'preparing' || !ballotEquals(m.ballot, this.ballot)) return
    this.promises.set(from, m)
    this.lastHeard.set(from, this.env.now())
    this.tryFinishPhase1()
  }

  /**
   * Called after the log learned chosen values by other means (catch-up, snapshot). Returns 'superseded' when one of
   * this leader's own proposals lost: the slot was chosen with another value (or folded into a snapshot, so the value
   * cannot be compared), which only a higher ballot can have done. The caller must then step down before this ballot
   * says anything more: followers learn a slot from the commit index a leader announces when they accepted there in
   * the leader's ballot, so announcing a commit index that covers a slot where this ballot's value lost would make
   * them learn the losing value.
   */
  onLearned(): 'ok' | 'superseded' {
    const log = this.env.log
    let superseded = false
    for (const [slot, rec] of this.inFlight) {
      if (!log.isChosen(slot)) continue
      const chosen = log.chosenValue(slot)
      if (chosen === null || !sameBatch(chosen, rec.value)) superseded = true
      this.inFlight.delete(slot)
    }
    if (superseded && this.phase === 'leading') return 'superseded'
    if (this.nextSlot <= log.commitIndex) this.nextSlot = log.commitIndex + 1
    if (this.phase === 'preparing') this.tryFinishPhase1()
    else this.fillWindow()
    return 'ok'
  }

  private tryFinishPhase1(): void {
    const { env } = this
    if (this.promises.size < env.options.phase1Quorum) return
    // A promiser that compacted slots into its snapshot cannot report them; they are chosen, and this replica must
    // learn them (catch up) before it may fill anything there, or it would take them for holes.
    let floor = 0
    let floorHolder = env.id
    for (const [from, p] of this.promises) if (p.snapshotIndex > floor) { floor = p.snapshotIndex; floorHolder = from }
    if (env.log.commitIndex < floor) {
      env.out.send(floorHolder, { type: 'CatchUpRequest', fromSlot: env.log.commitIndex + 1 })
      return
    }
    this.becomeLeader()
  }

  private becomeLeader(): void {
    const { env } = this
    const log = env.log
    this.phase = 'leading'
    const now = env.now()
    this.leaderSince = now
    this.ackedStamps.clear()
    for (const p of this.others) this.lastHeard.set(p, now)
    const start = log.commitIndex + 1
    let last = log.maxSlot
    const best = new Map<number, PromisedSlot>()
    for (const p of this.promises.values()) {
      for (const s of p.slots) {
        if (s.slot < start) continue
        if (s.slot > last) last = s.slot
        const cur = best.get(s.slot)
        if (cur?.chosen === true) continue
        if (s.chosen || cur === undefined || compareBallots(s.ballot, cur.ballot) > 0) best.set(s.slot, s)
      }
    }
    this.promises.clear()
    env.logger('replica %d leads ballot %s, recovering slots %d..%d', env.id, formatBallot(this.ballot), start, last)
    this.nextSlot = last + 1
    for (let slot = start; slot <= last; slot++) {
      if (log.isChosen(slot)) continue
      const b = best.get(slot)
      if (b?.chosen === true) log.learn(slot, b.value)
      else this.sendAccept(slot, b?.value ?? NOOP)
    }
    env.advanceCommit()
    // Tell everyone at once who leads, even when there was nothing to recover.
    this.sendHeartbeats(true)
    this.fillWindow()
  }

  propose(request: ClientRequest, from: NodeId): void {
    this.pending.push({ request, from })
    this.fillWindow()
  }

  /** Open new slots while the window has room, each with as many queued requests as the batch limits allow. */
  private fillWindow(): void {
    if (this.phase !== 'leading') return
    const { maxBatchCount, maxBatchBytes, window } = this.env.options
    let started = false
    while (this.pendingHead < this.pending.length && this.inFlight.size < window) {
      const batch: ClientRequest[] = []
      let bytes = 0
      while (this.pendingHead < this.pending.length && batch.length < maxBatchCount) {
        const next = this.pending[this.pendingHead]!.request
        if (batch.length > 0 && bytes + next.op.length > maxBatchBytes) break
        batch.push(next)
        bytes += next.op.length
        this.pendingHead++
      }
      this.sendAccept(this.nextSlot++, batch)
      started = true
    }
    if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead)
      this.pendingHead = 0
    }
    if (started) this.env.advanceCommit()
  }

  private sendAccept(slot: number, value: Batch): void {
    const { env } = this
    const outcome = env.acceptor.accept(this.ballot, slot, value)
    // 'chosen': already learned; 'rejected' cannot happen while leading (a higher promise makes the replica step down).
    if (outcome !== 'accepted') return
    // In parallel with replication (as Raft's §10.2.1), the leader's own acceptance counts once its write is durable.
    const parallel = env.options.parallelLeaderAccept
    const rec: InFlightSlot = { value, acks: new Set(parallel ? [] : [env.id]), sentAt: env.now(), retryAfter: 2 * env.options.heartbeatTicks }
    this.inFlight.set(slot, rec)
    if (parallel) this.acceptedSinceReady.push({ ballot: this.ballot, slot })
    const msg: MultiPaxosMessage = { type: 'Accept', ballot: this.ballot, slot, value, commitIndex: env.log.commitIndex }
    const now = env.now()
    for (const p of this.others) {
      // Depends on nothing unsynced: the ballot's promise was synced before Phase 1 ended, and the commit index counts
      // only durable acceptances.
      if (parallel) env.out.sendBeforeSync(p, msg)
      else env.out.send(p, msg)
      this.lastSentTo.set(p, now)
    }
    this.checkChosen(slot, rec)
  }

  /** The slots accepted locally since the last Ready (they are written by it); the replica hands them back once synced. */
  takeLocalAccepts(): Array<{ readonly ballot: Ballot; readonly slot: number }> {
    const out = this.acceptedSinceReady
    if (out.length > 0) this.acceptedSinceReady = []
    return out
  }

  /** This leader's own acceptance of `slot` in `ballot` is durable: it counts now, if the slot is still in flight. */
  localAcceptDurable(ballot: Ballot, slot: number): void {
    if (this.phase !== 'leading' || !ballotEquals(ballot, this.ballot)) return
    const rec = this.inFlight.get(slot)
    if (rec === undefined) return
    rec.acks.add(this.env.id)
    if (this.checkChosen(slot, rec)) {
      this.env.advanceCommit()
      this.fillWindow()
    }
  }

  private checkChosen(slot: number, rec: InFlightSlot): boolean {
    if (rec.acks.size < this.env.options.phase2Quorum) return false
    this.inFlight.delete(slot)
    this.env.log.learn(slot, rec.value)
    return true
  }

  onAccepted(from: NodeId, ballot: Ballot, slot: number): void {
    if (this.phase !== 'leading' || !ballotEquals(ballot, this.ballot)) return
    this.lastHeard.set(from, this.env.now())
    const rec = this.inFlight.get(slot)
    if (rec === undefined) return
    rec.acks.add(from)
    if (this.checkChosen(slot, rec)) {
      this.env.advanceCommit()
      this.fillWindow()
    }
  }

  onHeartbeatAck(from: NodeId, ballot: Ballot, stamp: number): void {
    if (this.phase !== 'leading' || !ballotEquals(ballot, this.ballot)) return
    this.lastHeard.set(from, this.env.now())
    if (stamp >= this.leaderSince && stamp > (this.ackedStamps.get(from) ?? -1)) this.ackedStamps.set(from, stamp)
  }

  /**
   * Lease reads: the leader may answer a read locally while no other replica can have become leader. Every replica
   * that acknowledged a Heartbeat refuses other proposers' Prepares for leaderTimeoutTicks after receiving it (and the
   * leader refuses them while it leads), so once n - q1 + 1 replicas, the leader included, are bound that way, no
   * Phase 1 quorum can form. The lease runs from the send stamp for half that time: the margin covers tick
   * granularity and tick rates that differ by less than a factor of two (the stated clock assumption).
   */
  hasLease(): boolean {
    if (this.phase !== 'leading') return false
    const { env } = this
    const needed = env.members.length - env.options.phase1Quorum // besides the leader itself
    if (needed <= 0) return true
    const start = highestReachedByQuorum([...this.ackedStamps.values()], needed)
    if (start === null) return false
    return env.now() < start + Math.floor(env.options.leaderTimeoutTicks / 2)
  }

  /** Peers heard from (Accepted or HeartbeatAck in this ballot) within the last `ticks`, counting itself. */
  heardWithin(ticks: number): number {
    const now = this.env.now()
    return 1 + countAgreeing(this.others, p => now - (this.lastHeard.get(p) ?? -Infinity) < ticks)
  }

  tick(): ProposerTick {
    const { env } = this
    const now = env.now()
    const { heartbeatTicks, leaderTimeoutTicks, phase2Quorum } = env.options
    if (this.phase === 'preparing') {
      if (now >= this.phaseDeadline) return 'restart'
      if (now - this.lastPrepareAt >= heartbeatTicks) {
        this.sendPrepare()
        this.tryFinishPhase1()
      }
      return 'ok'
    }
    if (this.phase !== 'leading') return 'ok'
    // A leader that cannot reach a Phase 2 quorum cannot commit anything: step down so clients look elsewhere.
    if (now - this.leaderSince >= leaderTimeoutTicks && this.heardWithin(leaderTimeoutTicks) < phase2Quorum) {
      return 'step-down'
    }
    // Retransmit Accepts that lost their way, backing off exponentially so a congested link is not flooded.
    for (const [slot, rec] of this.inFlight) {
      if (now - rec.sentAt < rec.retryAfter) continue
      rec.sentAt = now
      rec.retryAfter = Math.min(2 * rec.retryAfter, leaderTimeoutTicks)
      const msg: MultiPaxosMessage = {
        type: 'Accept', ballot: this.ballot, slot, value: rec.value, commitIndex: env.log.commitIndex,
      }
      for (const p of this.others) {
        if (rec.acks.has(p)) continue
        env.out.send(p, msg)
        this.lastSentTo.set(p, now)
      }
    }
    this.sendHeartbeats(false)
    return 'ok'
  }

  private sendHeartbeats(all: boolean): void {
    const { env } = this
    const now = env.now()
    const every = env.options.heartbeatTicks
    const msg: MultiPaxosMessage = { type: 'Heartbeat', ballot: this.ballot, commitIndex: env.log.commitIndex, stamp: now }
    for (const p of this.others) {
      // Without leases a follower busy with Accepts needs no heartbeat. With leases heartbeats go out on schedule
      // regardless: they carry the stamps the lease is measured from.
      const last = env.options.leaseReads ? this.lastHeartbeatTo.get(p) : this.lastSentTo.get(p)
      if (!all && now - (last ?? -Infinity) < every) continue
      env.out.send(p, msg)
      this.lastSentTo.set(p, now)
      this.lastHeartbeatTo.set(p, now)
    }
  }

  /** Give up proposing; returns the client requests not yet assigned to a slot (the caller redirects them). */
  stepDown(): PendingRequest[] {
    const left = this.pending.slice(this.pendingHead)
    this.pending = []
    this.pendingHead = 0
    this.phase = 'idle'
    this.inFlight.clear()
    this.promises.clear()
    return left
  }
}
