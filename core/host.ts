/**
 * The host drives one replica over a transport and a storage, and owns the replicated state machine.
 *
 * It enforces the ordering that makes crash recovery correct: the writes in a Ready are made durable (sync) before any
 * message of that Ready leaves, and Readies are released strictly in order, so a later message never overtakes the
 * persistence of an earlier one. Committed entries are applied in index order through the exactly-once session table;
 * results go to the client from the replica it asked (or from every replica, for Byzantine protocols).
 */
import { AdmissionControl, DEFAULT_MAX_PENDING_REQUESTS } from './admission.ts'
import { decodeRequest, EMPTY_BYTES, encodeReply } from './codec/client-messages.ts'
import { conflictKeysFunction } from './conflicts.ts'
import { CodecError, ConfigError } from './errors.ts'
import { createLogger, type Logger } from './logger.ts'
import type { AdminCommand, AnyProtocol, Membership, ParsedOptions, Ready, Replica, ReplicaContext } from './protocol.ts'
import type { Rng } from './random.ts'
import type { HostRuntime } from './runtime.ts'
import { identityOfSession, SessionStateMachine } from './sessions.ts'
import type { Signer, Verifier } from './signer.ts'
import type { StateMachine } from './state-machine.ts'
import type { Storage } from './storage.ts'
import type { ClientReply, ClientRequest, CommittedEntry, NodeId, ReadyRead, ReplicaStatus } from './types.ts'
import type { InboundFrame, OutboundFrame, Transport } from './transport.ts'

export interface HostObserver {
  /** After a committed entry has been applied (the simulator checks state-machine safety across replicas here). */
  applied?(host: NodeId, entry: CommittedEntry): void
  /** A frame that could not be decoded or was refused. */
  rejected?(host: NodeId, from: NodeId, reason: string): void
  /** The replica replaced its state by a snapshot from a peer (partial-order checks resynchronise). */
  installedSnapshot?(host: NodeId, index: number): void
  /** A frame decoded: its message type name and size (metrics count what arrives by type, as the transport counts sends). */
  received?(host: NodeId, from: NodeId, type: string, bytes: number): void
}

export interface ReplicaHostOptions {
  readonly descriptor: AnyProtocol
  readonly id: NodeId
  readonly members: readonly NodeId[]
  /** Parsed protocol options (descriptor.parseOptions). */
  readonly protocolOptions: ParsedOptions
  readonly transport: Transport
  readonly storage: Storage
  readonly runtime: HostRuntime
  readonly stateMachine: StateMachine
  readonly rng: Rng
  readonly signer: Signer
  readonly verifier: Verifier
  readonly publicKeyOf: (id: NodeId) => Uint8Array | undefined
  /** Milliseconds per protocol tick. */
  readonly tickMs: number
  /** Snapshot the state machine every this many applied indexes (PBFT: its checkpoint interval). */
  readonly snapshotInterval: number
  /**
   * Client requests this replica has pending (admitted, unanswered) at most; beyond it, a request is answered busy
   * and not proposed (core/admission.ts). Default DEFAULT_MAX_PENDING_REQUESTS; Infinity turns admission control off.
   */
  readonly maxPendingRequests?: number
  /** Replace the honest replica (Byzantine strategies in tests and benchmarks). */
  readonly replicaFactory?: (ctx: ReplicaContext) => Replica<unknown>
  readonly observer?: HostObserver
  readonly log?: Logger
}

export interface HostStatus extends ReplicaStatus {
  readonly id: NodeId
  readonly appliedIndex: number
  readonly commandsApplied: number
  /** Client requests this replica received (leaderless protocols: a fault aimed at `leader` picks the busiest). */
  readonly requestsReceived: number
  /** Client requests admitted and not yet answered (etcd: proposals pending). */
  readonly requestsPending: number
  /** Client requests answered busy by admission control, not proposed. */
  readonly requestsShed: number
  /** The configuration the replica uses, for protocols with membership changes; null otherwise. */
  readonly membership: Membership | null
}

interface PendingReady {
  readonly ready: Ready<unknown>
  synced: boolean
  /** Its `beforeSync` messages went out when it was produced (it had to wait for a sync). */
  earlySent: boolean
}

