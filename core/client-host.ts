/**
 * Drives a protocol's client half over a transport: numbers requests for exactly-once sessions, ticks the client
 * protocol while a request is outstanding, and gives up after a deadline. A request that timed out may still be
 * applied later (its outcome is unknown: a Jepsen `info`), so the next request takes a fresh sequence number.
 *
 * Pipelining: a client may open up to `sessions` sessions under its one identity (core/sessions.ts says how session
 * ids belong to an identity). Each session has its own sequence numbers, its own client protocol (leader guess,
 * retries, reply matching) and one request outstanding, so the replicas' session table keeps exactly-once per
 * session; together they keep up to `sessions` requests in flight over the client's one transport. Requests beyond
 * that wait in a queue (their deadline runs from submission). The default is one session, as before sessions existed,
 * so simulated clients keep their exact traces.
 *
 * Signing: the clients of Byzantine protocols sign every request. Where the runtime has turns (a live process), the
 * requests started in one turn are signed together with one batch signature (core/signers/signature-batch.ts) once
 * the turn's replies are all handled, and only then handed to their sessions' protocols: a load generator with many
 * requests in flight then pays one signature per turn instead of one per request, and so does the replica that checks
 * them. In the simulator, which has no turns, each request is signed by its session's protocol as it starts.
 *
 * Completion is a callback, not a promise, so the deterministic simulator can drive clients synchronously;
 * `submitAsync` wraps it for live use.
 */
import { decodeReply, encodeRequest, EMPTY_BYTES, requestSigningBytes } from './codec/client-messages.ts'
import { CodecError } from './errors.ts'
import type { AnyProtocol, ClientProtocol, ParsedOptions } from './protocol.ts'
import type { Rng } from './random.ts'
import type { HostRuntime } from './runtime.ts'
import { identityOfSession, MAX_SESSIONS_PER_CLIENT, sessionId, sessionIndexOf } from './sessions.ts'
import type { Signer } from './signer.ts'
import { signBatch } from './signers/signature-batch.ts'
import type { ClientReply, ClientRequest, NodeId } from './types.ts'
import type { InboundFrame, OutboundFrame, Transport } from './transport.ts'
import { SilentReplicas } from './clients/silent-replicas.ts'

/** No accepted answer before the deadline (or the wait was aborted): the command may still be applied later. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError'
}

export type ClientOutcome =
  | { readonly status: 'ok'; readonly result: Uint8Array }
  /** No accepted answer before the deadline: the command may or may not have been applied. */
  | { readonly status: 'timeout' }

/** What a workload needs of a client: its id and a way to submit commands (a ClientHost, or a sharded store's GroupClient). */
export interface CommandClient {
  readonly id: NodeId
  submit(op: Uint8Array, readOnly: boolean, timeoutMs: number, done: (outcome: ClientOutcome) => void): void
}

export interface ClientHostOptions {
  readonly descriptor: AnyProtocol
  readonly id: NodeId
  readonly replicas: readonly NodeId[]
  readonly protocolOptions: ParsedOptions
  readonly transport: Transport
  readonly runtime: HostRuntime
  readonly rng: Rng
  readonly signer: Signer
  readonly tickMs: number
  /** First sequence number minus one, for every session (a client restarting under the same id must not reuse numbers). */
  readonly lastSeq?: number
  /** Requests in flight at once, one per session (default 1); more wait in the client's queue. */
  readonly sessions?: number
  /** Shared with other clients of the same identity (a sharded store's groups); default: one for this client's sessions. */
  readonly silentReplicas?: SilentReplicas
  /**
   * The replica its sessions ask first (ClientContext.preferredReplica): the nearest one where the caller knows it.
   * Default: sessions spread over the replicas, starting at the client's id modulo their number.
   */
  readonly preferredReplica?: NodeId
}

interface Pending {
  readonly op: Uint8Array
  readonly readOnly: boolean
  readonly done: (outcome: ClientOutcome) => void
  /** Runtime time at which the request is given up (checked on ticks, so no timer per request). */
  readonly deadline: number
  /** The session carrying it; null while queued. */
  session: Session | null
  finished: boolean
}

interface Session {
  readonly id: NodeId
  readonly protocol: ClientProtocol
  seq: number
  /** The request this session has outstanding and its number. */
  pending: Pending | null
}

