/**
 * The Raft state machine (Ongaro & Ousterhout 2014, and the dissertation for pre-vote, check-quorum, ReadIndex,
 * leases, single-server membership changes and leader transfer). Pure and synchronous, like etcd-io/raft's raft.go:
 * inputs are method calls, outputs accumulate in a ReadyBuffer that the host drains with `ready()` and carries out
 * in order (persist and sync, send, apply).
 *
 * Section references in comments are to the extended paper (§5.x) and the dissertation (§3.x-§9.x).
 */
import type { AdminCommand, Membership, Ready, Replica, ReplicaContext } from '../../core/protocol.ts'
import type { Logger } from '../../core/logger.ts'
import type { Rng } from '../../core/random.ts'
import { highestReachedByQuorum, quorumAgrees, voteResult } from '../../core/quorum.ts'
import { ReadyBuffer } from '../../core/ready.ts'
import type { ClientRequest, NodeId, ReplicaStatus } from '../../core/types.ts'
import { NO_LEADER } from '../../core/types.ts'
import { encodeHardState, encodeSnapshotMeta, HARD_STATE_KEY, recoverRaftState } from './durable.ts'
import { LocalDurability } from './local-durability.ts'
import { RaftLog } from './log.ts'
import {
  applyChange, ConfigurationHistory, configurationOf, isMember, isVoter, peersOf, quorumSize,
} from './membership.ts'
import type { MembershipChange } from './membership.ts'
import type {
  AppendEntries, AppendEntriesResponse, Configuration, Entry, Heartbeat, HeartbeatResponse, InstallSnapshot,
  InstallSnapshotResponse, PreVote, PreVoteResponse, RaftMessage, RequestVote, RequestVoteResponse,
} from './messages.ts'
import { encodeEntry } from './messages.ts'
import type { RaftOptions } from './options.ts'
import { Progress } from './progress.ts'
import { ReadOnly, type PendingRead } from './read-only.ts'

export type RaftRole = 'follower' | 'pre-candidate' | 'candidate' | 'leader'

interface SnapshotHeld {
  readonly index: number
  readonly term: number
  readonly config: Configuration
  readonly data: Uint8Array
}

/** Replication stalls for this many heartbeat answers without progress before a pipelined follower is re-probed. */
const STALLED_HEARTBEATS_BEFORE_PROBE = 3

export class RaftReplica implements Replica<RaftMessage> {
  readonly id: NodeId
  readonly options: RaftOptions
  readonly log = new RaftLog()
  private readonly rng: Rng
  private readonly logger: Logger
  private readonly out = new ReadyBuffer<RaftMessage>()
  private readonly configs: ConfigurationHistory
  private snapshot: SnapshotHeld | null = null

  private currentTerm = 0
  private vote: NodeId = NO_LEADER
  private hardStateDirty = false
  private currentRole: RaftRole = 'follower'
  private currentLeader: NodeId = NO_LEADER
  private commit = 0
  /** Last index handed to the host in `committed` (or covered by a snapshot it restored). */
  private handedOut = 0

  /** Ticks since start: leases and snapshot retries measure time with it. */
  private now = 0
  private electionElapsed = 0
  private randomizedElectionTimeout = 0
  private heartbeatElapsed = 0
  /** Ticks since a leader last contacted this server (check-quorum's vote lease). */
  private sinceLeaderContact: number
  private readonly votes = new Map<NodeId, boolean>()

  // Leader state.
  private readonly progress = new Map<NodeId, Progress>()
  /** Per client session, its latest command appended in this leadership (retries of it are not appended again). */
  private readonly uncommitted = new Map<NodeId, { readonly seq: number; readonly index: number }>()
  /** Index of the latest configuration entry; a new change waits until it is committed. */
  private pendingConfigIndex = 0
  private transferTarget: NodeId = NO_LEADER
  /**
   * A TimeoutNow went out in this term. Voters honour the resulting election despite their vote lease, and the message
   * may arrive long after the transfer was abandoned, so this leader's lease cannot be trusted again in this term.
   */
  private timeoutNowSent = false
  private readonly reads: ReadOnly
  /** How far this server's own log is durable (the leader counts itself for no more than that). */
  private readonly durability: LocalDurability