export class ReplicaHost {
  readonly id: NodeId
  readonly stateMachine: SessionStateMachine
  private readonly o: ReplicaHostOptions
  private replicaImpl: Replica<unknown> | null = null
  private readonly log: Logger
  private appliedIndex = 0
  private commandsApplied = 0
  private requestsReceived = 0
  private stopped = false
  private cancelTick: (() => void) | null = null
  /** Readies waiting for their sync, released in order. */
  private readonly queue: PendingReady[] = []
  private releasing = false
  /** Requests this replica received from clients, by client: the seq it must answer. */
  private readonly pendingClients = new Map<NodeId, number>()
  private readonly admission: AdmissionControl
  /** Ticks since start: the clock admission control ages unanswered requests by. */
  private ticks = 0
  /** ReadIndex reads waiting for the state machine to catch up, in arrival order. */
  private pendingReads: ReadyRead[] = []
  private flushRequested = false
  /** A flush is scheduled for the end of this turn (runtime.afterTurn): frames until then share one Ready. */
  private flushAfterTurn = false
  /** This replica's clock runs at this multiple of real (or virtual) time: ticks come every tickMs / clockRate. */
  private clockRate = 1
  /**
   * Client requests refused because their session does not belong to the authenticated sender (core/sessions.ts):
   * a client may use only its own sessions.
   */
  foreignSessionRequests = 0

  constructor(options: ReplicaHostOptions) {
    this.o = options
    this.id = options.id
    this.stateMachine = new SessionStateMachine(options.stateMachine)
    this.admission = new AdmissionControl(options.maxPendingRequests ?? DEFAULT_MAX_PENDING_REQUESTS)
    this.log = options.log ?? createLogger(`consensus:host:${options.id}`)
  }

  get replica(): Replica<unknown> {
    if (this.replicaImpl === null) throw new Error('host not started')
    return this.replicaImpl
  }

  /** Recover from storage, create the replica, start ticking and receiving. */
  start(): void {
    const durable = this.o.storage.load()
    if (durable.snapshot !== null) {
      this.stateMachine.restore(durable.snapshot.data)
      this.appliedIndex = durable.snapshot.index
    }
    const ctx: ReplicaContext = {
      id: this.o.id,
      members: this.o.members,
      options: this.o.protocolOptions,
      rng: this.o.rng,
      signer: this.o.signer,
      verifier: this.o.verifier,
      publicKeyOf: id => this.publicKeyOf(id),
      recovered: durable,
      conflictKeys: conflictKeysFunction(this.stateMachine.inner),
      log: createLogger(`consensus:${this.o.descriptor.name}:${this.o.id}`),
    }
    this.replicaImpl = (this.o.replicaFactory ?? this.o.descriptor.createReplica)(ctx)
    this.o.transport.onFrame((from, frame) => this.onFrame(from, frame))
    this.scheduleTick()
    this.flush()
  }

  /** Stop ticking and ignore further frames (a crash, from the replica's point of view). */
  stop(): void {
    this.stopped = true
    this.cancelTick?.()
    this.cancelTick = null
  }

  /**
   * Make this replica's clock run fast (rate > 1) or slow (< 1) from the next tick on: clock drift, so that lease
   * reads are tested against their stated assumption on tick rates. 1 is the true rate.
   */
  setClockRate(rate: number): void {
    if (!(rate > 0) || !Number.isFinite(rate)) throw new ConfigError('clockRate', `must be a positive number, got ${rate}`)
    this.clockRate = rate
  }

  /**
   * An administrative input (membership change, leader transfer) for the replica, its outputs carried out at once.
   * Returns null when started, else why not (including a protocol without admin inputs).
   */
  admin(command: AdminCommand): string | null {
    if (this.stopped) return 'the replica is stopped'
    const replica = this.replica
    if (replica.admin === undefined || this.o.descriptor.adminCommands?.includes(command.kind) !== true) {
      return `${this.o.descriptor.name} has no ${command.kind === 'transfer-leadership' ? 'leader transfer' : 'membership changes'}`
    }
    const refusal = replica.admin(command)
    this.flush()
    return refusal
  }

  status(): HostStatus {
    return {
      ...this.replica.status(), id: this.id, appliedIndex: this.appliedIndex, commandsApplied: this.commandsApplied,
      requestsReceived: this.requestsReceived, requestsPending: this.admission.pending,
      requestsShed: this.admission.shed, membership: this.replica.membership?.() ?? null,
    }
  }

  private scheduleTick(): void {
    this.cancelTick = this.o.runtime.setTimer(this.o.tickMs / this.clockRate, () => {
      if (this.stopped) return
      this.ticks++
      this.replica.tick()
      this.flush()
      this.scheduleTick()
    })
  }

