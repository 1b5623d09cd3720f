/**
 * Drives a protocol's client half over a transport: numbers requests for exactly-once sessions, ticks the client
 * protocol while a request is outstanding, and gives up after a deadline. A request that timed out may still be
 * applied later (its outcome is unknown: a Jepsen `info`), so the next request takes a fresh sequence number.
 *
 * Completion is a callback, not a promise, so the deterministic simulator can drive clients synchronously;
 * `submitAsync` wraps it for live use.
 */
import { decodeReply, encodeRequest, EMPTY_BYTES } from './codec/client-messages.ts'
import { CodecError } from './errors.ts'
import type { AnyProtocol, ClientProtocol, ParsedOptions } from './protocol.ts'
import type { Rng } from './random.ts'
import type { HostRuntime } from './runtime.ts'
import type { Signer } from './signer.ts'
import type { ClientReply, ClientRequest, NodeId } from './types.ts'
import type { InboundFrame, Transport } from './transport.ts'

/** No accepted answer before the deadline (or the wait was aborted): the command may still be applied later. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError'
}

export type ClientOutcome =
  | { readonly status: 'ok'; readonly result: Uint8Array }
  /** No accepted answer before the deadline: the command may or may not have been applied. */
  | { readonly status: 'timeout' }

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
  /** First sequence number minus one (a client restarting under the same id must not reuse numbers). */
  readonly lastSeq?: number
}

interface Outstanding {
  readonly request: ClientRequest
  readonly done: (outcome: ClientOutcome) => void
  /** Runtime time at which the request is given up (checked on ticks, so no timer per request). */
  readonly deadline: number
}

export class ClientHost {
  readonly id: NodeId
  private readonly o: ClientHostOptions
  private readonly protocol: ClientProtocol
  private seq: number
  private outstanding: Outstanding | null = null
  /** The one pending tick event; it keeps running while a request is outstanding and lapses after. */
  private cancelTick: (() => void) | null = null
  private closed = false
  /** Replies that could not be decoded (a misbehaving replica). */
  malformedReplies = 0

  constructor(options: ClientHostOptions) {
    this.o = options
    this.id = options.id
    this.seq = options.lastSeq ?? 0
    this.protocol = options.descriptor.createClient({
      id: options.id, replicas: options.replicas, options: options.protocolOptions, rng: options.rng, signer: options.signer,
    })
    options.transport.onFrame((from, frame) => this.onFrame(from, frame))
  }

  get busy(): boolean {
    return this.outstanding !== null
  }

  /** Submit a command; `done` is called exactly once. One request at a time per client. */
  submit(op: Uint8Array, readOnly: boolean, timeoutMs: number, done: (outcome: ClientOutcome) => void): void {
    if (this.closed) throw new Error(`client ${this.id} is closed`)
    if (this.outstanding !== null) throw new Error(`client ${this.id} already has request ${this.outstanding.request.seq} outstanding`)
    const request: ClientRequest = { clientId: this.id, seq: ++this.seq, readOnly, op, signature: EMPTY_BYTES }
    this.outstanding = { request, done, deadline: this.o.runtime.now() + timeoutMs }
    this.protocol.submit(request)
    this.pump()
    this.scheduleTick()
  }

  submitAsync(op: Uint8Array, readOnly: boolean, timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      signal?.throwIfAborted()
      const onAbort = () => {
        this.finish({ status: 'timeout' })
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.submit(op, readOnly, timeoutMs, outcome => {
        signal?.removeEventListener('abort', onAbort)
        if (outcome.status === 'ok') resolve(outcome.result)
        else if (signal?.aborted) reject(signal.reason)
        else reject(new RequestTimeoutError(`request timed out after ${timeoutMs} ms (it may still be applied)`))
      })
    })
  }

  close(): void {
    this.closed = true
    this.cancelTick?.()
    this.cancelTick = null
    if (this.outstanding !== null) this.finish({ status: 'timeout' })
  }

  private scheduleTick(): void {
    if (this.cancelTick !== null) return
    this.cancelTick = this.o.runtime.setTimer(this.o.tickMs, () => {
      this.cancelTick = null
      if (this.outstanding === null || this.closed) return
      if (this.o.runtime.now() >= this.outstanding.deadline) {
        this.finish({ status: 'timeout' })
        return
      }
      this.protocol.tick()
      this.pump()
      this.scheduleTick()
    })
  }

  private onFrame(from: NodeId, frame: InboundFrame): void {
    if (frame.channel !== 'reply' || this.outstanding === null) return
    let reply
    try {
      reply = (frame.message as ClientReply | undefined) ?? decodeReply(frame.bytes)
    } catch (e) {
      if (e instanceof CodecError) { this.malformedReplies++; return }
      throw e
    }
    this.protocol.receive(from, reply)
    this.pump()
  }

  private pump(): void {
    const ready = this.protocol.ready()
    for (const { to, message } of ready.messages) {
      this.o.transport.send(to, { channel: 'request', type: 'ClientRequest', bytes: encodeRequest(message), message })
    }
    if (ready.completed !== null && this.outstanding !== null && ready.completed.seq === this.outstanding.request.seq) {
      this.finish({ status: 'ok', result: ready.completed.result })
    }
  }

  private finish(outcome: ClientOutcome): void {
    const o = this.outstanding
    if (o === null) return
    this.outstanding = null
    o.done(outcome)
  }
}

export function createClientHost(options: ClientHostOptions): ClientHost {
  return new ClientHost(options)
}
