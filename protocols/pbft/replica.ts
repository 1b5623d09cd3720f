/**
 * A PBFT replica (Castro & Liskov, OSDI 1999, signature-based): normal-case three-phase ordering with batching and
 * pipelining, checkpoints with garbage collection and watermarks, state transfer, and view changes.
 *
 * Pure and deterministic: inputs are tick/receive/propose/snapshotTaken, outputs are drained with ready(). Every
 * message is checked (membership, sender, signature, view, watermarks, digest) before it touches any state; what is
 * refused is counted by reason in dropCounts().
 */
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import { ConfigError } from '../../core/errors.ts'
import { bytesEqual, requestSigningBytes, sameRequest } from '../../core/codec/client-messages.ts'
import type { Ready, Replica } from '../../core/protocol.ts'
import { bftQuorum, byzantineFaultsTolerated } from '../../core/quorum.ts'
import { ReadyBuffer } from '../../core/ready.ts'
import type { Signer, Verifier } from '../../core/signer.ts'
import { identityOfSession } from '../../core/sessions.ts'
import type { ClientRequest, NodeId, ReplicaStatus } from '../../core/types.ts'
import {
  checkCheckpointProof, CheckpointTracker, INITIAL_CHECKPOINT, type StableCheckpoint,
} from './checkpoints.ts'
import { batchDigest, stateDigest } from './digest.ts'
import { decodeSlotRecord, encodeSlotRecord, MessageLog, type Slot } from './log.ts'
import {
  decodeMessage, encodeMessage,
  type Checkpoint, type Commit, type Forward, type NewView, type PbftMessage, type Prepare, type PrePrepare,
  type StateRequest, type StateTransfer, type ViewChange,
} from './messages.ts'
import type { PbftContext, PbftOptions } from './options.ts'
import { CheckedMessages } from './checked-messages.ts'
import { sign, verifySignature } from './signing.ts'
import {
  backoffTicks, buildNewView, checkNewView, checkViewChange, primaryOf, type NewViewPlan, type QuorumContext,
} from './view-change.ts'

/** Why an input was refused; the counters are exposed by dropCounts(). */
export type DropReason =
  | 'unknown-sender' | 'sender-mismatch' | 'bad-signature' | 'bad-client-signature' | 'wrong-view' | 'not-primary'
  | 'below-watermark' | 'above-watermark' | 'digest-mismatch' | 'conflicting-pre-prepare' | 'conflicting-vote' | 'stale-request'
  | 'stale-checkpoint' | 'stale-view-change' | 'invalid-view-change' | 'stale-new-view'
  | 'invalid-new-view' | 'stale-state-transfer' | 'invalid-state-transfer' | 'no-state' | 'rate-limited'
  | 'queue-full' | 'view-change-bound'

const EMPTY = new Uint8Array(0)
const VIEW_KEY = 'pbft/view'
const MAX_QUEUE = 100_000
/** VIEW-CHANGEs kept per other replica (the lowest views at or above ours), and our own kept for laggards. */
const MAX_VIEW_CHANGES_PER_SENDER = 4
const MAX_OWN_VIEW_CHANGES = 16
const RELAYABLE: ReadonlySet<PbftMessage['type']> = new Set(['PrePrepare', 'Prepare', 'Commit', 'NewView'])

function requestKey(r: ClientRequest): string {
  return `${r.clientId}:${r.seq}`
}

interface PendingRequest {
  readonly request: ClientRequest
  /**
   * Tick at which the request timer (paper 4.4) started, reset when a new view begins; null while it does not run.
   * A backup starts it when the client repeats the request (then the client has not heard back, and the backup
   * forwards it to the primary), not on the client's first attempt: that one went to the primary as well, and a
   * faulty client that sent it to backups only must not be able to replace a correct primary that never saw it.
   */
  since: number | null
  /** Tick of arrival: a backup forgets a request whose client never repeated it (see forgetUnrepeated). */
  readonly receivedAt: number
  /**
   * Whether its client's signature has been checked here. A request that came straight from its client over the
   * authenticated channel is the client's without one; the signature is checked only once we vouch for the request
   * to others (ordering it as primary, forwarding it).
   */
  checked: boolean
}

export class PbftReplica implements Replica<PbftMessage> {
  readonly id: NodeId
  private readonly members: readonly NodeId[]
  private readonly f: number
  /** n - f: the size of every certificate (2f+1 when n = 3f+1). */
  private readonly quorum: number
  private readonly o: PbftOptions
  private readonly signer: Signer
  private readonly verifier: Verifier
  private readonly publicKeyOf: (id: NodeId) => Uint8Array | undefined
  private readonly q: QuorumContext
  /** What this replica already found valid, by identity (see CheckedMessages). */
  private readonly checked: CheckedMessages
  private readonly ctx: PbftContext
  private out = new ReadyBuffer<PbftMessage>()

  private view = 0
  private inViewChange = false
  /**
   * The last view we worked in (entered with its NEW-VIEW, or view 0): while changing views since, nothing we prepared
   * has changed, so a VIEW-CHANGE for any view between it and ours says what the one we sent then said (see
   * viewChangeToHelp). Persisted with the view, since a restart forgets the VIEW-CHANGEs we sent.
   */
  private activeView = 0
  private readonly log = new MessageLog()
  private readonly checkpoints: CheckpointTracker
  /** Our own CHECKPOINT messages above the stable checkpoint (retransmitted until it becomes stable). */
  private readonly ownCheckpoints = new Map<number, { message: Checkpoint; at: number }>()
  /** Whether the stable checkpoint's snapshot has been written to storage. */
  private persistedSnapshotSeq = 0
  private stableSince = 0
  private lastExecuted = 0
  private now = 0

  /** Primary: last sequence number assigned in this view, the batch queue, and what is already ordered. */
  private nextSeq = 0
  private queue: ClientRequest[] = []
  private readonly queuedKeys = new Set<string>()
  private readonly orderedKeys = new Set<string>()
  /** Requests known to this replica and not yet executed: the request timer (paper 4.4). */
  private readonly pending = new Map<string, PendingRequest>()
  /** Last executed seq per client, to skip requests already answered. */
  private readonly executedSeq = new Map<NodeId, number>()