  private onFrame(from: NodeId, frame: InboundFrame): void {
    if (this.stopped) return
    try {
      if (frame.channel === 'protocol') {
        const message: unknown = frame.message ?? this.o.descriptor.codec.decode(frame.bytes)
        this.o.observer?.received?.(this.id, from, this.o.descriptor.codec.typeName(message), frame.bytes.length)
        this.replica.receive(from, message)
      } else if (frame.channel === 'request') {
        const request = (frame.message as ClientRequest | undefined) ?? decodeRequest(frame.bytes)
        this.o.observer?.received?.(this.id, from, 'ClientRequest', frame.bytes.length)
        this.onRequest(from, request)
      } else {
        this.reject(from, `unexpected ${frame.channel} frame`)
        return
      }
    } catch (e) {
      if (e instanceof CodecError) {
        this.reject(from, e.message)
        return
      }
      throw e
    }
    this.flushAtTurnEnd()
  }

  /** Flush now, or once this turn's frames are all in when the runtime can say when that is. */
  private flushAtTurnEnd(): void {
    const afterTurn = this.o.runtime.afterTurn
    if (afterTurn === undefined) return this.flush()
    if (this.flushAfterTurn) return
    this.flushAfterTurn = true
    afterTurn(() => {
      this.flushAfterTurn = false
      try {
        this.flush()
      } catch (e) {
        // As when the flush ran inside the transport's frame handler, which logs and counts what a handler throws:
        // one bad input must not take the node down.
        this.log('flush after a frame threw: %s', (e as Error).message)
      }
    })
  }

  /**
   * Keys as the replica sees them: a session signs with the key of the identity that owns it (a pipelining client has
   * one key and many sessions). Replicas have no sessions beyond their own id, so no replica key can sign for one.
   */
  private publicKeyOf(id: NodeId): Uint8Array | undefined {
    const identity = identityOfSession(id)
    if (identity !== id && this.o.members.includes(identity)) return undefined
    return this.o.publicKeyOf(identity)
  }

  private onRequest(from: NodeId, request: ClientRequest): void {
    // The sender is authenticated by the transport: a client may only speak for itself, through its own sessions.
    if (identityOfSession(request.clientId) !== from) {
      this.foreignSessionRequests++
      this.reject(from, `request for session ${request.clientId} of client ${identityOfSession(request.clientId)} was sent by ${from}`)
      return
    }
    this.requestsReceived++
    if (!this.admission.admit(request.clientId, this.ticks)) {
      this.sendBusy(from, request)
      return
    }
    this.pendingClients.set(request.clientId, request.seq)
    const replica = this.replica
    if (request.readOnly && replica.read !== undefined) replica.read(request, from)
    else replica.propose(request, from)
  }

  private reject(from: NodeId, reason: string): void {
    this.log('rejected frame from %s: %s', from, reason)
    this.o.observer?.rejected?.(this.id, from, reason)
  }

  /** Take the replica's outputs: persist them, and release them once durable. */
  private flush(): void {
    if (this.stopped) return
    if (this.releasing) {
      // Called from inside release (snapshotTaken produced output): pick it up when release finishes.
      this.flushRequested = true
      return
    }
    const ready = this.replica.ready()
    if (ready.persist.length === 0 && ready.messages.length === 0 && ready.committed.length === 0 &&
      ready.replies.length === 0 && ready.reads.length === 0 && ready.installSnapshot === null) return
    const pending: PendingReady = { ready, synced: ready.persist.length === 0, earlySent: false }
    this.queue.push(pending)
    if (!pending.synced || this.queue.length > 1) {
      // Messages that depend on nothing unsynced need not wait for this Ready's sync nor for earlier ones.
      pending.earlySent = this.sendMessages(ready, 'beforeSync')
    }
    if (!pending.synced) {
      this.o.storage.write(ready.persist)
      this.o.storage.sync(() => {
        pending.synced = true
        this.drain()
      })
    } else {
      this.drain()
    }
  }

  private drain(): void {
    if (this.releasing || this.stopped) return
    this.releasing = true
    try {
      while (this.queue.length > 0 && this.queue[0]!.synced) {
        const pending = this.queue.shift()!
        this.release(pending.ready, pending.earlySent)
        if (pending.ready.persist.length > 0 && this.replica.synced !== undefined) {
          this.replica.synced()
          this.flushRequested = true
        }
      }
    } finally {
      this.releasing = false
    }
    if (this.flushRequested) {
      this.flushRequested = false
      this.flush()
    }
  }

  /**
   * Send a Ready's messages: 'all' of them, 'beforeSync' ones only (returns whether there were any), or the rest
   * ('afterSync', when the beforeSync ones left earlier).
   */
  private sendMessages(ready: Ready<unknown>, which: 'all' | 'beforeSync' | 'afterSync'): boolean {
    const codec = this.o.descriptor.codec
    let lastMessage: unknown = undefined
    let lastFrame: OutboundFrame | null = null
    let sent = false
    for (const out of ready.messages) {
      if (which !== 'all' && (out.beforeSync === true) !== (which === 'beforeSync')) continue
      const message = out.message
      // Broadcasts push one message object to many peers: encode it once.
      if (message !== lastMessage || lastFrame === null) {
        lastFrame = { channel: 'protocol', type: codec.typeName(message), bytes: codec.encode(message), message }
        lastMessage = message
      }
      this.o.transport.send(out.to, lastFrame)
      sent = true
    }
    return sent
  }

