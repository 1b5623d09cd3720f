/**
 * One Multi-Paxos replica: proposer, acceptor and learner composed over one slot log. This file routes inputs to the
 * roles and owns what is about the replica as a whole: suspecting the leader, learning from the commit index the
 * leader piggybacks, catch-up, snapshots and log compaction, client routing and (optional) lease reads.
 */
import { EMPTY_BYTES } from '../../core/codec/client-messages.ts'
import type { AdminCommand, Ready, Replica, ReplicaContext } from '../../core/protocol.ts'
import { ReadyBuffer } from '../../core/ready.ts'
import type { ClientRequest, NodeId, ReplicaStatus } from '../../core/types.ts'
import { NO_LEADER } from '../../core/types.ts'
import { Acceptor } from './acceptor.ts'
import { ballotEquals, compareBallots } from './ballot.ts'
import type { Ballot } from './ballot.ts'
import type { ReplicaEnv } from './env.ts'
import { Proposer } from './leader.ts'
import { SlotLog } from './log.ts'
import type { MultiPaxosMessage } from './messages.ts'
import type { MultiPaxosOptions } from './options.ts'

export class MultiPaxosReplica implements Replica<MultiPaxosMessage> {
  private readonly id: NodeId
  private readonly members: ReadonlySet<NodeId>
  private readonly options: MultiPaxosOptions
  private readonly out = new ReadyBuffer<MultiPaxosMessage>()
  private readonly log = new SlotLog()
  private readonly acceptor: Acceptor
  private readonly proposer: Proposer
  private readonly env: ReplicaEnv
  private ticks = 0
  /** The replica believed to lead (from its Accepts and Heartbeats), when not this one. */
  private leaderId: NodeId | null = null
  private electionElapsed = 0
  private electionTimeout: number
  /** The highest ballot seen anywhere: a new Phase 1 goes above it. */
  private highestSeen: Ballot
  /** The highest commit index a leader announced, and who announced it (whom to ask for catch-up). */
  private knownCommit = 0
  private knownCommitFrom: NodeId = NO_LEADER
  private lastProgressAt = 0
  private lastCatchUpRequestAt = -Infinity
  private readonly lastSnapshotSentAt = new Map<NodeId, number>()
  /** Per Ready with writes not yet reported synced, the slots the leader accepted locally in it (oldest first). */
  private readonly unsynced: Array<ReadonlyArray<{ readonly ballot: Ballot; readonly slot: number }>> = []
  /** Lease reads: until this tick, Prepares from anyone but `leaseHolder` are refused (see Proposer.hasLease). */
  private leaseGuardUntil = 0
  private leaseHolder: NodeId = NO_LEADER

  constructor(ctx: ReplicaContext<MultiPaxosOptions>) {
    this.id = ctx.id
    this.members = new Set(ctx.members)
    this.options = ctx.options
    const snapshot = ctx.recovered.snapshot
    // The host restores the state machine from the same durable snapshot; the log resumes right after it.
    if (snapshot !== null) this.log.compact(snapshot.index, snapshot.data)
    this.acceptor = new Acceptor(this.log, this.out, ctx.recovered)
    this.highestSeen = this.acceptor.promised
    this.env = {
      id: ctx.id,
      members: ctx.members,
      options: this.options,
      rng: ctx.rng,
      log: this.log,
      acceptor: this.acceptor,
      out: this.out,
      logger: ctx.log,
      now: () => this.ticks,
      advanceCommit: () => this.advanceCommit(),
    }
    this.proposer = new Proposer(this.env)
    this.electionTimeout = this.randomElectionTimeout()
    // A restarted replica may have acknowledged a lease holder just before it crashed: honour that for a full timeout.
    if (this.options.leaseReads) this.leaseGuardUntil = this.options.leaderTimeoutTicks
  }

  /** The acceptor's promise (tests check it never decreases). */
  get promised(): Ballot {
    return this.acceptor.promised
  }