  constructor(ctx: ReplicaContext<RaftOptions>) {
    this.id = ctx.id
    this.options = ctx.options
    this.reads = new ReadOnly(this.options.electionTicks)
    // With lease reads, a restarted server must assume a leader contacted it just before the crash: it may have
    // acknowledged the heartbeat a lease rests on. Otherwise it may vote at once, as in the paper.
    this.sinceLeaderContact = this.options.leaseReads ? 0 : this.options.electionTicks
    this.rng = ctx.rng
    this.logger = ctx.log
    const recovered = recoverRaftState(ctx.recovered)
    this.currentTerm = recovered.hard.term
    this.vote = recovered.hard.votedFor
    if (recovered.snapshot !== null) {
      const s = recovered.snapshot
      this.log.resetTo(s.index, s.meta.lastIncludedTerm)
      this.configs = new ConfigurationHistory(s.meta.config)
      this.snapshot = { index: s.index, term: s.meta.lastIncludedTerm, config: s.meta.config, data: s.data }
      // The host restores the state machine from the same durable snapshot before driving the replica.
      this.commit = s.index
      this.handedOut = s.index
    } else {
      this.configs = new ConfigurationHistory(configurationOf(ctx.members))
    }
    for (const e of recovered.entries) {
      const index = this.log.append(e)
      if (e.type === 'config') this.configs.appended(index, e.config)
    }
    this.durability = new LocalDurability(this.log.lastIndex)
    this.resetElectionTimer()
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Introspection (status, tests, invariant checkers). Never used for decisions outside this class.

  get term(): number { return this.currentTerm }
  get votedFor(): NodeId { return this.vote }
  get role(): RaftRole { return this.currentRole }
  get leader(): NodeId { return this.currentLeader }
  get commitIndex(): number { return this.commit }
  get configuration(): Configuration { return this.configs.current }
  get leaderTransferTarget(): NodeId { return this.transferTarget }
  /** Flow-control state of a follower as the leader sees it (tests). */
  progressOf(id: NodeId): { match: number; next: number; state: string; inflight: number } | undefined {
    const p = this.progress.get(id)
    return p === undefined ? undefined : { match: p.match, next: p.next, state: p.state, inflight: p.inflightCount }
  }

  status(): ReplicaStatus {
    return {
      role: this.currentRole,
      epoch: this.currentTerm,
      leader: this.currentLeader === NO_LEADER ? null : this.currentLeader,
      commitIndex: this.commit,
      logSize: this.log.length,
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Inputs.

  tick(): void {
    this.now++
    this.sinceLeaderContact++
    if (this.currentRole === 'leader') this.tickLeader()
    else this.tickElection()
  }

  private tickElection(): void {
    this.electionElapsed++
    if (this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0
      if (isVoter(this.configs.current, this.id)) this.campaign(false)
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++
    this.electionElapsed++
    if (this.electionElapsed >= this.options.electionTicks) {
      this.electionElapsed = 0
      if (this.options.checkQuorum && !this.quorumActive()) {
        this.logger('%d: term %d: no quorum heard within an election timeout, stepping down', this.id, this.currentTerm)
        this.becomeFollower(this.currentTerm, NO_LEADER)
        return
      }
      for (const p of this.progress.values()) p.recentActive = false
      if (this.transferTarget !== NO_LEADER) this.transferTarget = NO_LEADER // §3.10: abort a transfer that stalls
    }
    if (this.heartbeatElapsed >= this.options.heartbeatTicks) {
      this.heartbeatElapsed = 0
      this.broadcastHeartbeat()
    }
  }

  receive(from: NodeId, m: RaftMessage): void {
    if (m.term > this.currentTerm) {
      if (m.type === 'RequestVote' || m.type === 'PreVote') {
        // Dissertation §4.2.3 / §9.6: while a leader is known to be alive, ignore would-be candidates (removed
        // servers, rejoining partitions). A transfer's election is sanctioned by the leader and goes through.
        const sanctioned = m.type === 'RequestVote' && m.transfer
        if (!sanctioned && this.inLease()) return
      }
      if (m.type === 'PreVote' || (m.type === 'PreVoteResponse' && m.granted)) {
        // A pre-vote's term is hypothetical: nobody adopts it.
      } else {
        const fromLeader = m.type === 'AppendEntries' || m.type === 'Heartbeat' || m.type === 'InstallSnapshot'
        this.becomeFollower(m.term, fromLeader ? from : NO_LEADER)
      }
    } else if (m.term < this.currentTerm) {
      this.answerStaleTerm(from, m)
      return
    }

    switch (m.type) {
      case 'RequestVote': return this.handleRequestVote(from, m)
      case 'PreVote': return this.handlePreVote(from, m)
      case 'RequestVoteResponse': return this.handleVoteResponse(from, m)
      case 'PreVoteResponse': return this.handlePreVoteResponse(from, m)
      case 'AppendEntries':
        if (this.acceptLeader(from)) this.handleAppendEntries(from, m)
        return
      case 'Heartbeat':
        if (this.acceptLeader(from)) this.handleHeartbeat(from, m)
        return
      case 'InstallSnapshot':
        if (this.acceptLeader(from)) this.handleInstallSnapshot(from, m)
        return
      case 'AppendEntriesResponse': return this.handleAppendEntriesResponse(from, m)
      case 'HeartbeatResponse': return this.handleHeartbeatResponse(from, m)
      case 'InstallSnapshotResponse': return this.handleInstallSnapshotResponse(from, m)
      case 'TimeoutNow':
        if (this.currentRole !== 'leader' && isVoter(this.configs.current, this.id)) {
          this.logger('%d: term %d: TimeoutNow from %d, campaigning', this.id, this.currentTerm, from)
          this.campaign(true)
        }
        return
    }
  }

  /** Figure 2: a stale sender learns the current term from the reply and steps down. */
  private answerStaleTerm(from: NodeId, m: RaftMessage): void {
    const term = this.currentTerm
    switch (m.type) {
      case 'AppendEntries':
      case 'InstallSnapshot':
      case 'Heartbeat':
        this.out.send(from, { type: 'AppendEntriesResponse', term, success: false, index: 0, conflictTerm: 0, conflictIndex: 0 })
        return
      case 'RequestVote':
        this.out.send(from, { type: 'RequestVoteResponse', term, granted: false })
        return
      case 'PreVote':
        this.out.send(from, { type: 'PreVoteResponse', term, granted: false })
        return
      default:
        return // a late response from an earlier term tells nothing
    }
  }

  /** A message from the leader of the current term: follow it. */
  private acceptLeader(from: NodeId): boolean {
    if (this.currentRole === 'leader') {
      // Two leaders in one term would violate Election Safety (§5.2); refuse rather than corrupt the log.
      this.logger('%d: term %d: ignoring leader message from %d while leading', this.id, this.currentTerm, from)
      return false
    }
    if (this.currentRole !== 'follower' || this.currentLeader !== from) this.becomeFollower(this.currentTerm, from)
    this.electionElapsed = 0
    this.sinceLeaderContact = 0
    return true
  }

  propose(request: ClientRequest, from: NodeId): void {
    if (this.currentRole !== 'leader') {
      this.out.redirect(from, request, this.currentLeader, this.currentTerm)
      return
    }
    if (this.transferTarget !== NO_LEADER) {
      // §3.10: stop accepting commands while handing over, so the target can catch up.
      this.out.redirect(from, request, this.transferTarget, this.currentTerm)
      return
    }
    // A client's retry of a command still uncommitted in this leader's log need not go in twice: the host answers
    // it when the first copy commits. Under overload this keeps retries from filling the log with duplicates.
    const pending = this.uncommitted.get(request.clientId)
    if (pending !== undefined && pending.seq === request.seq && pending.index > this.commit) return
    this.appendAsLeader({ term: this.currentTerm, type: 'command', request })
    this.uncommitted.set(request.clientId, { seq: request.seq, index: this.log.lastIndex })
  }

  /**
   * ReadIndex (dissertation §6.4): remember the commit index, confirm leadership with a heartbeat round, then serve
   * once the state machine has applied that index. Only a leader with an entry of its own term committed knows the
   * commit index is current (a new leader's may lag), so reads wait for the no-op to commit.
   */
  read(request: ClientRequest, from: NodeId): void {
    if (this.currentRole !== 'leader') {
      this.out.redirect(from, request, this.currentLeader, this.currentTerm)
      return
    }
    const pending: PendingRead = { request, from, index: 0 }
    if (this.log.term(this.commit) !== this.currentTerm) {
      this.reads.awaitTermCommit(pending)
      return
    }
    this.queueRead(pending)
  }

  private queueRead(pending: PendingRead): void {
    pending.index = this.commit
    if (this.options.leaseReads && this.leaseValid()) {
      this.out.read(pending.request, pending.index)
      return
    }
    this.reads.queue(pending)
  }

  snapshotTaken(index: number, data: Uint8Array): void {
    if (index <= this.log.snapshotIndex) return
    if (index > this.handedOut) {
      throw new Error(`raft: snapshot at ${index} is beyond the last index handed out for applying (${this.handedOut})`)
    }
    const term = this.log.term(index)!
    const config = this.configs.at(index)
    this.snapshot = { index, term, config, data }
    this.out.persist({ kind: 'snapshot', index, meta: encodeSnapshotMeta({ lastIncludedTerm: term, config }), data })
    this.log.compact(index)
    this.configs.compact(index)
  }

  ready(): Ready<RaftMessage> {
    if (this.currentRole === 'leader') {
      this.flushAppends()
      this.processReadBatches()
    }
    if (this.hardStateDirty) {
      this.hardStateDirty = false
      this.out.persist({ kind: 'put', key: HARD_STATE_KEY, value: encodeHardState({ term: this.currentTerm, votedFor: this.vote }) })
    }
    for (let i = this.handedOut + 1; i <= this.commit; i++) {
      const e = this.log.entry(i)
      if (e === undefined) throw new Error(`raft: committed entry ${i} is not in the log (compacted through ${this.log.snapshotIndex})`)
      this.out.commit({ index: i, requests: e.type === 'command' ? [e.request] : [] })
    }
    this.handedOut = Math.max(this.handedOut, this.commit)
    const ready = this.out.take()
    if (ready.persist.length > 0) this.durability.wrote(this.log.lastIndex)
    return ready
  }

  synced(): void {
    this.durability.synced(this.log.lastIndex)
    if (this.currentRole === 'leader') this.maybeCommit()
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Public administrative operations (membership, leader transfer). Each returns null when started, else why not.

  /**
   * One server at a time (§4.1). The leader allows a change only when the previous one is committed and it has
   * committed an entry of its own term (the fix to the single-server change bug, raft-dev 2015).
   */
  proposeMembershipChange(change: MembershipChange): string | null {
    if (this.currentRole !== 'leader') return `not the leader (leader is ${this.currentLeader})`
    if (this.pendingConfigIndex > this.commit) return 'a configuration change is still uncommitted'
    if (this.log.term(this.commit) !== this.currentTerm) return 'the leader has not committed an entry of its term yet'
    if (this.transferTarget !== NO_LEADER) return 'a leader transfer is in progress'
    const next = applyChange(this.configs.current, change)
    if (typeof next === 'string') return next
    if (change.kind === 'promoteLearner') {
      const p = this.progress.get(change.id)
      if (p === undefined || p.match < this.commit) {
        return `learner ${change.id} has not caught up (match ${p?.match ?? 0}, commit ${this.commit})`
      }
    }
    this.appendAsLeader({ term: this.currentTerm, type: 'config', config: next })
    return null
  }

  /** The contract's admin input (core/protocol.ts AdminCommand), mapped onto the operations below. */
  admin(command: AdminCommand): string | null {
    switch (command.kind) {
      case 'add-learner': return this.proposeMembershipChange({ kind: 'addLearner', id: command.id })
      case 'promote': return this.proposeMembershipChange({ kind: 'promoteLearner', id: command.id })
      case 'remove': {
        const c = this.configs.current
        const kind = c.learners.includes(command.id) ? 'removeLearner' : 'removeVoter'
        return this.proposeMembershipChange({ kind, id: command.id })
      }
      case 'transfer-leadership': return this.transferLeadership(command.to)
    }
  }

  membership(): Membership {
    return { ...this.configs.current, committed: this.configs.currentIndex <= this.commit }
  }

  /** Dissertation §3.10: bring `to` up to date, then tell it to start an election at once (TimeoutNow). */
  transferLeadership(to: NodeId): string | null {
    if (this.currentRole !== 'leader') return `not the leader (leader is ${this.currentLeader})`
    if (to === this.id) return 'already the leader'
    if (!isVoter(this.configs.current, to)) return `server ${to} is not a voter`
    if (this.transferTarget === to) return null
    if (this.transferTarget !== NO_LEADER) return `a transfer to ${this.transferTarget} is in progress`
    this.transferTarget = to
    this.electionElapsed = 0 // the transfer is abandoned if it has not happened within an election timeout
    const p = this.progress.get(to)!
    if (p.match === this.log.lastIndex) this.sendTimeoutNow(to)
    return null
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Role transitions.

  /**
   * §5.2: a timeout drawn from [electionTicks, electionTicks + spread), the spread electionTicks (etcd's [E, 2E)) or the
   * number of voters if that is more. Timeouts come in whole ticks, so E slots hold all the servers: with more voters
   * than slots, several time out in the first occupied slot together and split the vote, round after round (n = 100
   * with E = 10 never elected a leader that lasted: 7,000 candidacies, 86% of operations timed out). At least one slot
   * per voter keeps the first slot's expected occupancy at one, as for a small cluster.
   */
  private resetElectionTimer(): void {
    this.electionElapsed = 0
    const base = this.options.electionTicks
    this.randomizedElectionTimeout = base + this.rng.int(Math.max(base, this.configs.current.voters.length))
  }

  /** Enter `term` (Figure 2: any higher term seen makes a server a follower and clears its vote). */
  private enterTerm(term: number): void {
    if (term !== this.currentTerm) {
      this.currentTerm = term
      this.vote = NO_LEADER
      this.hardStateDirty = true
    }
  }

  private becomeFollower(term: number, leader: NodeId): void {
    const wasLeader = this.currentRole === 'leader'
    this.enterTerm(term)
    this.currentRole = 'follower'
    this.currentLeader = leader
    this.votes.clear()
    this.resetElectionTimer()
    this.heartbeatElapsed = 0
    if (wasLeader) this.abdicate()
  }

  /** Leaving leadership: forget followers and send pending reads elsewhere (never answer them from here). */
  private abdicate(): void {
    this.progress.clear()
    this.transferTarget = NO_LEADER
    for (const r of this.reads.drain()) this.out.redirect(r.from, r.request, this.currentLeader, this.currentTerm)
  }

  private campaign(transfer: boolean): void {
    if (this.options.preVote && !transfer) this.becomePreCandidate()
    else this.becomeCandidate(transfer)
  }

  private becomePreCandidate(): void {
    this.currentRole = 'pre-candidate'
    this.currentLeader = NO_LEADER
    this.votes.clear()
    this.resetElectionTimer()
    this.logger('%d: term %d: pre-vote for term %d', this.id, this.currentTerm, this.currentTerm + 1)
    const m: PreVote = {
      type: 'PreVote', term: this.currentTerm + 1, lastLogIndex: this.log.lastIndex, lastLogTerm: this.log.lastTerm,
    }
    this.out.broadcast(this.configs.current.voters, this.id, m)
    this.recordVote(this.id, true)
  }

  private becomeCandidate(transfer: boolean): void {
    this.enterTerm(this.currentTerm + 1)
    this.vote = this.id
    this.hardStateDirty = true
    this.currentRole = 'candidate'
    this.currentLeader = NO_LEADER
    this.votes.clear()
    this.resetElectionTimer()
    this.logger('%d: term %d: campaigning', this.id, this.currentTerm)
    const m: RequestVote = {
      type: 'RequestVote', term: this.currentTerm, lastLogIndex: this.log.lastIndex, lastLogTerm: this.log.lastTerm,
      transfer,
    }
    this.out.broadcast(this.configs.current.voters, this.id, m)
    this.recordVote(this.id, true)
  }

  private becomeLeader(): void {
    this.currentRole = 'leader'
    this.currentLeader = this.id
    this.votes.clear()
    this.electionElapsed = 0
    this.heartbeatElapsed = 0
    this.progress.clear()
    this.uncommitted.clear()
    this.timeoutNowSent = false
    for (const peer of peersOf(this.configs.current, this.id)) this.progress.set(peer, new Progress(this.log.lastIndex + 1))
    // A configuration entry from an earlier term may still be uncommitted: wait for it before allowing another.
    this.pendingConfigIndex = this.log.lastIndex
    this.logger('%d: term %d: became leader', this.id, this.currentTerm)
    // §5.4.2 / §8: a no-op of the new term lets earlier entries commit (they never commit by counting, Figure 8).
    this.appendAsLeader({ term: this.currentTerm, type: 'noop' })
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Elections (§5.2, §5.4.1, §9.6).

  private inLease(): boolean {
    if (!this.options.checkQuorum) return false
    if (this.currentRole === 'leader') return true
    return this.sinceLeaderContact < this.options.electionTicks
  }

  private handleRequestVote(from: NodeId, m: RequestVote): void {
    const canVote = this.vote === NO_LEADER || this.vote === from
    const granted = canVote && this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)
    if (granted) {
      this.vote = from
      this.hardStateDirty = true
      this.electionElapsed = 0
    }
    this.out.send(from, { type: 'RequestVoteResponse', term: this.currentTerm, granted })
  }

  private handlePreVote(from: NodeId, m: PreVote): void {
    const granted = m.term > this.currentTerm && this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)
    this.out.send(from, { type: 'PreVoteResponse', term: granted ? m.term : this.currentTerm, granted })
  }

  private handleVoteResponse(from: NodeId, m: RequestVoteResponse): void {
    if (this.currentRole !== 'candidate') return
    this.recordVote(from, m.granted)
  }

  private handlePreVoteResponse(from: NodeId, m: PreVoteResponse): void {
    if (this.currentRole !== 'pre-candidate') return
    if (m.granted && m.term !== this.currentTerm + 1) return
    this.recordVote(from, m.granted)
  }

  private recordVote(from: NodeId, granted: boolean): void {
    const config = this.configs.current
    if (!isVoter(config, from)) return
    if (!this.votes.has(from)) this.votes.set(from, granted)
    const result = voteResult(this.votes, config.voters, quorumSize(config))
    if (result === 'won') {
      if (this.currentRole === 'pre-candidate') this.becomeCandidate(false)
      else this.becomeLeader()
    } else if (result === 'lost') {
      this.becomeFollower(this.currentTerm, NO_LEADER)
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Follower side of replication (§5.3).

  private handleAppendEntries(from: NodeId, m: AppendEntries): void {
    const term = this.currentTerm
    if (m.prevLogIndex < this.commit) {
      // Everything through commit is known to match; the leader resumes from there.
      this.out.send(from, { type: 'AppendEntriesResponse', term, success: true, index: this.commit, conflictTerm: 0, conflictIndex: 0 })
      return
    }
    const prevTerm = this.log.term(m.prevLogIndex)
    if (prevTerm !== m.prevLogTerm) {
      let conflictTerm = 0
      let conflictIndex = this.log.lastIndex + 1
      if (prevTerm !== undefined) {
        // Fast backtracking: point the leader at the first entry of the conflicting term.
        conflictTerm = prevTerm
        conflictIndex = m.prevLogIndex
        while (conflictIndex - 1 > this.commit && this.log.term(conflictIndex - 1) === prevTerm) conflictIndex--
      }
      this.out.send(from, {
        type: 'AppendEntriesResponse', term, success: false, index: m.prevLogIndex, conflictTerm, conflictIndex,
      })
      return
    }
    let index = m.prevLogIndex
    for (const e of m.entries) {
      index++
      const existing = this.log.term(index)
      if (existing === e.term) continue
      if (existing !== undefined) {
        // §5.3: a conflicting entry and everything after it go; committed entries never conflict (§5.4).
        if (index <= this.commit) throw new Error(`raft: leader ${from} conflicts with committed entry ${index}`)
        this.log.truncateFrom(index)
        this.configs.truncateFrom(index)
        this.durability.truncated(index - 1)
        this.out.persist({ kind: 'truncate', from: index })
      }
      this.appendEntry(e)
    }
    const lastNew = m.prevLogIndex + m.entries.length
    this.commitTo(Math.min(m.leaderCommit, lastNew))
    this.out.send(from, { type: 'AppendEntriesResponse', term, success: true, index: lastNew, conflictTerm: 0, conflictIndex: 0 })
  }

  private handleHeartbeat(from: NodeId, m: Heartbeat): void {
    // The leader sends min(commit, our match), so this never commits entries we might still have to replace.
    this.commitTo(Math.min(m.commit, this.log.lastIndex))
    this.out.send(from, { type: 'HeartbeatResponse', term: this.currentTerm, round: m.round })
  }

  private handleInstallSnapshot(from: NodeId, m: InstallSnapshot): void {
    const index = m.lastIncludedIndex
    let reply: number
    if (index <= this.commit) {
      reply = this.commit
    } else if (this.log.term(index) === m.lastIncludedTerm) {
      // §7: the snapshot describes a prefix of our log; keep the entries after it.
      this.commitTo(index)
      reply = index
    } else {
      this.logger('%d: term %d: installing snapshot at %d from %d', this.id, this.currentTerm, index, from)
      this.log.resetTo(index, m.lastIncludedTerm)
      // Nothing of the new log is durable until the snapshot's write is: it replaces every entry at or below `index`.
      this.durability.truncated(0)
      this.configs.reset(m.config)
      this.snapshot = { index, term: m.lastIncludedTerm, config: m.config, data: m.data }
      this.commit = index
      this.handedOut = index
      const meta = encodeSnapshotMeta({ lastIncludedTerm: m.lastIncludedTerm, config: m.config })
      this.out.persist({ kind: 'snapshot', index, meta, data: m.data })
      this.out.persist({ kind: 'truncate', from: index + 1 })
      this.out.installSnapshot(index, m.data)
      reply = index
    }
    this.out.send(from, { type: 'InstallSnapshotResponse', term: this.currentTerm, index: reply })
  }

  private appendEntry(e: Entry): number {
    const index = this.log.append(e)
    this.out.persist({ kind: 'entry', index, value: encodeEntry(e) })
    if (e.type === 'config') this.configs.appended(index, e.config)
    return index
  }

  private commitTo(index: number): void {
    if (index <= this.commit) return
    this.commit = index
    if (this.currentRole === 'leader') this.leaderCommitted()
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Leader side of replication.

  private appendAsLeader(e: Entry): void {
    const index = this.appendEntry(e)
    if (e.type === 'config') {
      this.pendingConfigIndex = index
      this.syncProgressWithConfiguration()
    }
    this.maybeCommit()
  }

  private syncProgressWithConfiguration(): void {
    const config = this.configs.current
    for (const id of [...this.progress.keys()]) if (!isMember(config, id)) this.progress.delete(id)
    for (const peer of peersOf(config, this.id)) {
      if (!this.progress.has(peer)) this.progress.set(peer, new Progress(this.log.lastIndex))
    }
  }

  /** §5.3-5.4.2: commit the highest index a majority of voters holds, but only by counting an entry of this term. */
  private maybeCommit(): void {
    const config = this.configs.current
    // Its own entries count once durable (§10.2.1: they may still be on their way to its disk).
    const matches = config.voters.map(v => v === this.id ? this.durability.durable : (this.progress.get(v)?.match ?? 0))
    const n = highestReachedByQuorum(matches, quorumSize(config)) ?? 0
    if (n > this.commit && this.log.term(n) === this.currentTerm) this.commitTo(n)
  }

  private leaderCommitted(): void {
    if (this.log.term(this.commit) === this.currentTerm) {
      for (const r of this.reads.takeAwaitingTermCommit()) this.queueRead(r)
    }
    // §4.2.2: a leader that removed itself manages the cluster until the change commits, then steps down.
    if (!isVoter(this.configs.current, this.id) && this.configs.currentIndex <= this.commit) {
      this.logger('%d: term %d: removed from the configuration, stepping down', this.id, this.currentTerm)
      this.becomeFollower(this.currentTerm, NO_LEADER)
    }
  }

  /** Send what each follower needs within its flow-control window: the batching and pipelining point. */
  private flushAppends(): void {
    const last = this.log.lastIndex
    // Keys, not entries: the host takes a Ready after every input, and entry pairs were an allocation per peer each time.
    for (const peer of this.progress.keys()) {
      const p = this.progress.get(peer)!
      if (p.state === 'probe') {
        if (!p.probeSent && p.match < last) this.sendAppend(peer, p, true)
      } else {
        while (p.state === 'replicate' && p.canSend(this.options.maxInflight) && p.next <= last) this.sendAppend(peer, p, false)
      }
    }
  }

  private sendAppend(peer: NodeId, p: Progress, allowEmpty: boolean): void {
    if (!p.canSend(this.options.maxInflight)) return
    const prevLogIndex = p.next - 1
    const prevLogTerm = this.log.term(prevLogIndex)
    if (prevLogTerm === undefined) {
      this.sendSnapshot(peer, p)
      return
    }
    const entries = p.next <= this.log.lastIndex
      ? this.log.slice(p.next, this.options.maxBatchCount, this.options.maxBatchBytes) : []
    if (entries.length === 0 && !allowEmpty) return
    this.sendFromLeader(peer, {
      type: 'AppendEntries', term: this.currentTerm, prevLogIndex, prevLogTerm, entries, leaderCommit: this.commit,
    })
    p.sent(prevLogIndex + entries.length)
  }

  /**
   * AppendEntries and heartbeats depend on nothing the leader has not made durable: its term and vote were synced
   * before it could win, and the commit index they carry counts only durable entries. So they may leave while the
   * leader's own append is still being written (§10.2.1), unless `parallelLeaderAppend` is off.
   */
  private sendFromLeader(peer: NodeId, message: RaftMessage): void {
    if (this.options.parallelLeaderAppend) this.out.sendBeforeSync(peer, message)
    else this.out.send(peer, message)
  }

  private sendSnapshot(peer: NodeId, p: Progress): void {
    const s = this.snapshot
    if (s === null) throw new Error(`raft: follower ${peer} needs entries before ${this.log.firstIndex} but no snapshot is held`)
    this.logger('%d: term %d: sending snapshot at %d to %d', this.id, this.currentTerm, s.index, peer)
    this.out.send(peer, {
      type: 'InstallSnapshot', term: this.currentTerm, lastIncludedIndex: s.index, lastIncludedTerm: s.term,
      config: s.config, data: s.data,
    })
    p.becomeSnapshot(s.index, this.now)
  }

  private handleAppendEntriesResponse(from: NodeId, m: AppendEntriesResponse): void {
    const p = this.currentRole === 'leader' ? this.progress.get(from) : undefined
    if (p === undefined) return
    p.recentActive = true
    if (!m.success) {
      if (p.rejected(m.index, this.nextFromHint(m))) this.sendAppend(from, p, true)
      return
    }
    const advanced = p.acknowledged(m.index)
    if (p.state === 'probe' && m.index >= p.match) p.becomeReplicate()
    else if (p.state === 'snapshot' && p.match >= p.pendingSnapshot) p.becomeProbe()
    if (!advanced) return
    this.maybeCommit()
    if (this.currentRole === 'leader' && from === this.transferTarget && p.match === this.log.lastIndex) {
      this.sendTimeoutNow(from)
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.timeoutNowSent = true
    this.out.send(to, { type: 'TimeoutNow', term: this.currentTerm })
  }

  /** Where to probe next after a rejection, from the follower's conflict hint (fast backtracking, §5.3). */
  private nextFromHint(m: AppendEntriesResponse): number {
    if (m.conflictTerm === 0) return m.conflictIndex
    let i = Math.min(m.index, this.log.lastIndex)
    while (i > this.log.snapshotIndex && this.log.term(i)! > m.conflictTerm) i--
    // Our last entry of conflictTerm, if we have one, is the latest point where the logs can agree.
    if (this.log.term(i) === m.conflictTerm) return i + 1
    return m.conflictIndex
  }

  private handleHeartbeatResponse(from: NodeId, m: HeartbeatResponse): void {
    const p = this.currentRole === 'leader' ? this.progress.get(from) : undefined
    if (p === undefined) return
    p.recentActive = true
    if (m.round > p.ackedRound) p.ackedRound = m.round
    p.heardFrom(this.options.maxInflight)
    if (p.state === 'snapshot' && this.now - p.snapshotSentAtTick >= this.options.electionTicks) {
      p.becomeProbe() // the snapshot (or its answer) was probably lost: find out what the follower needs again
    }
    if (p.state === 'replicate') {
      // Pipelined messages may have been lost: if the match has not moved for several heartbeats, probe again.
      if (p.match < this.log.lastIndex && p.match === p.matchAtLastHeartbeat) {
        if (++p.stalledHeartbeats >= STALLED_HEARTBEATS_BEFORE_PROBE) p.becomeProbe()
      } else {
        p.stalledHeartbeats = 0
      }
      p.matchAtLastHeartbeat = p.match
    }
    if (p.state === 'probe' && p.match < this.log.lastIndex) this.sendAppend(from, p, true)
    this.processReadBatches()
  }

  private handleInstallSnapshotResponse(from: NodeId, m: InstallSnapshotResponse): void {
    const p = this.currentRole === 'leader' ? this.progress.get(from) : undefined
    if (p === undefined) return
    p.recentActive = true
    const advanced = p.acknowledged(m.index)
    if (p.state === 'snapshot') p.becomeProbe()
    if (advanced) this.maybeCommit()
  }

  private broadcastHeartbeat(): void {
    const round = this.reads.startRound(this.now)
    for (const [peer, p] of this.progress) {
      this.sendFromLeader(peer, { type: 'Heartbeat', term: this.currentTerm, commit: Math.min(p.match, this.commit), round })
    }
  }

  private quorumActive(): boolean {
    const config = this.configs.current
    return quorumAgrees(config.voters, quorumSize(config), v => v === this.id || this.progress.get(v)?.recentActive === true)
  }

  private roundAcknowledgedByQuorum(round: number): boolean {
    const config = this.configs.current
    return quorumAgrees(config.voters, quorumSize(config), v => v === this.id || (this.progress.get(v)?.ackedRound ?? 0) >= round)
  }

  /** Serve read batches whose round a quorum acknowledged, in order; start the next round for reads that waited. */
  private processReadBatches(): void {
    while (this.currentRole === 'leader') {
      for (const r of this.reads.takeConfirmed(round => this.roundAcknowledgedByQuorum(round))) this.out.read(r.request, r.index)
      if (!this.reads.needsRound()) return
      this.broadcastHeartbeat()
    }
  }

  /**
   * Lease (dissertation §6.4.1): voters that acknowledged a heartbeat sent at tick t ignore other candidates until
   * t + electionTicks by their own clocks (check-quorum's vote lease), so no other leader can exist before then. One
   * heartbeat interval is kept back as the margin for clock drift. Never once a transfer's TimeoutNow went out in this
   * term (pending or abandoned: its election is exempt from the vote lease, and the message may still be in flight).
   */
  private leaseValid(): boolean {
    if (!this.options.leaseReads || this.transferTarget !== NO_LEADER || this.timeoutNowSent) return false
    const config = this.configs.current
    const sentTicks = config.voters.map(v => v === this.id ? this.now : this.reads.sentAt(this.progress.get(v)?.ackedRound ?? 0))
    const leaseStart = highestReachedByQuorum(sentTicks, quorumSize(config)) ?? -Infinity
    return this.now < leaseStart + this.options.electionTicks - this.options.heartbeatTicks
  }
}

export function createRaftReplica(ctx: ReplicaContext<RaftOptions>): RaftReplica {
  return new RaftReplica(ctx)
}