export class ClientHost implements CommandClient {
  readonly id: NodeId
  /** Most requests in flight at once (sessions). */
  readonly maxInFlight: number
  private readonly o: ClientHostOptions
  private readonly silentReplicas: SilentReplicas
  /** Sessions opened so far (lazily, as concurrency asks for them), by index. */
  private readonly sessions: Session[] = []
  private readonly idle: Session[] = []
  private inFlight = 0
  /** Requests waiting for a free session: queue[queueHead..]. */
  private queue: Pending[] = []
  private queueHead = 0
  /** Unfinished requests in the queue. */
  private queued = 0
  /** The one pending tick event; it keeps running while a request is outstanding or queued and lapses after. */
  private cancelTick: (() => void) | null = null
  private closed = false
  /** Replies that could not be decoded (a misbehaving replica). */
  malformedReplies = 0
  /** Sign requests in batches per turn (see the header); null: each session's protocol signs its own. */
  private readonly batchSigning: ((fn: () => void) => void) | null
  /** Requests started this turn, waiting for the turn's batch signature. */
  private unsigned: Array<{ readonly session: Session; readonly request: ClientRequest }> = []

  constructor(options: ClientHostOptions) {
    const sessions = options.sessions ?? 1
    if (!Number.isSafeInteger(sessions) || sessions < 1 || sessions > MAX_SESSIONS_PER_CLIENT) {
      throw new RangeError(`sessions must be an integer from 1 to ${MAX_SESSIONS_PER_CLIENT}, got ${sessions}`)
    }
    this.o = options
    this.id = options.id
    this.silentReplicas = options.silentReplicas ?? new SilentReplicas()
    this.maxInFlight = sessions
    const afterTurn = options.runtime.afterTurn
    this.batchSigning = options.descriptor.faultModel === 'byzantine' && afterTurn !== undefined ? afterTurn : null
    sessionId(options.id, 0) // validates the identity
    this.openSession() // session 0 at once, with the host's own rng, as before sessions existed
    options.transport.onFrame((from, frame) => this.onFrame(from, frame))
  }

  /** True when a new request would have to wait for a free session. */
  get busy(): boolean {
    return this.inFlight >= this.maxInFlight
  }

  /** Requests submitted and not yet finished (in flight and queued). */
  get outstanding(): number {
    return this.inFlight + this.queued
  }

  /** Submit a command; `done` is called exactly once. Beyond `sessions` in flight, it waits for a free session. */
  submit(op: Uint8Array, readOnly: boolean, timeoutMs: number, done: (outcome: ClientOutcome) => void): void {
    this.enqueue(op, readOnly, timeoutMs, done)
  }