  /** This replica leads and may serve reads locally (tests check no one else leads meanwhile). */
  holdsLease(): boolean {
    return this.options.leaseReads && this.proposer.hasLease()
  }

  private randomElectionTimeout(): number {
    const t = this.options.leaderTimeoutTicks
    return t + this.env.rng.int(t)
  }

  private resetElectionTimer(): void {
    this.electionElapsed = 0
    this.electionTimeout = this.randomElectionTimeout()
  }

  private advanceCommit(): void {
    const before = this.log.commitIndex
    this.log.advance(entry => this.out.commit(entry))
    if (this.log.commitIndex !== before) this.lastProgressAt = this.ticks
  }

  tick(): void {
    this.ticks++
    if (this.proposer.active) {
      const next = this.proposer.tick()
      if (next === 'restart') this.startPhase1()
      else if (next === 'step-down') this.stepDown()
    } else if (++this.electionElapsed >= this.electionTimeout) {
      this.startPhase1()
    }
    this.maybeRequestCatchUp()
  }

  private startPhase1(): void {
    const above = compareBallots(this.highestSeen, this.acceptor.promised) > 0 ? this.highestSeen : this.acceptor.promised
    this.leaderId = null
    this.proposer.startPhase1(above)
    this.noteBallot(this.proposer.ballot)
  }

  private stepDown(): void {
    const hint = this.leaderId ?? NO_LEADER
    for (const p of this.proposer.stepDown()) this.out.redirect(p.from, p.request, hint, this.epoch)
    this.resetElectionTimer()
  }

  private noteBallot(b: Ballot): void {
    if (compareBallots(b, this.highestSeen) > 0) this.highestSeen = b
  }

  private get epoch(): number {
    return this.acceptor.promised.round
  }

  receive(from: NodeId, m: MultiPaxosMessage): void {
    if (!this.members.has(from) || from === this.id) return
    switch (m.type) {
      case 'Prepare': {
        if (this.refusesForLease(from)) break
        this.noteBallot(m.ballot)
        const slots = this.acceptor.promise(m.ballot, m.fromSlot)
        if (slots === null) {
          this.out.send(from, { type: 'Nack', ballot: m.ballot, promised: this.acceptor.promised })
        } else {
          this.out.send(from, { type: 'Promise', ballot: m.ballot, snapshotIndex: this.log.snapshotIndex, slots })
          // Give the candidate time to finish Phase 1 before suspecting it; hint clients its way.
          this.leaderId = from
          this.resetElectionTimer()
        }
        break
      }
      case 'Promise':
        this.proposer.onPromise(from, m)
        break
      case 'Accept': {
        this.noteBallot(m.ballot)
        const outcome = this.acceptor.accept(m.ballot, m.slot, m.value)
        if (outcome === 'accepted') this.out.send(from, { type: 'Accepted', ballot: m.ballot, slot: m.slot })
        else if (outcome === 'rejected') this.out.send(from, { type: 'Nack', ballot: m.ballot, promised: this.acceptor.promised })
        else this.sendChosen(from, m.slot)
        this.heardFromLeader(from, m.ballot)
        this.learnFromLeader(from, m.ballot, m.commitIndex)
        break
      }
      case 'Accepted':
        this.proposer.onAccepted(from, m.ballot, m.slot)
        break
      case 'Heartbeat':
        this.noteBallot(m.ballot)
        if (compareBallots(m.ballot, this.acceptor.promised) < 0) {
          this.out.send(from, { type: 'Nack', ballot: m.ballot, promised: this.acceptor.promised })
        } else {
          this.out.send(from, { type: 'HeartbeatAck', ballot: m.ballot, commitIndex: this.log.commitIndex, stamp: m.stamp })
        }
        this.heardFromLeader(from, m.ballot)
        this.learnFromLeader(from, m.ballot, m.commitIndex)
        break
      case 'HeartbeatAck':
        this.proposer.onHeartbeatAck(from, m.ballot, m.stamp)
        break
      case 'Nack':
        this.noteBallot(m.promised)
        break
      case 'CatchUpRequest':
        this.sendChosen(from, m.fromSlot)
        break
      case 'CatchUp':
        for (const e of m.entries) this.log.learn(e.slot, e.value)
        this.afterLearning()
        break
      case 'Snapshot':
        if (m.index > this.log.commitIndex) this.installSnapshot(m.index, m.data)
        break
      case 'TakeOver':
        // Only from the leader this replica follows, for its current ballot: a stale or foreign request is ignored.
        if (from === m.ballot.id && ballotEquals(m.ballot, this.acceptor.promised) && !this.proposer.active) this.startPhase1()
        break
    }
    // Any higher ballot (a promise given, a Nack, a newer leader's message) ends this replica's own attempt.
    if (this.proposer.active && compareBallots(this.highestSeen, this.proposer.ballot) > 0) this.stepDown()
  }

