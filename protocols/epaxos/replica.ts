/**
 * One EPaxos replica (Moraru, Park, Andersen, Kaminsky, SOSP 2013), the simplified variant of §4.3/§4.5 with fast
 * quorum `epaxosFastQuorum(n)` (2f for n = 2f+1) and the corrected recovery of recovery.ts. Every replica is the
 * command leader of its own instances (R.1, R.2, ...) and an acceptor for everyone else's:
 *
 *   Phase 1 (PreAccept):  the leader picks attributes from what it has seen and sends them to a fast quorum; each
 *                         member merges in the interfering instances it has seen and answers;
 *   fast path:            every fast-quorum answer left the attributes unchanged -> commit (one round trip);
 *   slow path:            otherwise Paxos-Accept the union from a majority, then commit (two round trips);
 *   Commit:               broadcast; every replica executes by strongly connected components (execution.ts);
 *   explicit prepare:     any replica recovers an instance that stays undecided (its leader crashed, a message got
 *                         lost, or something waits on it) with a higher ballot (recovery.ts).
 *
 * Durability: an instance's record is written before any message that depends on it leaves (the host syncs a
 * Ready's persist ops before sending its messages). Memory stays bounded by compaction: every replica broadcasts the
 * executed frontier of its last durable snapshot, and instances below everyone's are forgotten.
 */
import type { Ready, Replica, ReplicaContext } from '../../core/protocol.ts'
import { epaxosFastQuorum, epaxosRecoveryThreshold, majority } from '../../core/quorum.ts'
import { ReadyBuffer } from '../../core/ready.ts'
import type { ClientRequest, NodeId, ReplicaStatus } from '../../core/types.ts'
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import type { Instance } from './instance.ts'
import {
  batchKeys, ConflictTable, decodeInstanceRecord, encodeInstanceRecord, instanceKey, keyNum, keyPosition, newInstance,
  RECORD_BASE, recordIndex,
} from './instance.ts'
import { planExecution, type ExecutionGraph } from './execution.ts'
import { aboveKeysOf, contains, decodeExecutedSet, emptyExecutedSet, encodeExecutedSet, type ExecutedSet } from './executed-set.ts'
import type {
  Accept, AcceptOK, Batch, Commit, EpaxosMessage, Frontier, Nack, PreAccept, PreAcceptOK, Prepare, PrepareOK,
} from './messages.ts'
import { readNumbers, writeNumbers } from './messages.ts'
import type { EpaxosOptions } from './options.ts'
import { decideRecovery, type PrepareReply } from './recovery.ts'

/** Hard-state record: the next own instance number (numbers are never reused, even once compaction forgot them). */
const NEXT_KEY = 'epaxos.next'
/** Hard-state record: per replica, instances up to here are executed everywhere and forgotten. */
const COMPACTED_KEY = 'epaxos.compacted'

/** Round-trip samples are capped at this many configured phase timeouts. */
const RTT_CAP_TIMEOUTS = 10

/** A phase this replica runs for one instance, as its command leader or as a recoverer. */
type Phase =
  | { kind: 'preaccept'; ballot: number; startedAt: number; sentAt: number; timeout: number; timedOut: boolean; fastAllowed: boolean;
    replied: Set<number>; seq: number; deps: number[]; originalSeq: number; originalDeps: number[]; allUnchanged: boolean }
  | { kind: 'accept'; ballot: number; startedAt: number; sentAt: number; timeout: number; acked: Set<number>; targets: number[] }
  | { kind: 'prepare'; ballot: number; startedAt: number; sentAt: number; timeout: number; replies: Map<number, PrepareReply> }

export class EpaxosReplica implements Replica<EpaxosMessage> {
  private readonly ctx: ReplicaContext<EpaxosOptions>
  private readonly o: EpaxosOptions
  private readonly out = new ReadyBuffer<EpaxosMessage>()
  private readonly n: number
  /** This replica's position in the member list: the index of its entry in deps vectors. */
  private readonly me: number
  private readonly fastQuorum: number
  private readonly majority: number
  private readonly recoveryThreshold: number
  private readonly instances: Array<Map<number, Instance>>
  private readonly conflicts: ConflictTable
  private readonly phases = new Map<number, Phase>()
  /** Known instances not committed here: watched for recovery. */
  private readonly undecided = new Set<number>()
  /** Dependencies an execution waits for and this replica does not hold at all, with when to recover them. */
  private readonly missing = new Map<number, number>()
  /** Committed instances whose execution stopped at an undecided dependency, by that dependency. */
  private readonly blockedOn = new Map<number, Set<Instance>>()
  private readonly executedUpToArr: number[]
  private readonly compacted: number[]
  /** The frontier of this replica's last durable snapshot, and each peer's last announced one. */
  private durableFrontier: number[]
  private readonly peerFrontier: number[][]
  private nextNum: number
  private localIndex: number
  private ticks = 0
  private lastFrontierAt = 0
  private readonly lastHeard: number[]
  /**
   * Smoothed round trip to each peer in ticks (0: not measured yet), from this replica's phases: the thrifty quorums
   * are the nearest peers, and waits before re-sending or recovering stretch with distance (a WAN round trip can be
   * many default timeouts long).
   */
  private readonly rtt: number[]
  /** When this replica first sent the phase of a recently decided instance, by key: replies that come late still measure. */
  private readonly recentSends = new Map<number, { readonly ballot: number; readonly sentAt: number }>()
  /**
   * The tick a recovery this replica started found the instance already committed elsewhere: it missed Commits (it was
   * cut off or paused), so the next unknown dependency is likely committed too and is asked for at once.
   */
  private catchingUpAt = -Infinity
  /** Requests waiting for an instance of this replica, and those already in one (not executed): not proposed twice. */
  private queue: ClientRequest[] = []
  private readonly proposedHere = new Map<number, number>()
  /** This replica's undecided instances with the batch each proposed (a no-op commit sends it out again). */
  private readonly ownInflight = new Map<number, Batch>()
  private readonly graph: ExecutionGraph
  /** The last components executed, in order: a snapshot taken inside one records the rest of it (executed-set.ts). */
  private readonly recentComponents: Instance[][] = []

