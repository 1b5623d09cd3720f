/**
 * PBFT client (paper section 4.1): sign the request, send it to the primary of the view it believes current, and
 * accept a result once f+1 distinct replicas reply with the same result for it (at least one of them is correct, so
 * the result is the one the correct replicas computed). If no such quorum arrives in time, broadcast the request to
 * every replica: backups forward it to the primary and start their request timers, which forces a view change if the
 * primary is faulty.
 */
import { bytesEqual, requestSigningBytes } from '../../core/codec/client-messages.ts'
import type { ClientContext, ClientProtocol, ClientReady } from '../../core/protocol.ts'
import type { Signer } from '../../core/signer.ts'
import type { ClientReply, ClientRequest, NodeId, Outbound } from '../../core/types.ts'
import { DEFAULT_PBFT_OPTIONS } from './options.ts'

export class PbftClient implements ClientProtocol {
  private readonly replicas: readonly NodeId[]
  private readonly f: number
  private readonly signer: Signer
  private readonly retryTicks: number
  /** The view the client believes current (from accepted replies): its primary gets the first attempt. */
  private view = 0
  private outstanding: ClientRequest | null = null
  /** Latest ok reply per replica for the outstanding request. */
  private readonly replies = new Map<NodeId, ClientReply>()
  private ticksUntilRetry = 0
  private messages: Outbound<ClientRequest>[] = []
  private completed: { seq: number; result: Uint8Array } | null = null

  constructor(ctx: ClientContext) {
    this.replicas = ctx.replicas
    this.f = Math.floor((ctx.replicas.length - 1) / 3)
    this.signer = ctx.signer
    const retry = ctx.options['clientRetryTicks']
    this.retryTicks = typeof retry === 'number' && retry > 0 ? retry : DEFAULT_PBFT_OPTIONS.clientRetryTicks
  }

  submit(request: ClientRequest): void {
    const signed = request.signature.length > 0 ? request : { ...request, signature: this.signer.sign(requestSigningBytes(request)) }
    this.outstanding = signed
    this.replies.clear()
    this.messages.push({ to: this.replicas[this.view % this.replicas.length]!, message: signed })
    this.ticksUntilRetry = this.retryTicks
  }

  receive(from: NodeId, reply: ClientReply): void {
    const req = this.outstanding
    if (req === null || reply.clientId !== req.clientId || reply.seq !== req.seq) return
    if (!this.replicas.includes(from) || reply.status !== 'ok') return
    this.replies.set(from, reply)
    const matching: ClientReply[] = []
    for (const r of this.replies.values()) if (bytesEqual(r.result, reply.result)) matching.push(r)
    if (matching.length < this.f + 1) return
    this.completed = { seq: req.seq, result: reply.result }
    this.outstanding = null
    this.replies.clear()
    // At least one of the f+1 is correct, so the smallest view among them is not ahead of the correct replicas.
    this.view = Math.max(this.view, Math.min(...matching.map(r => r.epoch)))
  }

  tick(): void {
    if (this.outstanding === null) return
    if (--this.ticksUntilRetry > 0) return
    for (const to of this.replicas) this.messages.push({ to, message: this.outstanding })
    this.ticksUntilRetry = this.retryTicks
  }

  ready(): ClientReady {
    const out: ClientReady = { messages: this.messages, completed: this.completed }
    this.messages = []
    this.completed = null
    return out
  }
}

export function createPbftClient(ctx: ClientContext): PbftClient {
  return new PbftClient(ctx)
}