  /** A message of the current (or a newer) ballot from its owner: that replica leads; stay a follower. */
  private heardFromLeader(from: NodeId, ballot: Ballot): void {
    if (from !== ballot.id || compareBallots(ballot, this.acceptor.promised) < 0) return
    this.leaderId = from
    this.electionElapsed = 0
    if (this.options.leaseReads) {
      this.leaseHolder = from
      this.leaseGuardUntil = this.ticks + this.options.leaderTimeoutTicks
    }
  }

  /** With lease reads, a Prepare is ignored while this replica leads or guards another leader's lease. */
  private refusesForLease(from: NodeId): boolean {
    if (!this.options.leaseReads) return false
    return this.proposer.leading || (this.ticks < this.leaseGuardUntil && from !== this.leaseHolder)
  }

  /**
   * The leader of `ballot` says every slot up to `commitIndex` is chosen. Where this acceptor accepted a value in that
   * same ballot, it is the leader's value, so it is the chosen one (the leader proposes one value per slot per
   * ballot). Other slots must come by catch-up.
   */
  private learnFromLeader(from: NodeId, ballot: Ballot, commitIndex: number): void {
    if (commitIndex > this.knownCommit) {
      this.knownCommit = commitIndex
      this.knownCommitFrom = from
    }
    const log = this.log
    for (let slot = log.commitIndex + 1; slot <= commitIndex; slot++) {
      const rec = log.get(slot)
      if (rec === undefined) break
      if (rec.chosenValue !== null) continue
      if (rec.acceptedValue === null || !ballotEquals(rec.acceptedBallot, ballot)) break
      log.learn(slot, rec.acceptedValue)
    }
    this.advanceCommit()
  }

  /** Behind what a leader announced and stuck for a heartbeat interval: ask for the chosen values. */
  private maybeRequestCatchUp(): void {
    if (this.log.commitIndex >= this.knownCommit || this.knownCommitFrom === NO_LEADER) return
    const wait = this.options.heartbeatTicks
    if (this.ticks - this.lastProgressAt < wait || this.ticks - this.lastCatchUpRequestAt < wait) return
    this.lastCatchUpRequestAt = this.ticks
    this.out.send(this.knownCommitFrom, { type: 'CatchUpRequest', fromSlot: this.log.commitIndex + 1 })
  }

  /** Tell `to` the chosen values from `fromSlot` on: the snapshot first when it needs slots compacted into it. */
  private sendChosen(to: NodeId, fromSlot: number): void {
    const log = this.log
    let from = fromSlot
    if (from <= log.snapshotIndex) {
      // Snapshots are large: one per peer per heartbeat interval, however many requests ask for it.
      const last = this.lastSnapshotSentAt.get(to) ?? -Infinity
      if (this.ticks - last >= this.options.heartbeatTicks) {
        this.lastSnapshotSentAt.set(to, this.ticks)
        this.out.send(to, { type: 'Snapshot', index: log.snapshotIndex, data: log.snapshotData })
      }
      from = log.snapshotIndex + 1
    }
    const entries = log.chosenRange(from, Math.max(64, this.options.window), this.options.maxBatchBytes)
    if (entries.length > 0) this.out.send(to, { type: 'CatchUp', entries })
  }