  submitAsync(op: Uint8Array, readOnly: boolean, timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      signal?.throwIfAborted()
      const onAbort = () => this.finish(pending, { status: 'timeout' })
      const pending = this.enqueue(op, readOnly, timeoutMs, outcome => {
        signal?.removeEventListener('abort', onAbort)
        if (outcome.status === 'ok') resolve(outcome.result)
        else if (signal?.aborted) reject(signal.reason)
        else reject(new RequestTimeoutError(`request timed out after ${timeoutMs} ms (it may still be applied)`))
      })
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  close(): void {
    this.closed = true
    this.cancelTick?.()
    this.cancelTick = null
    for (const s of this.sessions) if (s.pending !== null) this.finish(s.pending, { status: 'timeout' })
    const waiting = this.queue.slice(this.queueHead)
    this.queue = []
    this.queueHead = 0
    for (const p of waiting) if (!p.finished) this.finish(p, { status: 'timeout' })
  }

  private enqueue(op: Uint8Array, readOnly: boolean, timeoutMs: number, done: (outcome: ClientOutcome) => void): Pending {
    if (this.closed) throw new Error(`client ${this.id} is closed`)
    const pending: Pending = { op, readOnly, done, deadline: this.o.runtime.now() + timeoutMs, session: null, finished: false }
    const session = this.freeSession()
    if (session !== null) this.start(session, pending)
    else { this.queue.push(pending); this.queued++ }
    this.scheduleTick()
    return pending
  }

  private openSession(): Session {
    const k = this.sessions.length
    const id = sessionId(this.o.id, k)
    const protocol = this.o.descriptor.createClient({
      id, replicas: this.o.replicas, options: this.o.protocolOptions,
      preferredReplica: this.o.preferredReplica ?? this.o.replicas[(this.o.id + k) % this.o.replicas.length]!,
      rng: k === 0 ? this.o.rng : this.o.rng.fork(`session-${k}`), signer: this.o.signer, silentReplicas: this.silentReplicas,
    })
    const session: Session = { id, protocol, seq: this.o.lastSeq ?? 0, pending: null }
    this.sessions.push(session)
    this.idle.push(session)
    return session
  }

  private freeSession(): Session | null {
    if (this.idle.length === 0 && this.sessions.length < this.maxInFlight) this.openSession()
    // Lowest index first: a client that never overlaps requests uses session 0 only.
    let best = -1
    for (let i = 0; i < this.idle.length; i++) if (best < 0 || this.idle[i]!.id < this.idle[best]!.id) best = i
    if (best < 0) return null
    const s = this.idle[best]!
    this.idle[best] = this.idle[this.idle.length - 1]!
    this.idle.pop()
    return s
  }

  private start(session: Session, pending: Pending): void {
    pending.session = session
    session.pending = pending
    this.inFlight++
    const request: ClientRequest = { clientId: session.id, seq: ++session.seq, readOnly: pending.readOnly, op: pending.op, signature: EMPTY_BYTES }
    if (this.batchSigning === null) {
      session.protocol.submit(request)
      this.pump(session)
      return
    }
    if (this.unsigned.length === 0) this.batchSigning(() => this.signStarted())
    this.unsigned.push({ session, request })
  }

  /** Sign the requests started this turn with one batch signature and hand each to its session's protocol. */
  private signStarted(): void {
    // A request that finished meanwhile (timed out, aborted, closed) is not sent: its session may carry a newer one.
    const started = this.unsigned.filter(({ session, request }) => !this.closed && session.pending !== null && session.seq === request.seq)
    this.unsigned = []
    const signatures = signBatch(this.o.signer, started.map(({ request }) => requestSigningBytes(request)))
    started.forEach(({ session, request }, i) => {
      session.protocol.submit({ ...request, signature: signatures[i]! })
      this.pump(session)
    })
  }

  private scheduleTick(): void {
    if (this.cancelTick !== null || this.closed) return
    this.cancelTick = this.o.runtime.setTimer(this.o.tickMs, () => {
      this.cancelTick = null
      if (this.closed || this.outstanding === 0) return
      const now = this.o.runtime.now()
      for (const s of this.sessions) {
        if (s.pending === null) continue
        if (now >= s.pending.deadline) { this.finish(s.pending, { status: 'timeout' }); continue }
        s.protocol.tick()
        this.pump(s)
      }
      for (let i = this.queueHead; i < this.queue.length; i++) {
        const p = this.queue[i]!
        if (!p.finished && now >= p.deadline) this.finish(p, { status: 'timeout' })
      }
      if (this.outstanding > 0) this.scheduleTick()
    })
  }

  private onFrame(from: NodeId, frame: InboundFrame): void {
    if (frame.channel !== 'reply' || this.inFlight === 0) return
    let reply
    try {
      reply = (frame.message as ClientReply | undefined) ?? decodeReply(frame.bytes)
    } catch (e) {
      if (e instanceof CodecError) { this.malformedReplies++; return }
      throw e
    }
    if (identityOfSession(reply.clientId) !== this.id) return
    const session = this.sessions[sessionIndexOf(reply.clientId)]
    if (session === undefined || session.pending === null) return
    session.protocol.receive(from, reply)
    this.pump(session)
  }

  private pump(session: Session): void {
    const ready = session.protocol.ready()
    // A request sent to every replica is one object: encode it once for all of them.
    let frame: OutboundFrame | null = null
    for (const { to, message } of ready.messages) {
      if (frame === null || frame.message !== message) frame = { channel: 'request', type: 'ClientRequest', bytes: encodeRequest(message), message }
      this.o.transport.send(to, frame)
    }
    if (ready.completed !== null && session.pending !== null && ready.completed.seq === session.seq) {
      this.finish(session.pending, { status: 'ok', result: ready.completed.result })
    }
  }

  private finish(pending: Pending, outcome: ClientOutcome): void {
    if (pending.finished) return
    pending.finished = true
    const session = pending.session
    if (session !== null) {
      session.pending = null
      this.inFlight--
      this.idle.push(session)
    } else {
      this.queued--
    }
    pending.done(outcome)
    // Compact finished entries (timed out or aborted while queued) off the front, then hand free sessions to waiters.
    while (this.queueHead < this.queue.length && this.queue[this.queueHead]!.finished) this.queueHead++
    while (!this.closed && this.queueHead < this.queue.length && this.inFlight < this.maxInFlight) {
      const next = this.queue[this.queueHead++]!
      if (next.finished) continue
      this.queued--
      this.start(this.freeSession()!, next)
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead)
      this.queueHead = 0
    }
  }
}

export function createClientHost(options: ClientHostOptions): ClientHost {
  return new ClientHost(options)
}