  constructor(ctx: ReplicaContext<EpaxosOptions>) {
    this.ctx = ctx
    this.o = ctx.options
    this.n = ctx.members.length
    this.me = ctx.members.indexOf(ctx.id)
    if (this.me < 0) throw new Error(`epaxos replica ${ctx.id} is not among the members ${ctx.members.join(',')}`)
    this.fastQuorum = epaxosFastQuorum(this.n)
    this.majority = majority(this.n)
    this.recoveryThreshold = epaxosRecoveryThreshold(this.n)
    this.instances = Array.from({ length: this.n }, () => new Map<number, Instance>())
    this.conflicts = new ConflictTable(this.n)
    this.executedUpToArr = new Array<number>(this.n).fill(0)
    this.compacted = new Array<number>(this.n).fill(0)
    this.durableFrontier = new Array<number>(this.n).fill(0)
    this.peerFrontier = Array.from({ length: this.n }, () => new Array<number>(this.n).fill(0))
    this.lastHeard = new Array<number>(this.n).fill(0)
    this.rtt = new Array<number>(this.n).fill(0)
    this.nextNum = 1
    this.localIndex = 0
    this.graph = {
      n: this.n,
      get: (p, num) => this.instances[p]!.get(num),
      executedUpTo: p => this.executedUpToArr[p]!,
    }
    this.recover()
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Restart: instances from the log, the executed set from the snapshot's meta.

  private recover(): void {
    const { recovered } = this.ctx
    const next = recovered.hard.get(NEXT_KEY)
    if (next !== undefined) this.nextNum = decodeNumber(next)
    const compacted = recovered.hard.get(COMPACTED_KEY)
    if (compacted !== undefined) decodeVector(compacted).forEach((v, q) => { if (q < this.n) this.compacted[q] = v })
    let executed: ExecutedSet = emptyExecutedSet(this.n)
    if (recovered.snapshot !== null) {
      this.localIndex = recovered.snapshot.index
      if (recovered.snapshot.meta.length > 0) executed = decodeExecutedSet(recovered.snapshot.meta, r => this.conflicts.decode(r))
    }
    this.durableFrontier = executed.frontier.slice()
    const above = aboveKeysOf(executed)
    for (const rec of recovered.log) {
      if (rec.index < RECORD_BASE) continue
      const inst = decodeInstanceRecord(rec.value, this.n)
      if (inst.replica >= this.n || inst.num <= this.compacted[inst.replica]!) continue
      inst.keys = batchKeys(inst.requests, this.ctx.conflictKeys)
      if (inst.status === 'committed' && contains(executed, inst.replica, inst.num, above)) inst.executed = true
      this.instances[inst.replica]!.set(inst.num, inst)
      this.conflicts.record(inst)
      if (inst.replica === this.me && inst.num >= this.nextNum) this.nextNum = inst.num + 1
    }
    for (let q = 0; q < this.n; q++) {
      this.executedUpToArr[q] = this.compacted[q]!
      this.advanceExecutedUpTo(q)
    }
    // Committed instances the restored state does not include run again, in a fixed order; undecided ones are
    // watched for recovery (this replica's own included: it no longer knows what it had sent).
    const committed: Instance[] = []
    for (const byNum of this.instances) {
      for (const inst of byNum.values()) {
        if (inst.status === 'committed') { if (!inst.executed) committed.push(inst) } else this.watch(inst)
      }
    }
    // First the rest of the component the snapshot cut, in its order; then everything else.
    const rest: Instance[] = []
    for (const [p, num] of executed.pending) {
      const inst = this.instances[p]?.get(num)
      if (inst !== undefined && inst.status === 'committed' && !inst.executed) { this.executeOne(inst); rest.push(inst) }
    }
    if (rest.length > 0) this.recentComponents.push(rest)
    committed.sort((a, b) => a.replica - b.replica || a.num - b.num)
    for (const inst of committed) if (!inst.executed) this.execute(inst)
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Inputs

  propose(request: ClientRequest): void {
    // A retry of a request already in one of this replica's undecided instances: that instance answers it.
    if (this.proposedHere.get(request.clientId) === request.seq) return
    this.proposedHere.set(request.clientId, request.seq)
    this.queue.push(request)
    this.startInstances()
  }

  receive(from: NodeId, message: EpaxosMessage): void {
    const p = this.ctx.members.indexOf(from)
    if (p < 0 || p === this.me) return
    this.lastHeard[p] = this.ticks
    if (message.type === 'Frontier') { this.onFrontier(p, message); return }
    if (message.replica >= this.n || message.num < 1) return
    if ('deps' in message && message.deps.length !== this.n) return
    if (message.num <= this.compacted[message.replica]!) return // executed everywhere: nobody still needs an answer
    switch (message.type) {
      case 'PreAccept': this.onPreAccept(p, message); break
      case 'PreAcceptOK': this.onPreAcceptOK(p, message); break
      case 'Accept': this.onAccept(p, message); break
      case 'AcceptOK': this.onAcceptOK(p, message); break
      case 'Commit': this.onCommit(message); break
      case 'Prepare': this.onPrepare(p, message); break
      case 'PrepareOK': this.onPrepareOK(p, message); break
      case 'Nack': this.onNack(message); break
    }
  }

  tick(): void {
    this.ticks++
    for (const [key, phase] of this.phases) {
      if (this.ticks - phase.startedAt < phase.timeout) continue
      const inst = this.instances[keyPosition(key)]!.get(keyNum(key))
      if (inst === undefined || inst.status === 'committed') { this.phases.delete(key); continue }
      this.phaseTimedOut(inst, phase)
    }
    for (const key of this.undecided) {
      const inst = this.instances[keyPosition(key)]!.get(keyNum(key))
      if (inst === undefined || inst.status === 'committed') { this.undecided.delete(key); continue }
      if (this.ticks >= inst.recoverAt && !this.phases.has(key)) this.startRecovery(inst)
    }
    for (const [key, at] of this.missing) {
      const held = this.instances[keyPosition(key)]!.get(keyNum(key))
      if (held !== undefined || keyNum(key) <= this.compacted[keyPosition(key)]!) { this.missing.delete(key); continue }
      if (this.ticks >= at) {
        this.missing.delete(key)
        this.startRecovery(this.holdInstance(keyPosition(key), keyNum(key)))
      }
    }
    if (this.ticks - this.lastFrontierAt >= this.o.frontierTicks) {
      this.lastFrontierAt = this.ticks
      this.out.broadcast(this.ctx.members, this.ctx.id, { type: 'Frontier', executed: this.durableFrontier.slice() })
    }
  }

  /** The host snapshotted right after local index `index`: record which instances that state contains (§4.7). */
  snapshotTaken(index: number, data: Uint8Array): void {
    const executed = this.executedSetAt(index)
    this.out.persist({ kind: 'snapshot', index, meta: encodeExecutedSet(executed, w => this.conflicts.encode(w)), data })
    // Announced from the next Frontier on, which leaves after this Ready's sync: only durable state is announced.
    this.durableFrontier = executed.frontier.slice()
    this.compact()
  }

  ready(): Ready<EpaxosMessage> {
    return this.out.take()
  }

  status(): ReplicaStatus {
    let held = 0
    for (const byNum of this.instances) held += byNum.size
    return { role: 'replica', epoch: 0, leader: null, commitIndex: this.localIndex, logSize: held }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Command leader: Phase 1, fast and slow path (Figure 2)

  private startInstances(): void {
    while (this.queue.length > 0 && this.ownInflight.size < this.o.maxInflight) {
      const batch = this.queue.splice(0, this.o.maxBatchCount)
      this.startOwnInstance(batch)
    }
  }

  private startOwnInstance(batch: Batch): void {
    const num = this.nextNum++
    this.out.persist({ kind: 'put', key: NEXT_KEY, value: encodeNumber(this.nextNum) })
    const inst = newInstance(this.me, num, this.n)
    this.instances[this.me]!.set(num, inst)
    inst.requests = batch
    inst.keys = batchKeys(batch, this.ctx.conflictKeys)
    // Figure 2, Phase 1 step 1: seq = 1 + max seq of interfering instances, deps = all interfering instances.
    const attrs = this.conflicts.attributes(inst.keys)
    inst.status = 'preaccepted'
    inst.seq = attrs.seq
    inst.deps = attrs.deps
    inst.unchanged = true
    this.conflicts.record(inst)
    this.persistInstance(inst)
    this.ownInflight.set(num, batch)
    if (this.ctx.log.enabled) this.ctx.log('t%d start %s with %d requests, seq %d deps %s', this.ticks, name(inst), batch.length, inst.seq, inst.deps.join(','))
    this.startPreAccept(inst, 0, this.quorumTargets(this.fastQuorum - 1))
  }

  /**
   * Peers for a phase: thrifty picks `count` of them, preferring ones heard from lately, then the nearest (measured
   * round trip; ties by place in the ring after this replica, which spreads the load), else every peer.
   */
  private quorumTargets(count: number): number[] {
    const others: number[] = []
    for (let k = 1; k < this.n; k++) others.push((this.me + k) % this.n)
    if (!this.o.thrifty) return others
    const silent = (p: number) => this.ticks - this.lastHeard[p]! > 2 * this.o.frontierTicks ? 1 : 0
    const ring = (p: number) => (p - this.me + this.n) % this.n
    others.sort((a, b) => silent(a) - silent(b) || this.rtt[a]! - this.rtt[b]! || ring(a) - ring(b))
    return others.slice(0, count)
  }

  /** Ticks to wait for `targets` before re-sending: the configured timeout, or twice the slowest round trip. */
  private phaseTimeout(targets: readonly number[]): number {
    let slowest = 0
    for (const p of targets) if (this.rtt[p]! > slowest) slowest = this.rtt[p]!
    return Math.max(this.o.phaseTimeoutTicks, Math.ceil(2 * slowest) + 1)
  }

  /** Ticks before an undecided instance is recovered: the configured wait plus three of the slowest round trips. */
  private recoveryDelay(): number {
    let slowest = 0
    for (const r of this.rtt) if (r > slowest) slowest = r
    const base = this.o.recoveryTicks + Math.ceil(3 * slowest)
    return base + this.ctx.rng.int(base)
  }

  /**
   * A reply to a phase this replica first sent at `sentAt`: one round-trip sample, measured from the first send even
   * when it was re-sent since (a peer farther than the timeout would otherwise never be measured; a lost first send
   * only makes the estimate err long).
   */
  /** A reply after its instance was decided (the quorum answered first): still a round trip to measure, once. */
  private sampleLate(from: number, key: number, ballot: number): void {
    const sent = this.recentSends.get(key)
    if (sent !== undefined && sent.ballot === ballot) this.sampleRtt(from, sent.sentAt)
  }

  private sampleRtt(from: number, sentAt: number): void {
    // Capped: a reply that waited out a partition or a pause says nothing about the distance, and an estimate that
    // large would stretch every wait (recovery most of all) for a long time.
    const sample = Math.min(Math.max(0.5, this.ticks - sentAt), RTT_CAP_TIMEOUTS * this.o.phaseTimeoutTicks)
    const known = this.rtt[from]!
    this.rtt[from] = known === 0 ? sample : (3 * known + sample) / 4
  }

  private startPreAccept(inst: Instance, ballot: number, targets: number[]): void {
    const key = instanceKey(inst.replica, inst.num)
    this.phases.set(key, {
      kind: 'preaccept', ballot, startedAt: this.ticks, sentAt: this.ticks, timeout: this.phaseTimeout(targets), timedOut: false,
      fastAllowed: ballot === 0,
      replied: new Set(), seq: inst.seq, deps: inst.deps.slice(), originalSeq: inst.seq, originalDeps: inst.deps.slice(),
      allUnchanged: true,
    })
    const message: PreAccept = {
      type: 'PreAccept', ballot, replica: inst.replica, num: inst.num, requests: inst.requests, seq: inst.seq, deps: inst.deps.slice(),
    }
    for (const p of targets) this.out.send(this.ctx.members[p]!, message)
    this.checkPreAccept(inst, this.phases.get(key) as Extract<Phase, { kind: 'preaccept' }>)
  }

  private onPreAccept(from: number, m: PreAccept): void {
    const inst = this.holdInstance(m.replica, m.num)
    if (inst.status === 'committed') { this.sendCommit(from, inst); return }
    if (m.ballot < inst.ballot) { this.nack(from, m.ballot, inst); return }
    if (inst.status === 'preaccepted' && inst.vballot === m.ballot && m.ballot === inst.ballot && inst.requests.length > 0) {
      // A re-sent PreAccept: answer with what this replica already answered (recomputing would count the instance itself).
      this.sendPreAcceptOK(from, inst, m.ballot)
      return
    }
    if (inst.status === 'accepted' && inst.vballot === m.ballot) return // that ballot's leader has moved on to Accept
    this.setBatch(inst, m.requests)
    // Figure 2, Phase 1 step 2: merge in every interfering instance this replica has seen.
    const local = this.conflicts.attributes(inst.keys)
    const deps = m.deps.slice()
    let unchanged = true
    for (let q = 0; q < this.n; q++) {
      if (local.deps[q]! > deps[q]!) { deps[q] = local.deps[q]!; unchanged = false }
    }
    let seq = m.seq
    if (local.seq > seq) { seq = local.seq; unchanged = false }
    inst.status = 'preaccepted'
    inst.seq = seq
    inst.deps = deps
    inst.ballot = m.ballot
    inst.vballot = m.ballot
    inst.unchanged = m.ballot === 0 && unchanged
    this.conflicts.record(inst)
    this.persistInstance(inst)
    this.watch(inst)
    this.sendPreAcceptOK(from, inst, m.ballot)
  }

  private sendPreAcceptOK(to: number, inst: Instance, ballot: number): void {
    this.out.send(this.ctx.members[to]!, {
      type: 'PreAcceptOK', ballot, replica: inst.replica, num: inst.num, seq: inst.seq, deps: inst.deps.slice(),
      unchanged: inst.unchanged,
    })
  }

  private onPreAcceptOK(from: number, m: PreAcceptOK): void {
    const key = instanceKey(m.replica, m.num)
    const phase = this.phases.get(key)
    const inst = this.instances[m.replica]!.get(m.num)
    if (phase === undefined) { this.sampleLate(from, key, m.ballot); return }
    if (phase.kind !== 'preaccept' || phase.ballot !== m.ballot || inst === undefined || phase.replied.has(from)) return
    phase.replied.add(from)
    this.sampleRtt(from, phase.sentAt)
    if (!m.unchanged || m.seq !== phase.originalSeq || !sameVector(m.deps, phase.originalDeps)) phase.allUnchanged = false
    // Slow path attributes: the union over the replies (Figure 2, Phase 1 step 3, "update deps, seq").
    if (m.seq > phase.seq) phase.seq = m.seq
    for (let q = 0; q < this.n; q++) if (m.deps[q]! > phase.deps[q]!) phase.deps[q] = m.deps[q]!
    this.checkPreAccept(inst, phase)
  }

  private checkPreAccept(inst: Instance, phase: Extract<Phase, { kind: 'preaccept' }>): void {
    const replies = phase.replied.size
    // Fast path: a fast quorum (the leader and fastQuorum - 1 others) all left the attributes as proposed.
    if (phase.fastAllowed && phase.allUnchanged && replies >= this.fastQuorum - 1) {
      this.commitAsLeader(inst, inst.requests, phase.originalSeq, phase.originalDeps)
      return
    }
    // Slow path once a majority answered and the fast path is out of reach (changed attributes, a recovery ballot,
    // or the fast quorum did not answer in time).
    const fastOut = !phase.fastAllowed || !phase.allUnchanged || phase.timedOut
    if (replies >= this.majority - 1 && fastOut) {
      const acceptedBy = [...phase.replied]
      this.startAccept(inst, phase.ballot, inst.requests, phase.seq, phase.deps, acceptedBy)
    }
  }

  private startAccept(inst: Instance, ballot: number, requests: Batch, seq: number, deps: readonly number[], preferred: number[]): void {
    inst.status = 'accepted'
    this.setBatch(inst, requests)
    inst.seq = seq
    inst.deps = deps.slice()
    inst.vballot = ballot
    inst.unchanged = false
    this.conflicts.record(inst)
    this.persistInstance(inst)
    const targets = this.acceptTargets(preferred)
    const phase: Phase = {
      kind: 'accept', ballot, startedAt: this.ticks, sentAt: this.ticks, timeout: this.phaseTimeout(targets), acked: new Set(), targets,
    }
    this.phases.set(instanceKey(inst.replica, inst.num), phase)
    const message: Accept = { type: 'Accept', ballot, replica: inst.replica, num: inst.num, requests, seq, deps: deps.slice() }
    for (const p of targets) this.out.send(this.ctx.members[p]!, message)
    if (this.majority - 1 <= 0) this.commitAsLeader(inst, requests, seq, deps)
  }

  /** Thrifty: a majority, preferring replicas that answered phase 1 (they hold the command already). */
  private acceptTargets(preferred: number[]): number[] {
    const all = this.quorumTargets(this.n - 1)
    if (!this.o.thrifty) return all
    const ordered = [...preferred, ...all.filter(p => !preferred.includes(p))]
    return ordered.slice(0, this.majority - 1)
  }

  private onAccept(from: number, m: Accept): void {
    const inst = this.holdInstance(m.replica, m.num)
    if (inst.status === 'committed') { this.sendCommit(from, inst); return }
    if (m.ballot < inst.ballot) { this.nack(from, m.ballot, inst); return }
    inst.status = 'accepted'
    this.setBatch(inst, m.requests)
    inst.seq = m.seq
    inst.deps = m.deps.slice()
    inst.ballot = m.ballot
    inst.vballot = m.ballot
    inst.unchanged = false
    this.conflicts.record(inst)
    this.persistInstance(inst)
    this.watch(inst)
    this.out.send(this.ctx.members[from]!, { type: 'AcceptOK', ballot: m.ballot, replica: m.replica, num: m.num })
  }

  private onAcceptOK(from: number, m: AcceptOK): void {
    const phase = this.phases.get(instanceKey(m.replica, m.num))
    const inst = this.instances[m.replica]!.get(m.num)
    if (phase === undefined) { this.sampleLate(from, instanceKey(m.replica, m.num), m.ballot); return }
    if (phase.kind !== 'accept' || phase.ballot !== m.ballot || inst === undefined) return
    if (!phase.acked.has(from)) this.sampleRtt(from, phase.sentAt)
    phase.acked.add(from)
    if (phase.acked.size >= this.majority - 1) this.commitAsLeader(inst, inst.requests, inst.seq, inst.deps)
  }

  private commitAsLeader(inst: Instance, requests: Batch, seq: number, deps: readonly number[]): void {
    if (this.ctx.log.enabled) this.ctx.log('t%d commit %s as leader at ballot %d seq %d deps %s', this.ticks, name(inst), inst.ballot, seq, deps.join(','))
    this.markCommitted(inst, requests, seq, deps)
    const message: Commit = { type: 'Commit', replica: inst.replica, num: inst.num, requests, seq, deps: deps.slice() }
    this.out.broadcast(this.ctx.members, this.ctx.id, message)
    this.afterCommit(inst)
  }

  private onCommit(m: Commit): void {
    const inst = this.holdInstance(m.replica, m.num)
    if (this.phases.get(instanceKey(m.replica, m.num))?.kind === 'prepare' && inst.status !== 'committed') this.catchingUpAt = this.ticks
    if (inst.status === 'committed') {
      if (this.ctx.log.enabled && (inst.seq !== m.seq || !sameVector(inst.deps, m.deps) || inst.requests.length !== m.requests.length)) {
        this.ctx.log('t%d a Commit for %s disagrees with what is committed here (seq %d deps %s): seq %d deps %s', this.ticks, name(inst), inst.seq, inst.deps.join(','), m.seq, m.deps.join(','))
      }
      return
    }
    if (this.ctx.log.enabled) this.ctx.log('t%d learn commit %s seq %d deps %s reqs %s', this.ticks, name(inst), m.seq, m.deps.join(','), m.requests.map(r => `${r.clientId}:${r.seq}`).join(','))
    this.markCommitted(inst, m.requests, m.seq, m.deps)
    this.afterCommit(inst)
  }

  private sendCommit(to: number, inst: Instance): void {
    this.out.send(this.ctx.members[to]!, {
      type: 'Commit', replica: inst.replica, num: inst.num, requests: inst.requests, seq: inst.seq, deps: inst.deps.slice(),
    })
  }

  private markCommitted(inst: Instance, requests: Batch, seq: number, deps: readonly number[]): void {
    inst.status = 'committed'
    this.setBatch(inst, requests)
    inst.seq = seq
    inst.deps = deps.slice()
    inst.unchanged = false
    this.conflicts.record(inst)
    this.persistInstance(inst)
  }

  private afterCommit(inst: Instance): void {
    const key = instanceKey(inst.replica, inst.num)
    const phase = this.phases.get(key)
    if (phase !== undefined) {
      this.recentSends.set(key, { ballot: phase.ballot, sentAt: phase.sentAt })
      if (this.recentSends.size > 256) this.recentSends.delete(this.recentSends.keys().next().value!)
    }
    this.phases.delete(key)
    this.undecided.delete(key)
    this.missing.delete(key)
    if (inst.replica === this.me) {
      const proposed = this.ownInflight.get(inst.num)
      if (proposed !== undefined) {
        this.ownInflight.delete(inst.num)
        // Recovery committed a no-op in its place (a recoverer found no copy of it): propose the batch again.
        if (inst.requests.length === 0) {
          for (const r of proposed) if (this.proposedHere.get(r.clientId) === r.seq) this.queue.push(r)
        }
        this.startInstances()
      }
    }
    if (!inst.executed) this.execute(inst)
    const waiting = this.blockedOn.get(key)
    if (waiting !== undefined) {
      this.blockedOn.delete(key)
      for (const root of waiting) if (!root.executed) this.execute(root)
    }
  }

  private nack(to: number, ballot: number, inst: Instance): void {
    this.out.send(this.ctx.members[to]!, { type: 'Nack', ballot, replica: inst.replica, num: inst.num, promised: inst.ballot })
  }

  /** Someone promised a higher ballot for an instance this replica was driving: it is theirs to finish now. */
  private onNack(m: Nack): void {
    const key = instanceKey(m.replica, m.num)
    const phase = this.phases.get(key)
    const inst = this.instances[m.replica]!.get(m.num)
    if (inst !== undefined && m.promised > inst.seenBallot) inst.seenBallot = m.promised
    if (phase === undefined || phase.ballot !== m.ballot || inst === undefined) return
    this.phases.delete(key)
    this.watch(inst)
  }

  private phaseTimedOut(inst: Instance, phase: Phase): void {
    phase.startedAt = this.ticks
    if (phase.kind === 'preaccept') {
      // The fast quorum did not answer in time: ask everyone, and settle for the slow path.
      phase.timedOut = true
      const message: PreAccept = {
        type: 'PreAccept', ballot: phase.ballot, replica: inst.replica, num: inst.num, requests: inst.requests,
        seq: phase.originalSeq, deps: phase.originalDeps.slice(),
      }
      for (let p = 0; p < this.n; p++) if (p !== this.me && !phase.replied.has(p)) this.out.send(this.ctx.members[p]!, message)
      this.checkPreAccept(inst, phase)
    } else if (phase.kind === 'accept') {
      const message: Accept = {
        type: 'Accept', ballot: phase.ballot, replica: inst.replica, num: inst.num, requests: inst.requests, seq: inst.seq,
        deps: inst.deps.slice(),
      }
      for (let p = 0; p < this.n; p++) if (p !== this.me && !phase.acked.has(p)) this.out.send(this.ctx.members[p]!, message)
    } else {
      const message: Prepare = { type: 'Prepare', ballot: phase.ballot, replica: inst.replica, num: inst.num }
      for (let p = 0; p < this.n; p++) if (p !== this.me && !phase.replies.has(p)) this.out.send(this.ctx.members[p]!, message)
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Explicit prepare (§4.5, recovery.ts)

  /** Start or restart the watch on an undecided instance: recover it if it is still undecided after a while. */
  private watch(inst: Instance): void {
    if (inst.status === 'committed') return
    const key = instanceKey(inst.replica, inst.num)
    this.undecided.add(key)
    inst.recoverAt = this.ticks + this.recoveryDelay()
  }

  private startRecovery(inst: Instance): void {
    const key = instanceKey(inst.replica, inst.num)
    if (inst.status === 'committed' || this.phases.has(key)) return
    // A ballot above every one seen, owned by this replica: round * n + position (the command leader's own is 0).
    const above = Math.max(inst.ballot, inst.seenBallot)
    const ballot = (Math.floor(above / this.n) + 1) * this.n + this.me
    inst.ballot = ballot
    this.persistInstance(inst)
    this.watch(inst)
    const replies = new Map<number, PrepareReply>()
    replies.set(this.me, this.replyOf(this.me, inst))
    const everyone = this.quorumTargets(this.n - 1)
    this.phases.set(key, { kind: 'prepare', ballot, startedAt: this.ticks, sentAt: this.ticks, timeout: this.phaseTimeout(everyone), replies })
    this.out.broadcast(this.ctx.members, this.ctx.id, { type: 'Prepare', ballot, replica: inst.replica, num: inst.num })
    this.checkPrepare(inst)
  }

  private replyOf(from: number, inst: Instance): PrepareReply {
    return {
      from, status: inst.status, vballot: inst.vballot, unchanged: inst.unchanged, requests: inst.requests, seq: inst.seq,
      deps: inst.deps.slice(),
    }
  }

  private onPrepare(from: number, m: Prepare): void {
    const inst = this.holdInstance(m.replica, m.num)
    if (inst.status === 'committed') { this.sendCommit(from, inst); return }
    if (m.ballot < inst.ballot) { this.nack(from, m.ballot, inst); return }
    if (m.ballot > inst.ballot) {
      inst.ballot = m.ballot
      this.persistInstance(inst) // the promise is durable before it leaves
      const key = instanceKey(inst.replica, inst.num)
      const phase = this.phases.get(key)
      if (phase !== undefined && phase.ballot < m.ballot) this.phases.delete(key)
    }
    this.watch(inst)
    const r = this.replyOf(this.me, inst)
    const reply: PrepareOK = {
      type: 'PrepareOK', ballot: m.ballot, replica: m.replica, num: m.num, status: r.status, vballot: r.vballot,
      unchanged: r.unchanged, requests: r.requests, seq: r.seq, deps: r.deps.slice(),
    }
    this.out.send(this.ctx.members[from]!, reply)
  }

  private onPrepareOK(from: number, m: PrepareOK): void {
    const phase = this.phases.get(instanceKey(m.replica, m.num))
    const inst = this.instances[m.replica]!.get(m.num)
    if (phase?.kind !== 'prepare' || phase.ballot !== m.ballot || inst === undefined) return
    phase.replies.set(from, {
      from, status: m.status, vballot: m.vballot, unchanged: m.unchanged, requests: m.requests, seq: m.seq, deps: m.deps,
    })
    this.checkPrepare(inst)
  }

  private checkPrepare(inst: Instance): void {
    const key = instanceKey(inst.replica, inst.num)
    const phase = this.phases.get(key)
    if (phase?.kind !== 'prepare' || phase.replies.size < this.majority) return
    const decision = decideRecovery([...phase.replies.values()], inst.replica, this.recoveryThreshold, this.n)
    if (this.ctx.log.enabled) {
      this.ctx.log('t%d recovery of %s at ballot %d: %s %s from %j', this.ticks, name(inst), phase.ballot, decision.kind,
        decision.kind === 'accept' ? decision.rule : '', [...phase.replies.values()].map(r => `${r.from}:${r.status}@${r.vballot}${r.unchanged ? '=' : ''} s${r.seq} d${r.deps.join(',')}`))
    }
    this.phases.delete(key)
    if (decision.kind === 'commit') {
      this.commitAsLeader(inst, decision.requests, decision.seq, decision.deps)
    } else if (decision.kind === 'accept') {
      this.startAccept(inst, phase.ballot, decision.requests, decision.seq, decision.deps, [])
    } else {
      // Rule 4: phase 1 again at this ballot, attributes computed afresh (this replica's view, merged by a majority).
      this.setBatch(inst, decision.requests)
      const attrs = this.conflicts.attributes(inst.keys)
      inst.status = 'preaccepted'
      inst.seq = attrs.seq
      inst.deps = attrs.deps
      inst.vballot = phase.ballot
      inst.unchanged = false
      this.conflicts.record(inst)
      this.persistInstance(inst)
      this.startPreAccept(inst, phase.ballot, this.quorumTargets(this.n - 1))
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Execution (§4.3.2, execution.ts)

  private execute(root: Instance): void {
    const plan = planExecution(root, this.graph)
    for (const component of plan.components) {
      for (const inst of component) this.executeOne(inst)
      this.recentComponents.push(component)
      if (this.recentComponents.length > 64) this.recentComponents.shift()
    }
    if (plan.blockedOn !== null && !root.executed) {
      const key = instanceKey(plan.blockedOn.position, plan.blockedOn.num)
      let waiting = this.blockedOn.get(key)
      if (waiting === undefined) { waiting = new Set(); this.blockedOn.set(key, waiting) }
      waiting.add(root)
      const dep = this.instances[plan.blockedOn.position]!.get(plan.blockedOn.num)
      if (dep === undefined) {
        // §4.5: a replica that waits on an instance it never heard of recovers it if it stays unknown.
        const catchingUp = this.ticks - this.catchingUpAt <= this.o.recoveryTicks
        if (!this.missing.has(key)) this.missing.set(key, this.ticks + (catchingUp ? 1 : this.recoveryDelay()))
      } else if (!this.undecided.has(key)) {
        this.watch(dep)
      }
    }
  }

  private executeOne(inst: Instance): void {
    if (this.ctx.log.enabled) this.ctx.log('t%d execute %s seq %d deps %s reqs %s', this.ticks, name(inst), inst.seq, inst.deps.join(','), inst.requests.map(r => `${r.clientId}:${r.seq}`).join(','))
    inst.executed = true
    if (inst.requests.length > 0) {
      this.localIndex++
      this.out.commit({ index: this.localIndex, requests: inst.requests })
      for (const r of inst.requests) if (this.proposedHere.get(r.clientId) === r.seq) this.proposedHere.delete(r.clientId)
    }
    inst.execIndex = this.localIndex
    this.advanceExecutedUpTo(inst.replica)
  }

  private advanceExecutedUpTo(q: number): void {
    const byNum = this.instances[q]!
    let upTo = this.executedUpToArr[q]!
    for (;;) {
      const next = byNum.get(upTo + 1)
      if (next === undefined || !next.executed) break
      upTo++
    }
    this.executedUpToArr[q] = upTo
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Snapshots and compaction

  /** The executed set as of local index `index` (instances executed later in this Ready are left out). */
  private executedSetAt(index: number): ExecutedSet {
    const frontier: number[] = []
    const above: Array<[number, number]> = []
    for (let q = 0; q < this.n; q++) {
      const byNum = this.instances[q]!
      let f = this.compacted[q]!
      for (;;) {
        const next = byNum.get(f + 1)
        if (next === undefined || !next.executed || next.execIndex > index) break
        f++
      }
      frontier.push(f)
      for (const inst of byNum.values()) if (inst.num > f && inst.executed && inst.execIndex <= index) above.push([q, inst.num])
    }
    above.sort((a, b) => a[0] - b[0] || a[1] - b[1])
    const pending: Array<[number, number]> = []
    for (const component of this.recentComponents) {
      const cut = component.some(i => i.execIndex <= index) && component.some(i => i.execIndex > index)
      if (cut) for (const i of component) if (i.execIndex > index) pending.push([i.replica, i.num])
    }
    return { frontier, above, pending }
  }

  private onFrontier(from: number, m: Frontier): void {
    if (m.executed.length !== this.n) return
    const known = this.peerFrontier[from]!
    for (let q = 0; q < this.n; q++) if (m.executed[q]! > known[q]!) known[q] = m.executed[q]!
    this.compact()
  }

  /** Forget instances every replica has in its durable snapshot: nobody will ask for them again. */
  private compact(): void {
    let changed = false
    for (let q = 0; q < this.n; q++) {
      let upTo = this.durableFrontier[q]!
      for (let p = 0; p < this.n; p++) if (p !== this.me) upTo = Math.min(upTo, this.peerFrontier[p]![q]!)
      const byNum = this.instances[q]!
      for (let j = this.compacted[q]! + 1; j <= upTo; j++) {
        if (byNum.has(j)) {
          byNum.delete(j)
          this.out.persist({ kind: 'forget', index: recordIndex(q, j, this.n) })
        }
      }
      if (upTo > this.compacted[q]!) { this.compacted[q] = upTo; changed = true }
    }
    if (changed) this.out.persist({ kind: 'put', key: COMPACTED_KEY, value: encodeVector(this.compacted) })
  }

  // ---------------------------------------------------------------------------------------------------------------

  /** The instance as this replica holds it, created empty (status none) when first heard of. */
  private holdInstance(position: number, num: number): Instance {
    const byNum = this.instances[position]!
    let inst = byNum.get(num)
    if (inst === undefined) {
      inst = newInstance(position, num, this.n)
      byNum.set(num, inst)
    }
    return inst
  }

  /**
   * An instance only ever carries its leader's one batch or a no-op, so its conflict keys are worked out again only
   * when it changes between the two.
   */
  private setBatch(inst: Instance, requests: Batch): void {
    if (requests.length === 0 || inst.requests.length === 0 || inst.keys.length === 0) inst.keys = batchKeys(requests, this.ctx.conflictKeys)
    inst.requests = requests
  }

  private persistInstance(inst: Instance): void {
    this.out.persist({ kind: 'entry', index: recordIndex(inst.replica, inst.num, this.n), value: encodeInstanceRecord(inst) })
  }

  /** For tests and tools: the instance as this replica holds it. */
  instance(position: number, num: number): Instance | undefined {
    return this.instances[position]?.get(num)
  }

  /** For tests and tools: every instance this replica holds (compacted ones are gone). */
  *heldInstances(): IterableIterator<Instance> {
    for (const byNum of this.instances) yield* byNum.values()
  }
}

function name(inst: Instance): string {
  return `${inst.replica}.${inst.num}`
}

function sameVector(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function encodeNumber(v: number): Uint8Array {
  return new BinaryWriter(8).uvarint(v).finish()
}

function decodeNumber(bytes: Uint8Array): number {
  const r = new BinaryReader(bytes, 'epaxos hard state')
  const v = r.uvarint()
  r.end()
  return v
}

function encodeVector(v: readonly number[]): Uint8Array {
  const w = new BinaryWriter(8 + v.length * 4)
  writeNumbers(w, v)
  return w.finish()
}

function decodeVector(bytes: Uint8Array): number[] {
  const r = new BinaryReader(bytes, 'epaxos hard state')
  const v = readNumbers(r, 'compacted frontier')
  r.end()
  return v
}

export function createEpaxosReplica(ctx: ReplicaContext<EpaxosOptions>): EpaxosReplica {
  return new EpaxosReplica(ctx)
}