  private installSnapshot(index: number, data: Uint8Array): void {
    this.log.compact(index, data)
    this.out.installSnapshot(index, data)
    this.out.persist({ kind: 'snapshot', index, meta: EMPTY_BYTES, data })
    this.lastProgressAt = this.ticks
    this.afterLearning()
  }

  /**
   * Chosen values arrived by catch-up or snapshot. If they overrule one of this leader's own proposals, a higher
   * ballot chose there: step down first, so no message of this ballot carries a commit index covering that slot.
   */
  private afterLearning(): void {
    this.advanceCommit()
    if (this.proposer.onLearned() === 'superseded') this.stepDown()
  }

  admin(command: AdminCommand): string | null {
    if (command.kind !== 'transfer-leadership') return `multipaxos has no ${command.kind}`
    const to = command.to
    if (!this.proposer.leading) return `replica ${this.id} does not lead`
    if (to === this.id) return null
    if (!this.members.has(to)) return `replica ${to} is not a member`
    // With leases, acceptors refuse other proposers' Prepares for a lease period after each Heartbeat: a transfer would
    // only stall the target's Phase 1 until the lease ran out.
    if (this.options.leaseReads) return 'leader transfer is not supported with lease reads'
    this.out.send(to, { type: 'TakeOver', ballot: this.proposer.ballot })
    return null
  }

  propose(request: ClientRequest, from: NodeId): void {
    if (this.proposer.leading ||
      (this.proposer.phase === 'preparing' && this.proposer.pendingCount < this.options.window * this.options.maxBatchCount)) {
      this.proposer.propose(request, from)
      return
    }
    this.out.redirect(from, request, this.leaderId ?? NO_LEADER, this.epoch)
  }

  read(request: ClientRequest, from: NodeId): void {
    if (this.options.leaseReads && this.proposer.hasLease()) {
      // Every value chosen before this leadership, and every write this leader acknowledged, is at or below the last
      // slot it proposed; the host answers once it has applied that far.
      this.out.read(request, Math.max(this.proposer.lastProposedSlot, this.log.commitIndex))
      return
    }
    // Without a (valid) lease, a read is linearizable only by going through the log like a write.
    this.propose(request, from)
  }

  snapshotTaken(index: number, data: Uint8Array): void {
    if (index <= this.log.snapshotIndex || index > this.log.commitIndex) return
    this.log.compact(index, data)
    this.out.persist({ kind: 'snapshot', index, meta: EMPTY_BYTES, data })
  }

  ready(): Ready<MultiPaxosMessage> {
    const ready = this.out.take()
    const accepts = this.proposer.takeLocalAccepts()
    if (ready.persist.length > 0) this.unsynced.push(accepts)
    return ready
  }

  synced(): void {
    const accepts = this.unsynced.shift()
    if (accepts === undefined) throw new Error('multipaxos: a sync was reported for writes that were never handed out')
    for (const { ballot, slot } of accepts) this.proposer.localAcceptDurable(ballot, slot)
  }

  status(): ReplicaStatus {
    const leading = this.proposer.leading
    return {
      role: leading ? 'leader' : this.proposer.phase === 'preparing' ? 'candidate' : 'follower',
      epoch: this.epoch,
      leader: leading ? this.id : this.leaderId,
      commitIndex: this.log.commitIndex,
      logSize: this.log.size,
    }
  }
}

export function createMultiPaxosReplica(ctx: ReplicaContext<MultiPaxosOptions>): MultiPaxosReplica {
  return new MultiPaxosReplica(ctx)
}
