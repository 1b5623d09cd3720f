/**
 * Client half for Byzantine protocols (PBFT paper section 4.1, HotStuff section 4): sign the request, send it to the
 * replicas the protocol names for the view the client believes current, and accept a result once `matchingReplies`
 * distinct replicas (f+1) reply with the same result for it: at least one of them is correct, so the result is the one
 * the correct replicas computed. If no such set arrives in time, broadcast the request to every replica (backups
 * forward it to the leader and start their timers, which replaces a faulty leader) and keep rebroadcasting.
 * A busy answer (admission control, core/admission.ts) postpones that: the first-attempt replicas are asked again
 * after a short wait, doubling from one tick, for a few rounds, since a broadcast would start every backup's timer
 * against a primary that is only overloaded. A Byzantine primary answering busy forever delays the broadcast by a
 * bounded time, no more.
 */
import { bytesEqual, requestSigningBytes } from '../codec/client-messages.ts'
import type { ClientProtocol, ClientReady } from '../protocol.ts'
import type { Signer } from '../signer.ts'
import type { ClientReply, ClientRequest, NodeId, Outbound } from '../types.ts'

export interface QuorumClientOptions {
  /** Matching replies from distinct replicas that make a result final: f+1. */
  readonly matchingReplies: number
  /** Ticks before the request is broadcast to all replicas, and between later rebroadcasts. */
  readonly retryTicks: number
  /**
   * Who gets the first attempt, given the view the client believes current (the smallest view among the last
   * accepted replies): PBFT sends to that view's primary only; a protocol whose leader rotates may send to several.
   */
  readonly firstAttemptTo: (view: number, replicas: readonly NodeId[]) => readonly NodeId[]
}

/**
 * Busy rounds per request before the client broadcasts anyway: waits of 1, 2, 4, ... ticks (each at most retryTicks),
 * so at most MAX_BUSY_ROUNDS retry periods in all.
 */
const MAX_BUSY_ROUNDS = 8

export interface QuorumClientContext {
  readonly replicas: readonly NodeId[]
  readonly signer: Signer
}

export class QuorumClient implements ClientProtocol {
  private readonly replicas: readonly NodeId[]
  private readonly signer: Signer
  private readonly options: QuorumClientOptions
  private view = 0
  private outstanding: ClientRequest | null = null
  /** Latest ok reply per replica for the outstanding request. */
  private readonly replies = new Map<NodeId, ClientReply>()
  private ticksUntilRetry = 0
  /** Busy rounds of the outstanding request: each doubles the wait before the first-attempt replicas are asked again. */
  private busyRounds = 0
  /** This attempt was answered busy: when the wait runs out, ask the first-attempt replicas again, no broadcast. */
  private retryFirstAttempt = false
  private messages: Outbound<ClientRequest>[] = []
  private completed: { seq: number; result: Uint8Array } | null = null

  constructor(ctx: QuorumClientContext, options: QuorumClientOptions) {
    if (!Number.isInteger(options.matchingReplies) || options.matchingReplies < 1) {
      throw new RangeError(`matchingReplies must be a positive integer, got ${options.matchingReplies}`)
    }
    if (!Number.isInteger(options.retryTicks) || options.retryTicks < 1) {
      throw new RangeError(`retryTicks must be a positive integer, got ${options.retryTicks}`)
    }
    this.replicas = ctx.replicas
    this.signer = ctx.signer
    this.options = options
  }

  submit(request: ClientRequest): void {
    const signed = request.signature.length > 0 ? request : { ...request, signature: this.signer.sign(requestSigningBytes(request)) }
    this.outstanding = signed
    this.replies.clear()
    this.busyRounds = 0
    this.sendFirstAttempt()
  }

  private sendFirstAttempt(): void {
    this.retryFirstAttempt = false
    for (const to of this.options.firstAttemptTo(this.view, this.replicas)) this.messages.push({ to, message: this.outstanding! })
    this.ticksUntilRetry = this.options.retryTicks
  }

  receive(from: NodeId, reply: ClientReply): void {
    const req = this.outstanding
    if (req === null || reply.clientId !== req.clientId || reply.seq !== req.seq) return
    if (!this.replicas.includes(from)) return
    if (reply.status === 'busy') return this.onBusy()
    if (reply.status !== 'ok') return
    this.replies.set(from, reply)
    const matching: ClientReply[] = []
    for (const r of this.replies.values()) if (bytesEqual(r.result, reply.result)) matching.push(r)
    if (matching.length < this.options.matchingReplies) return
    this.completed = { seq: req.seq, result: reply.result }
    this.outstanding = null
    this.replies.clear()
    // At least one of the matching repliers is correct, so the smallest view among them is not ahead of the correct
    // replicas: a Byzantine replica cannot push the client to a view nobody is in.
    this.view = Math.max(this.view, Math.min(...matching.map(r => r.epoch)))
  }

  private onBusy(): void {
    if (this.retryFirstAttempt || this.busyRounds >= MAX_BUSY_ROUNDS) return
    this.ticksUntilRetry = Math.min(2 ** this.busyRounds, this.options.retryTicks)
    this.busyRounds++
    this.retryFirstAttempt = true
  }

  tick(): void {
    if (this.outstanding === null) return
    if (--this.ticksUntilRetry > 0) return
    if (this.retryFirstAttempt) return this.sendFirstAttempt()
    for (const to of this.replicas) this.messages.push({ to, message: this.outstanding })
    this.ticksUntilRetry = this.options.retryTicks
  }

  ready(): ClientReady {
    const out: ClientReady = { messages: this.messages, completed: this.completed }
    this.messages = []
    this.completed = null
    return out
  }
}