  private release(ready: Ready<unknown>, earlySent: boolean): void {
    this.sendMessages(ready, earlySent ? 'afterSync' : 'all')
    if (ready.installSnapshot !== null && ready.installSnapshot.index > this.appliedIndex) {
      this.stateMachine.restore(ready.installSnapshot.data)
      this.appliedIndex = ready.installSnapshot.index
      this.o.observer?.installedSnapshot?.(this.id, this.appliedIndex)
    }
    for (const { to, reply } of ready.replies) {
      if (this.pendingClients.get(reply.clientId) === reply.seq) this.answered(reply.clientId)
      this.sendReply(to, reply)
    }
    for (const entry of ready.committed) this.apply(entry)
    for (const read of ready.reads) this.pendingReads.push(read)
    if (this.pendingReads.length > 0) this.serveReads()
  }

  private apply(entry: CommittedEntry): void {
    if (entry.index <= this.appliedIndex) return // covered by an installed snapshot
    if (entry.index !== this.appliedIndex + 1) {
      throw new Error(`${this.o.descriptor.name} replica ${this.id} committed index ${entry.index} after ` +
        `${this.appliedIndex}: committed indexes must be contiguous`)
    }
    const all = this.o.descriptor.replyFrom === 'all'
    for (const request of entry.requests) {
      const { result } = this.stateMachine.apply(request)
      if (all || this.pendingClients.get(request.clientId) === request.seq) {
        this.answered(request.clientId)
        this.sendResult(request, result)
      }
    }
    this.appliedIndex = entry.index
    this.commandsApplied += entry.requests.length
    this.o.observer?.applied?.(this.id, entry)
    if (entry.index % this.o.snapshotInterval === 0) {
      this.replica.snapshotTaken(entry.index, this.stateMachine.snapshot())
      this.flushRequested = true
    }
  }

  private serveReads(): void {
    const waiting: ReadyRead[] = []
    for (const read of this.pendingReads) {
      if (read.index > this.appliedIndex) { waiting.push(read); continue }
      this.answered(read.request.clientId)
      this.sendResult(read.request, this.stateMachine.query(read.request))
    }
    this.pendingReads = waiting
  }

  private answered(session: NodeId): void {
    this.pendingClients.delete(session)
    this.admission.settle(session)
  }

  private sendBusy(to: NodeId, request: ClientRequest): void {
    const status = this.replica.status()
    this.sendReply(to, {
      clientId: request.clientId, seq: request.seq, status: 'busy', result: EMPTY_BYTES,
      leaderHint: status.leader ?? -1, epoch: status.epoch,
      error: `too many requests: ${this.admission.pending} pending at replica ${this.id} (at most ${this.admission.maxPending}); retry later`,
    })
  }

  private sendResult(request: ClientRequest, result: Uint8Array): void {
    const status = this.replica.status()
    // The reply goes to the identity that owns the session: the transport knows identities, not sessions.
    this.sendReply(identityOfSession(request.clientId), {
      clientId: request.clientId, seq: request.seq, status: 'ok', result,
      leaderHint: status.leader ?? -1, epoch: status.epoch, error: '',
    })
  }

  private sendReply(to: NodeId, reply: ClientReply): void {
    this.o.transport.send(to, { channel: 'reply', type: 'ClientReply', bytes: encodeReply(reply), message: reply })
  }
}

/**
 * The snapshot interval a host must use: the protocol's required one if it has one (a different configured value is
 * an error naming both), else the configured one, else `fallback`.
 */
export function resolveSnapshotInterval(protocol: AnyProtocol, options: ParsedOptions,
  configured: number | undefined, fallback: number): number {
  const required = protocol.requiredSnapshotInterval?.(options)
  if (required !== undefined && configured !== undefined && configured !== required) {
    throw new ConfigError('snapshotInterval', `${protocol.name} needs the host to snapshot every ${required} indexes ` +
      `(its checkpoint interval), got ${configured}`)
  }
  const interval = required ?? configured ?? fallback
  if (!Number.isInteger(interval) || interval < 1) throw new ConfigError('snapshotInterval', `must be an integer >= 1, got ${interval}`)
  return interval
}

export function createReplicaHost(options: ReplicaHostOptions): ReplicaHost {
  return new ReplicaHost(options)
}