  /** Valid VIEW-CHANGEs of other replicas, by sender and view, for views >= ours (a few per sender). */
  private readonly viewChanges = new Map<NodeId, Map<number, ViewChange>>()
  /** Our VIEW-CHANGEs since the last view we entered, by view: a peer still changing to one of them may need it. */
  private readonly ownViewChanges = new Map<number, ViewChange>()
  private successiveViewChanges = 0
  /** Set once 2f+1 view-changes for our target view are in: when to give up on it. */
  private viewChangeDeadline: number | null = null
  /** The NEW-VIEW that started our current view (self-certifying): shown to peers still in an older view. */
  private currentNewView: NewView | null = null
  private readonly lastViewHelpAt = new Map<NodeId, number>()
  private viewChangeSentAt = 0

  /** Tick of the last execution (or state transfer): a replica that stops progressing asks a peer for help. */
  private progressAt = 0
  private nextStateRequestAt = 0
  private stateRequestTarget = 0
  private readonly lastHelpAt = new Map<NodeId, number>()
  private readonly drops = new Map<DropReason, number>()
  private windowFullSince: number | null = null
  /** Tick of the last message for a slot above our window (peers have moved past it: we are behind). */
  private beyondWindowAt = Number.NEGATIVE_INFINITY

  constructor(ctx: PbftContext) {
    this.ctx = ctx
    this.id = ctx.id
    this.members = ctx.members
    this.f = byzantineFaultsTolerated(ctx.members.length)
    this.quorum = bftQuorum(ctx.members.length)
    this.o = ctx.options
    this.signer = ctx.signer
    this.verifier = ctx.verifier
    this.publicKeyOf = ctx.publicKeyOf
    this.checked = new CheckedMessages(this.verifier, this.publicKeyOf)
    this.q = { members: this.members, f: this.f, quorum: this.quorum, window: this.o.watermarkWindow, verifier: this.verifier, publicKeyOf: this.publicKeyOf,
      checked: this.checked }
    const checkpointsAhead = Math.max(Math.ceil(this.o.watermarkWindow / this.o.checkpointInterval) + 2, 16)
    this.checkpoints = new CheckpointTracker(this.quorum, checkpointsAhead)
    this.recover()
  }

  // ---- accessors -------------------------------------------------------------------------------------------------

  private get primary(): NodeId {
    return primaryOf(this.view, this.members)
  }

  private get isPrimary(): boolean {
    return !this.inViewChange && this.primary === this.id
  }

  private get low(): number {
    return this.checkpoints.stable.seq
  }

  private get high(): number {
    return this.low + this.o.watermarkWindow
  }

  status(): ReplicaStatus {
    return {
      role: this.inViewChange ? 'view-change' : this.isPrimary ? 'primary' : 'backup',
      epoch: this.view,
      leader: this.inViewChange ? null : this.primary,
      commitIndex: this.lastExecuted,
      logSize: this.log.size,
    }
  }

  /** Inputs refused so far, by reason. */
  dropCounts(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.drops)
  }

  /** Introspection for tests and tools (never used for decisions). */
  debugState(): { view: number; inViewChange: boolean; lowWatermark: number; highWatermark: number; lastExecuted: number; pending: number; checkpointVotes: number } {
    return {
      view: this.view, inViewChange: this.inViewChange, lowWatermark: this.low, highWatermark: this.high,
      lastExecuted: this.lastExecuted, pending: this.pending.size, checkpointVotes: this.checkpoints.voteCount,
    }
  }

  /**
   * The outputs of every input since the last call. The primary orders what it has queued here rather than as each
   * request arrives: a live host takes a Ready once per event-loop turn, so every request of the turn (one socket read
   * carries many) shares one pre-prepare instead of the first one taking a pipeline slot alone.
   */
  ready(): Ready<PbftMessage> {
    this.tryPropose()
    return this.out.take()
  }

  private drop(reason: DropReason, detail = ''): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1)
    if (this.ctx.log.enabled) this.ctx.log('drop %s %s', reason, detail)
  }

  private broadcast(m: PbftMessage): void {
    this.out.broadcast(this.members, this.id, m)
  }

  // ---- client requests -------------------------------------------------------------------------------------------

  /**
   * A client request. The client sends its first attempt to every replica (the BFT library's separate request
   * transmission, Castro & Liskov 2002 section 5.1), and the transport authenticates the sender, so a backup takes a
   * request that comes straight from its client without checking the signature: that check, an Ed25519
   * verification per request at every replica, was most of PBFT's CPU under load. The signature still protects every
   * path where a replica speaks for the client (section 4.1): the primary checks it before ordering (so a correct
   * primary's batch is valid for every backup, whatever a faulty client sent to whom), a backup checks it before
   * forwarding, and a backup checks each request of a pre-prepare it did not receive from the client itself.
   */
  propose(request: ClientRequest, from: NodeId): void {
    if (!this.isPrimary && this.cameFromItsClient(request, from)) return this.onRequest(request, true, false)
    if (!this.clientSigned(request, true)) return this.drop('bad-client-signature', `client ${request.clientId}`)
    this.onRequest(request, true, true)
  }

  /** The sender is the client identity that owns the request's session (the host drops any other sender). */
  private cameFromItsClient(r: ClientRequest, from: NodeId): boolean {
    return identityOfSession(r.clientId) === from && !this.members.includes(from) && this.publicKeyOf(r.clientId) !== undefined
  }

  /**
   * Whether `r` is its client's: its signature verifies, or, unless we are to `vouch` for it to other replicas, we
   * hold the identical request as it came from the client itself.
   */
  private clientSigned(r: ClientRequest, vouch: boolean): boolean {
    const known = this.pending.get(requestKey(r))
    const same = known !== undefined && sameRequest(known.request, r) && bytesEqual(known.request.signature, r.signature)
    if (same && (known.checked || !vouch)) return true
    const key = this.publicKeyOf(r.clientId)
    if (key === undefined || this.members.includes(r.clientId)) return false
    const valid = this.verifier.verify(key, requestSigningBytes(r), r.signature)
    if (valid && same) known.checked = true
    return valid
  }

  /** Check a pending request's signature before we vouch for it; a request whose signature fails is forgotten. */
  private vouchFor(key: string, p: PendingRequest): boolean {
    if (p.checked || this.clientSigned(p.request, true)) return true
    this.pending.delete(key)
    this.drop('bad-client-signature', `client ${p.request.clientId}, not forwarded`)
    return false
  }

  private forward(key: string, p: PendingRequest): void {
    if (!this.vouchFor(key, p)) return
    this.out.send(this.primary, { type: 'Forward', request: p.request })
  }

  private onRequest(request: ClientRequest, fromClient: boolean, checked: boolean): void {
    const executed = this.executedSeq.get(request.clientId) ?? 0
    // A retry of the last executed request is ordered again so that every replica answers it again (the session
    // table applies it once); anything older has been answered to a client that has moved on.
    if (request.seq < executed) return this.drop('stale-request')
    const key = requestKey(request)
    // The request timer runs only for requests not yet executed here: a retry of an executed one (its client lost
    // replies) is ordered again, but no correct replica suspects the primary over it.
    let p = this.pending.get(key)
    const firstReceipt = p === undefined && request.seq > executed
    if (firstReceipt) {
      // The client's first attempt reached the primary too: a backup's timer waits for a repeat (PendingRequest.since).
      p = { request, since: this.isPrimary || !fromClient ? this.now : null, receivedAt: this.now, checked }
      this.pending.set(key, p)
    }
    if (this.isPrimary) {
      this.enqueue(request)
    } else if (fromClient && !this.inViewChange && !firstReceipt) {
      // A repeat: the client has not heard back, and the primary may never have received the request. Paper 4.4: the
      // backup relays it to the primary and starts its timer.
      if (p !== undefined) {
        p.since ??= this.now
        this.forward(key, p)
      } else if (this.clientSigned(request, true)) this.out.send(this.primary, { type: 'Forward', request })
      else this.drop('bad-client-signature', `client ${request.clientId}, not forwarded`)
    }
  }

  /**
   * Backup: forget requests whose timer never started (their client sent them once, did not repeat them, and they were
   * not executed) once they are old enough that a correct client would have repeated them (twice its retry period, at
   * least the request timeout), so a faulty client cannot fill memory with requests it sent to backups only.
   * Forgetting costs nothing but a signature check, should a pre-prepare still carry the request.
   */
  private forgetUnrepeated(): void {
    const age = Math.max(this.o.requestTimeoutTicks, 2 * this.o.clientRetryTicks)
    for (const [key, p] of this.pending) {
      // Arrival order is insertion order: the rest are younger.
      if (this.now - p.receivedAt < age) break
      if (p.since === null) this.pending.delete(key)
    }
  }

  private enqueue(request: ClientRequest): void {
    const key = requestKey(request)
    if (this.queuedKeys.has(key) || this.orderedKeys.has(key)) return
    if (this.queue.length >= MAX_QUEUE) return this.drop('queue-full')
    this.queue.push(request)
    this.queuedKeys.add(key)
  }

  private onForward(from: NodeId, m: Forward): void {
    if (!this.members.includes(from)) return this.drop('unknown-sender')
    if (!this.clientSigned(m.request, true)) return this.drop('bad-client-signature', `forwarded by ${from}`)
    if (!this.isPrimary) return this.drop('not-primary', 'forward')
    this.onRequest(m.request, false, true)
  }

  // ---- normal case: pre-prepare, prepare, commit --------------------------------------------------------------------

  /** Primary: order queued requests while the pipeline and the watermark window allow. */
  private tryPropose(): void {
    while (this.isPrimary && this.queue.length > 0 && this.nextSeq - this.lastExecuted < this.o.maxInflightBatches &&
      this.nextSeq + 1 <= this.high) {
      const batch: ClientRequest[] = []
      let bytes = 0
      while (this.queue.length > 0 && batch.length < this.o.maxBatchCount) {
        const r = this.queue[0]!
        const size = 24 + r.op.length + r.signature.length
        if (batch.length > 0 && bytes + size > this.o.maxBatchBytes) break
        this.queue.shift()
        this.queuedKeys.delete(requestKey(r))
        if ((this.executedSeq.get(r.clientId) ?? 0) > r.seq) continue
        batch.push(r)
        bytes += size
      }
      if (batch.length === 0) continue
      const seq = ++this.nextSeq
      if (this.ctx.log.enabled) this.ctx.log('pre-prepare s%d v%d [%s]', seq, this.view, batch.map(requestKey).join(' '))
      for (const r of batch) this.orderedKeys.add(requestKey(r))
      const pp = sign(this.signer, {
        type: 'PrePrepare' as const, view: this.view, seq, digest: batchDigest(batch), batch, replica: this.id, signature: EMPTY,
      })
      const slot = this.log.getOrCreate(seq)
      slot.accept(pp)
      slot.acceptedAt = this.now
      this.persistSlot(slot)
      this.broadcast(pp)
      this.checkPrepared(slot)
    }
  }

  private onPrePrepare(pp: PrePrepare): void {
    if (pp.view < this.view) this.shareView(pp.replica)
    if (this.inViewChange || pp.view !== this.view) return this.drop('wrong-view', `pre-prepare v${pp.view} s${pp.seq}`)
    if (pp.replica !== this.primary) return this.drop('not-primary', `pre-prepare from ${pp.replica}`)
    if (pp.seq <= this.low) return this.drop('below-watermark', `pre-prepare s${pp.seq}`)
    if (pp.seq > this.high) {
      this.beyondWindowAt = this.now
      return this.drop('above-watermark', `pre-prepare s${pp.seq}`)
    }
    if (!bytesEqual(batchDigest(pp.batch), pp.digest)) return this.drop('digest-mismatch', `pre-prepare s${pp.seq}`)
    const slot = this.log.getOrCreate(pp.seq)
    const current = slot.prePrepare
    if (current !== null && current.view === pp.view) {
      if (!bytesEqual(current.digest, pp.digest)) return this.drop('conflicting-pre-prepare', `s${pp.seq}`)
      return
    }
    for (const r of pp.batch) if (!this.clientSigned(r, false)) return this.drop('bad-client-signature', `in pre-prepare s${pp.seq}`)
    this.acceptPrePrepare(slot, pp)
  }

  /** Backup: log the pre-prepare and answer with PREPARE (persisted first, so a restart cannot prepare another). */
  private acceptPrePrepare(slot: Slot, pp: PrePrepare): void {
    slot.accept(pp)
    slot.acceptedAt = this.now
    if (pp.replica !== this.id) {
      const prepare = sign(this.signer, {
        type: 'Prepare' as const, view: pp.view, seq: pp.seq, digest: pp.digest, replica: this.id, signature: EMPTY,
      })
      slot.prepares.set(this.id, prepare)
      slot.sentPrepare = prepare
      this.broadcast(prepare)
    }
    if (pp.seq > this.lastExecuted) for (const r of pp.batch) this.orderedKeys.add(requestKey(r))
    this.persistSlot(slot)
    this.checkPrepared(slot)
  }

  private onVote(v: Prepare | Commit): void {
    // While we wait for the NEW-VIEW of our target view, votes of that view are kept (peers that already entered it
    // send them); they count only once the view's pre-prepare is accepted.
    if (v.view < this.view) this.shareView(v.replica)
    if (v.view !== this.view) return this.drop('wrong-view', `${v.type} v${v.view} s${v.seq}`)
    if (v.seq <= this.low) return this.drop('below-watermark', `${v.type} s${v.seq}`)
    if (v.seq > this.high) {
      this.beyondWindowAt = this.now
      return this.drop('above-watermark', `${v.type} s${v.seq}`)
    }
    if (v.type === 'Prepare' && v.replica === this.primary) return this.drop('not-primary', 'prepare from the primary')
    const slot = this.log.getOrCreate(v.seq)
    const votes: Map<NodeId, Prepare | Commit> = v.type === 'Prepare' ? slot.prepares : slot.commits
    const existing = votes.get(v.replica)
    if (existing !== undefined && existing.view === v.view) {
      if (!bytesEqual(existing.digest, v.digest)) return this.drop('conflicting-vote', `${v.type} from ${v.replica}`)
      return
    }
    votes.set(v.replica, v)
    if (v.type === 'Prepare') this.checkPrepared(slot)
    else this.checkCommitted(slot)
  }

  /** prepared(m, v, n): the pre-prepare and 2f matching prepares from backups. Then send COMMIT. */
  private checkPrepared(slot: Slot): void {
    const pp = slot.prePrepare
    if (pp === null || pp.view !== this.view || slot.sentCommit !== null) {
      this.checkCommitted(slot)
      return
    }
    const prepares = slot.matchingPrepares(this.primary)
    if (prepares.length < this.quorum - 1) return
    slot.preparedCertificate = { prePrepare: pp, prepares: prepares.slice(0, this.quorum - 1) }
    const commit = sign(this.signer, {
      type: 'Commit' as const, view: pp.view, seq: pp.seq, digest: pp.digest, replica: this.id, signature: EMPTY,
    })
    slot.commits.set(this.id, commit)
    slot.sentCommit = commit
    this.persistSlot(slot)
    this.broadcast(commit)
    this.checkCommitted(slot)
  }

  /**
   * 2f+1 matching commits and the batch: the slot is decided. (2f+1 commits imply f+1 correct replicas prepared it,
   * which is what carries it through view changes, so our own prepare certificate is not needed to execute.)
   */
  private checkCommitted(slot: Slot): void {
    if (slot.committed || slot.prePrepare === null) return
    if (slot.matchingCommits() < this.quorum) return
    slot.committed = true
    slot.committedAt = this.now
    this.persistSlot(slot)
    this.execute()
  }

  /**
   * Hand decided batches to the host in sequence-number order, without gaps, and never past the high watermark: the
   * host checkpoints on its snapshots, so a batch above h + L could only run on state no checkpoint vouches for. (Only
   * recovery finds such slots: the log records above the last persisted stable snapshot may reach past its window;
   * they execute once the stable checkpoint has moved up, or a state transfer covers them.)
   */
  private execute(): void {
    for (;;) {
      if (this.lastExecuted + 1 > this.high) break
      const slot = this.log.get(this.lastExecuted + 1)
      if (slot === undefined || !slot.committed || slot.prePrepare === null) break
      const batch = slot.prePrepare.batch
      if (this.ctx.log.enabled) this.ctx.log('execute s%d [%s]', slot.seq, batch.map(requestKey).join(' '))
      this.out.commit({ index: slot.seq, requests: batch })
      this.lastExecuted = slot.seq
      this.progressAt = this.now
      for (const r of batch) {
        const key = requestKey(r)
        this.pending.delete(key)
        this.orderedKeys.delete(key)
        if ((this.executedSeq.get(r.clientId) ?? 0) < r.seq) this.executedSeq.set(r.clientId, r.seq)
      }
      if (batch.length > 0) this.successiveViewChanges = 0
    }
  }

  // ---- persistence -------------------------------------------------------------------------------------------------

  private persistSlot(slot: Slot): void {
    this.out.persist({ kind: 'entry', index: slot.seq, value: encodeSlotRecord(slot) })
  }

  private persistView(): void {
    const w = new BinaryWriter(12)
    w.uvarint(this.view).bool(this.inViewChange).uvarint(this.activeView)
    this.out.persist({ kind: 'put', key: VIEW_KEY, value: w.finish() })
  }

  private persistStableSnapshot(): void {
    const stable = this.checkpoints.stable
    if (stable.seq === 0 || stable.seq <= this.persistedSnapshotSeq) return
    const snap = this.checkpoints.snapshot(stable.seq)
    if (snap === undefined) return
    this.persistedSnapshotSeq = stable.seq
    this.out.persist({ kind: 'snapshot', index: stable.seq, meta: encodeStableCheckpoint(stable), data: snap.data })
  }

  /** Rebuild from storage: view, stable checkpoint and its snapshot, and the slots above it. */
  private recover(): void {
    const rec = this.ctx.recovered
    const viewRecord = rec.hard.get(VIEW_KEY)
    if (viewRecord !== undefined) {
      const r = new BinaryReader(viewRecord, 'PBFT view record')
      this.view = r.uvarint()
      this.inViewChange = r.bool()
      // Records written before the active view was kept end here: assume we worked in our view (helps nobody to an
      // older one, which is the safe side).
      this.activeView = r.remaining > 0 ? r.uvarint() : this.view
      r.end()
    }
    if (rec.snapshot !== null) {
      const stable = decodeStableCheckpoint(rec.snapshot.meta)
      this.checkpoints.restore(stable, rec.snapshot.data)
      this.lastExecuted = rec.snapshot.index
      this.persistedSnapshotSeq = rec.snapshot.index
    }
    this.nextSeq = this.low
    for (const { value } of rec.log) {
      const record = decodeSlotRecord(value)
      if (record.seq <= this.low) continue
      const slot = this.log.getOrCreate(record.seq)
      slot.preparedCertificate = record.preparedCertificate
      slot.committed = record.committed
      const pp = record.prePrepare
      if (pp === null) continue
      slot.accept(pp)
      if (pp.view !== this.view) continue
      // Signatures are deterministic: re-signing what we sent before the crash repeats it, it cannot contradict it.
      if (pp.replica === this.id) this.nextSeq = Math.max(this.nextSeq, pp.seq)
      else {
        slot.sentPrepare = sign(this.signer, { type: 'Prepare', view: pp.view, seq: pp.seq, digest: pp.digest, replica: this.id, signature: EMPTY })
        slot.prepares.set(this.id, slot.sentPrepare)
      }
      if (slot.preparedCertificate?.prePrepare.view === this.view) {
        slot.sentCommit = sign(this.signer, { type: 'Commit', view: pp.view, seq: pp.seq, digest: pp.digest, replica: this.id, signature: EMPTY })
        slot.commits.set(this.id, slot.sentCommit)
      }
    }
    this.nextSeq = Math.max(this.nextSeq, this.lastExecuted)
    // Entries committed before the crash are handed to the host again (it restarted from the snapshot).
    this.execute()
    if (this.inViewChange) this.sendViewChange()
  }

  // ---- dispatch ------------------------------------------------------------------------------------------------------

  receive(from: NodeId, m: PbftMessage): void {
    if (m.type === 'Forward') return this.onForward(from, m)
    if (!this.members.includes(from) || from === this.id) return this.drop('unknown-sender', `from ${from}`)
    // Ordering messages may be relayed by a peer helping us catch up (their signature names their origin); the rest
    // must come from their signer.
    if (m.replica !== from && !RELAYABLE.has(m.type)) return this.drop('sender-mismatch', `${m.type} claims ${m.replica}, sent by ${from}`)
    // Votes that can no longer change anything (the slot already prepared or committed here) are not worth a
    // signature check, the dominant cost of the protocol.
    if ((m.type === 'Prepare' || m.type === 'Commit') && this.voteIsRedundant(m)) return
    // Messages that come again inside others (VIEW-CHANGEs in NEW-VIEWs, PRE-PREPAREs in certificates) are remembered
    // once verified; votes, the bulk, are not (a weak-set entry per vote cost about what it saved; certificates
    // remember the votes they carry).
    const valid = m.type === 'Prepare' || m.type === 'Commit' ? verifySignature(m, this.verifier, this.publicKeyOf) : this.checked.verify(m)
    if (!valid) return this.drop('bad-signature', `${m.type} from ${from}`)
    switch (m.type) {
      case 'PrePrepare': return this.onPrePrepare(m)
      case 'Prepare': case 'Commit': return this.onVote(m)
      case 'Checkpoint': return this.onCheckpoint(m)
      case 'ViewChange': return this.onViewChange(m)
      case 'NewView': return this.onNewView(m)
      case 'StateRequest': return this.onStateRequest(m)
      case 'StateTransfer': return this.onStateTransfer(m)
    }
  }

  private voteIsRedundant(v: Prepare | Commit): boolean {
    const slot = this.log.get(v.seq)
    if (slot === undefined || slot.prePrepare?.view !== v.view || v.view !== this.view) return false
    // Prepared in this view (our COMMIT is out), and for commits also a full commit certificate of this view held (a
    // slot committed in an older view still needs this view's votes, to prepare and commit again for the others).
    if (slot.sentCommit === null) return false
    return v.type === 'Prepare' || slot.matchingCommits() >= this.quorum
  }

  // ---- checkpoints and garbage collection ----------------------------------------------------------------------------

  snapshotTaken(index: number, data: Uint8Array): void {
    // Every host snapshot is a checkpoint. Correct hosts share one snapshotInterval (it should be K), so all correct
    // replicas digest the same indexes.
    if (index <= this.low) {
      this.checkpoints.addSnapshot(index, data)
      this.persistStableSnapshot()
      return
    }
    const digest = this.checkpoints.addSnapshot(index, data)
    const cp = sign(this.signer, { type: 'Checkpoint' as const, seq: index, stateDigest: digest, replica: this.id, signature: EMPTY })
    this.ownCheckpoints.set(index, { message: cp, at: this.now })
    this.broadcast(cp)
    this.countCheckpoint(cp)
  }

  private onCheckpoint(cp: Checkpoint): void {
    if (cp.seq <= this.low) return this.drop('stale-checkpoint', `s${cp.seq}`)
    this.countCheckpoint(cp)
  }

  private countCheckpoint(cp: Checkpoint): void {
    const stable = this.checkpoints.addVote(cp)
    if (stable !== null) this.onStable()
  }

  /** A newer checkpoint is stable: move the watermarks, discard the log below it, persist its snapshot. */
  private onStable(): void {
    const stable = this.checkpoints.stable
    this.stableSince = this.now
    this.log.collectGarbage(stable.seq)
    for (const seq of this.ownCheckpoints.keys()) if (seq <= stable.seq) this.ownCheckpoints.delete(seq)
    this.persistStableSnapshot()
    if (this.nextSeq < stable.seq) this.nextSeq = stable.seq
  }

  // ---- state transfer ------------------------------------------------------------------------------------------------

  private sendState(peer: NodeId): void {
    const stable = this.checkpoints.stable
    const snap = this.checkpoints.snapshot(stable.seq)
    if (stable.seq === 0 || snap === undefined) return
    const last = this.lastHelpAt.get(peer)
    if (last !== undefined && this.now - last < this.o.retransmitTicks) return
    this.lastHelpAt.set(peer, this.now)
    this.out.send(peer, sign(this.signer, {
      type: 'StateTransfer' as const, seq: stable.seq, data: snap.data, checkpointProof: stable.proof, replica: this.id, signature: EMPTY,
    }))
  }

  /**
   * A peer has executed up to `m.seq` and is stuck: if it is behind our stable checkpoint send the state, else repeat
   * our messages for the slots it is missing that we have executed (it may have lost the pre-prepare or the votes).
   */
  private onStateRequest(m: StateRequest): void {
    const last = this.lastHelpAt.get(m.replica)
    if (last !== undefined && this.now - last < this.o.retransmitTicks) return this.drop('rate-limited', `help for ${m.replica}`)
    if (this.low > m.seq) return this.sendState(m.replica)
    if (this.inViewChange || this.lastExecuted <= m.seq) return this.drop('no-state', `s${m.seq}`)
    this.lastHelpAt.set(m.replica, this.now)
    for (let seq = m.seq + 1; seq <= this.lastExecuted; seq++) {
      const slot = this.log.get(seq)
      const pp = slot?.prePrepare
      if (slot === undefined || pp === null || pp === undefined || pp.view !== this.view) continue
      // Our pre-prepare, prepare and commit certificates for the slot, so one answer is enough to execute it.
      if (pp.replica !== m.replica) this.out.send(m.replica, pp)
      for (const p of slot.matchingPrepares(pp.replica)) if (p.replica !== m.replica) this.out.send(m.replica, p)
      for (const c of slot.commits.values()) {
        if (c.replica !== m.replica && c.view === pp.view && bytesEqual(c.digest, pp.digest)) this.out.send(m.replica, c)
      }
    }
  }

  private onStateTransfer(m: StateTransfer): void {
    if (m.seq <= this.lastExecuted) return this.drop('stale-state-transfer', `s${m.seq}`)
    const digest = stateDigest(m.data)
    const error = checkCheckpointProof(m.seq, m.checkpointProof, this.quorum, this.members, this.verifier, this.publicKeyOf, digest)
    if (error !== null) return this.drop('invalid-state-transfer', error)
    this.out.installSnapshot(m.seq, m.data)
    this.lastExecuted = m.seq
    this.checkpoints.addSnapshot(m.seq, m.data)
    // What we were waiting for may be inside the snapshot; clients that still wait will ask again.
    this.pending.clear()
    this.orderedKeys.clear()
    this.progressAt = this.now
    if (this.checkpoints.makeStable({ seq: m.seq, stateDigest: digest, proof: m.checkpointProof })) this.onStable()
    else this.persistStableSnapshot()
    this.execute()
  }

  /**
   * No execution for a while although there is evidence of later work (a newer stable checkpoint, or messages of the
   * current view for later slots): messages were lost, so ask one peer at a time for what we miss.
   */
  private checkStuck(): void {
    if (this.now - this.progressAt < this.o.retransmitTicks || this.now < this.nextStateRequestAt) return
    // Looked at (and asked) at most once per period, so an idle replica does not scan its log every tick.
    this.nextStateRequestAt = this.now + this.o.retransmitTicks
    if (!this.hasLaterWork()) return
    const peers = this.members.filter(id => id !== this.id)
    const peer = peers[this.stateRequestTarget++ % peers.length]!
    this.out.send(peer, sign(this.signer, { type: 'StateRequest' as const, seq: this.lastExecuted, replica: this.id, signature: EMPTY }))
  }

  private hasLaterWork(): boolean {
    if (this.low > this.lastExecuted) return true
    if (this.inViewChange) return false
    for (const slot of this.log.values()) {
      if (slot.seq <= this.lastExecuted) continue
      if (slot.committed || slot.prePrepare?.view === this.view) return true
      for (const c of slot.commits.values()) if (c.view === this.view) return true
    }
    return false
  }

  // ---- view changes --------------------------------------------------------------------------------------------------

  /** Stop accepting messages of the current view and ask for `target` (paper 4.4). */
  private startViewChange(target: number, why: string): void {
    if (this.ctx.log.enabled) this.ctx.log('tick %d: view change to %d: %s', this.now, target, why)
    this.view = target
    this.inViewChange = true
    this.successiveViewChanges++
    this.viewChangeDeadline = null
    this.queue = []
    this.queuedKeys.clear()
    this.orderedKeys.clear()
    this.pruneViewChanges(view => view < target)
    this.persistView()
    this.sendViewChange()
  }

  private sendViewChange(): void {
    const vc = this.makeViewChange(this.view)
    this.ownViewChanges.set(vc.newView, vc)
    for (const view of this.ownViewChanges.keys()) {
      if (this.ownViewChanges.size <= MAX_OWN_VIEW_CHANGES) break
      this.ownViewChanges.delete(view) // oldest first: a Map keeps insertion order, and views only grow
    }
    this.viewChangeSentAt = this.now
    this.broadcast(vc)
    this.checkViewChangeQuorum()
  }

  /** Our VIEW-CHANGE for `view`: the stable checkpoint with its proof and the prepared certificates above it (P). */
  private makeViewChange(view: number): ViewChange {
    const stable = this.checkpoints.stable
    const prepared = []
    for (const slot of this.log.sorted()) {
      // P holds certificates within the watermarks only (receivers refuse a VIEW-CHANGE with any other); a recovered
      // replica may hold slots above its window (see execute()).
      if (slot.seq > stable.seq && slot.seq <= this.high && slot.preparedCertificate !== null) prepared.push(slot.preparedCertificate)
    }
    return sign(this.signer, {
      type: 'ViewChange' as const, newView: view, stableSeq: stable.seq, checkpointProof: stable.proof,
      prepared, replica: this.id, signature: EMPTY,
    })
  }

  /** Our VIEW-CHANGE for the view we are changing to (repeated until the view changes). */
  private get ownViewChange(): ViewChange | undefined {
    return this.inViewChange ? this.ownViewChanges.get(this.view) : undefined
  }

  private onViewChange(vc: ViewChange): void {
    if (vc.newView < this.view || (vc.newView === this.view && !this.inViewChange)) {
      this.helpLaggard(vc.replica, vc.newView)
      return this.drop('stale-view-change', `v${vc.newView} from ${vc.replica}`)
    }
    let byView = this.viewChanges.get(vc.replica)
    if (byView?.has(vc.newView) === true) return
    // Kept per sender: the lowest few views at or above ours (a laggard's quorum and the f+1 rule need the low ones;
    // a faulty sender's far-future views are what gets refused first).
    if (byView !== undefined && byView.size >= MAX_VIEW_CHANGES_PER_SENDER && vc.newView > Math.max(...byView.keys())) {
      return this.drop('view-change-bound', `v${vc.newView} from ${vc.replica}`)
    }
    const error = checkViewChange(vc, this.q)
    if (error !== null) return this.drop('invalid-view-change', error)
    if (byView === undefined) {
      byView = new Map()
      this.viewChanges.set(vc.replica, byView)
    }
    byView.set(vc.newView, vc)
    if (byView.size > MAX_VIEW_CHANGES_PER_SENDER) byView.delete(Math.max(...byView.keys()))
    if (vc.stableSeq < this.low && this.now - this.stableSince >= this.o.retransmitTicks) this.sendState(vc.replica)
    if (this.joinHigherView()) return
    if (this.inViewChange && vc.newView === this.view) this.checkViewChangeQuorum()
  }

  /**
   * Paper 4.5.2 (liveness, second rule): when f+1 other replicas sent valid VIEW-CHANGEs for views above ours, at
   * least one correct replica wants a higher view: join the smallest view in that set, even before our timer expires.
   * f+1 is also what keeps a faulty replica's VIEW-CHANGEs for far-future views from dragging anyone there: the
   * smallest view of any f+1 senders is at most the view of a correct one. Repeated, since the replicas that moved on
   * may be further still. Returns whether we moved.
   */
  private joinHigherView(): boolean {
    let moved = false
    for (;;) {
      let senders = 0
      let smallest = Number.POSITIVE_INFINITY
      for (const [id, byView] of this.viewChanges) {
        if (id === this.id) continue
        let lowest = Number.POSITIVE_INFINITY
        for (const view of byView.keys()) if (view > this.view && view < lowest) lowest = view
        if (lowest === Number.POSITIVE_INFINITY) continue
        senders++
        smallest = Math.min(smallest, lowest)
      }
      if (senders < this.f + 1) return moved
      this.startViewChange(smallest, `${senders} replicas asked for views from ${smallest} on`)
      moved = true
    }
  }

  /**
   * A peer asked for a view older than ours, or for ours while we already run it: it missed what moved us on (lost
   * messages, a partition, a crash) and, waiting for a quorum that will not form, never starts its timer. Give it what
   * it needs to follow: the NEW-VIEW of a view at or above the one it wants (it can enter that view at once), our
   * VIEW-CHANGE for its view if we sent one (it completes its quorum there and its timer runs; counting it is safe,
   * since what we prepared has not changed since we sent it), and our latest VIEW-CHANGE (so it counts us among the
   * f+1 that moved on).
   */
  private helpLaggard(peer: NodeId, wanted: number): void {
    const last = this.lastViewHelpAt.get(peer)
    if (last !== undefined && this.now - last < this.o.retransmitTicks) return
    const nv = this.currentNewView
    const newView = nv !== null && nv.view >= wanted ? nv : null
    const forWanted = this.ownViewChanges.get(wanted) ?? this.viewChangeToHelp(wanted)
    const latest = this.ownViewChange
    if (newView === null && forWanted === undefined && latest === undefined) return
    this.lastViewHelpAt.set(peer, this.now)
    if (newView !== null) this.out.send(peer, newView)
    if (forWanted !== undefined && forWanted !== latest) this.out.send(peer, forWanted)
    if (latest !== undefined) this.out.send(peer, latest)
  }

  /**
   * A VIEW-CHANGE for a view we passed through without working in it, when we no longer hold the one we sent (a restart
   * forgot it, or it aged out). Without it a peer can wait there for good: with one replica down, n = 3f + 1 = 4, two
   * replicas changing to view v and one that timed out of v into v + 1 and restarted, the two lack the third
   * VIEW-CHANGE for v that starts their timer, and the f + 1 rule never moves them (regression:
   * pbft-restart-forgets-view-changes). Safe: since we last worked in a view, below `view`, nothing we prepared changed
   * (prepares are refused while changing views), so this says what a VIEW-CHANGE for `view` sent at the time said, at
   * most with a later stable checkpoint, which a quorum proves.
   */
  private viewChangeToHelp(view: number): ViewChange | undefined {
    if (!this.inViewChange || view <= this.activeView || view >= this.view) return undefined
    return this.makeViewChange(view)
  }

  /** A peer is in an older view (it missed the NEW-VIEW, e.g. while crashed): show it the one that started ours. */
  private shareView(peer: NodeId): void {
    if (this.inViewChange || this.currentNewView?.view !== this.view) return
    this.helpLaggard(peer, this.view)
  }

  private pruneViewChanges(drop: (view: number) => boolean): void {
    for (const [id, byView] of this.viewChanges) {
      for (const view of byView.keys()) if (drop(view)) byView.delete(view)
      if (byView.size === 0) this.viewChanges.delete(id)
    }
  }

  private viewChangesFor(view: number): ViewChange[] {
    const own = this.ownViewChanges.get(view)
    const out = own !== undefined ? [own] : []
    for (const [id, byView] of this.viewChanges) {
      const vc = byView.get(view)
      if (vc !== undefined && id !== this.id) out.push(vc)
    }
    return out
  }

  /**
   * Paper 4.5.2 (liveness, first rule): with 2f+1 view-changes for our target in, start the timer (doubled for each
   * successive view change, up to the cap); as the target's primary, issue the NEW-VIEW.
   */
  private checkViewChangeQuorum(): void {
    if (!this.inViewChange) return
    const vcs = this.viewChangesFor(this.view)
    if (vcs.length < this.quorum) return
    if (this.viewChangeDeadline === null) {
      this.viewChangeDeadline = this.now + this.backoff(this.o.viewChangeTicks, this.successiveViewChanges - 1)
    }
    if (primaryOf(this.view, this.members) !== this.id || vcs[0]?.replica !== this.id) return
    const nv = buildNewView(this.signer, this.id, this.view, vcs.slice(0, this.quorum))
    this.broadcast(nv)
    const checked = checkNewView(nv, this.q)
    if ('plan' in checked) this.enterView(nv, checked.plan)
  }

  private backoff(base: number, successive: number): number {
    return backoffTicks(base, successive, this.o.maxTimeoutDoublings)
  }

  private onNewView(nv: NewView): void {
    if (nv.view < this.view || (nv.view === this.view && !this.inViewChange)) return this.drop('stale-new-view', `v${nv.view}`)
    const checked = checkNewView(nv, this.q)
    if ('error' in checked) return this.drop('invalid-new-view', checked.error)
    this.enterView(nv, checked.plan)
  }

  /** Start view `nv.view`: adopt its stable checkpoint and process the re-issued pre-prepares O. */
  private enterView(nv: NewView, plan: NewViewPlan): void {
    if (this.ctx.log.enabled) this.ctx.log('tick %d: enter view %d', this.now, nv.view)
    this.view = nv.view
    this.activeView = nv.view
    this.currentNewView = nv
    this.inViewChange = false
    this.viewChangeDeadline = null
    // Peers still changing to a view up to this one are shown this NEW-VIEW instead of our VIEW-CHANGEs.
    this.ownViewChanges.clear()
    this.pruneViewChanges(view => view <= nv.view)
    this.persistView()
    if (this.checkpoints.makeStable(plan.stable)) this.onStable()
    this.nextSeq = this.low
    for (const pp of nv.prePrepares) {
      if (pp.seq <= this.low) continue
      this.nextSeq = Math.max(this.nextSeq, pp.seq)
      this.acceptPrePrepare(this.log.getOrCreate(pp.seq), pp)
    }
    this.nextSeq = Math.max(this.nextSeq, this.lastExecuted)
    // Give the new primary a full timeout for what we are waiting for, and make sure it knows about it.
    for (const [key, p] of this.pending) {
      if (this.isPrimary) {
        p.since = this.now
        if (this.vouchFor(key, p)) this.enqueue(p.request)
      } else if (p.since !== null) {
        p.since = this.now
        if (!this.orderedKeys.has(key)) this.forward(key, p)
      }
    }
    this.execute()
  }

  // ---- time ----------------------------------------------------------------------------------------------------------

  tick(): void {
    this.now++
    this.checkHostSnapshots()
    if (this.inViewChange) {
      if (this.viewChangeDeadline !== null && this.now >= this.viewChangeDeadline) this.startViewChange(this.view + 1, 'no new-view in time')
      else if (this.now - this.viewChangeSentAt >= this.o.retransmitTicks && this.ownViewChange !== undefined) {
        // VIEW-CHANGE messages may be lost: repeat ours until the view changes.
        this.viewChangeSentAt = this.now
        this.broadcast(this.ownViewChange)
      }
    } else {
      const timeout = this.backoff(this.o.requestTimeoutTicks, this.successiveViewChanges)
      for (const p of this.pending.values()) {
        if (p.since === null || this.now - p.since < timeout) continue
        // A quorum checkpointed beyond what we executed: the primary is making progress and we are the one behind
        // (lost messages). State transfer (checkStuck) is the cure; a view change only we want would take us out of
        // the quorum until the others need one too.
        if (this.low > this.lastExecuted) break
        this.startViewChange(this.view + 1, `request ${requestKey(p.request)} waited ${this.now - p.since} ticks`)
        break
      }
    }
    if (this.now % this.o.retransmitTicks === 0) this.retransmit()
    this.forgetUnrepeated()
    this.checkStuck()
  }

  /**
   * Executed through the high watermark, yet the host took no snapshot in the whole window: its snapshotInterval is
   * larger than L, and without checkpoints ordering would stop here for good. Allow the host time to finish applying
   * (it snapshots after the entries' Ready is durable) before calling it an error.
   *
   * A replica that is merely behind is no such evidence: slots above its window in its log (a restart found them in
   * storage) or peers' messages for them mean the cluster moved on, and the cure is catching up (checkStuck), not a
   * configuration change. (A restarted replica whose host never snapshotted, e.g. one whose outputs a faulty wrapper
   * discards, recovers from index 0 and re-executes exactly one window of its log.)
   */
  private checkHostSnapshots(): void {
    if (this.lastExecuted < this.high || this.checkpoints.pendingOwnSeqs().length > 0 || this.isBehindPeers()) {
      this.windowFullSince = null
      return
    }
    this.windowFullSince ??= this.now
    if (this.now - this.windowFullSince > this.o.requestTimeoutTicks) {
      throw new ConfigError('checkpointInterval', `pbft checkpoints on the host's snapshots, but the host took none ` +
        `from index ${this.low + 1} to ${this.lastExecuted}, the whole watermark window (${this.o.watermarkWindow}): ` +
        `set the host's snapshotInterval to the checkpointInterval (${this.o.checkpointInterval})`)
    }
  }

  private isBehindPeers(): boolean {
    if (this.now - this.beyondWindowAt <= this.o.requestTimeoutTicks) return true
    for (const slot of this.log.values()) if (slot.seq > this.high) return true
    return false
  }

  /** Repeat our messages for slots that stalled (lost messages) and our checkpoints that are not yet stable. */
  private retransmit(): void {
    if (!this.inViewChange) {
      for (const slot of this.log.sorted()) {
        const pp = slot.prePrepare
        if (slot.committed || pp === null || pp.view !== this.view || this.now - slot.acceptedAt < this.o.retransmitTicks) continue
        if (pp.replica === this.id) this.broadcast(pp)
        if (slot.sentPrepare !== null) this.broadcast(slot.sentPrepare)
        if (slot.sentCommit !== null) this.broadcast(slot.sentCommit)
      }
    }
    for (const own of this.ownCheckpoints.values()) {
      if (this.now - own.at >= this.o.retransmitTicks) this.broadcast(own.message)
    }
  }
}

// ---- stable checkpoint record (snapshot meta) -------------------------------------------------------------------------

export function encodeStableCheckpoint(s: StableCheckpoint): Uint8Array {
  const w = new BinaryWriter(64 + s.proof.length * 128)
  w.uvarint(s.seq).bytes(s.stateDigest).uvarint(s.proof.length)
  for (const c of s.proof) w.bytes(encodeMessage(c))
  return w.finish()
}

export function decodeStableCheckpoint(bytes: Uint8Array): StableCheckpoint {
  const r = new BinaryReader(bytes, 'PBFT stable checkpoint')
  const seq = r.uvarint()
  const digest = r.bytes().slice()
  const n = r.count()
  const proof: Checkpoint[] = []
  for (let i = 0; i < n; i++) {
    const m = decodeMessage(r.bytes())
    if (m.type !== 'Checkpoint') throw new Error(`PBFT stable checkpoint record holds a ${m.type}`)
    proof.push(m)
  }
  r.end()
  return seq === 0 ? INITIAL_CHECKPOINT : { seq, stateDigest: digest, proof }
}

export function createPbftReplica(ctx: PbftContext): PbftReplica {
  return new PbftReplica(ctx)
}
