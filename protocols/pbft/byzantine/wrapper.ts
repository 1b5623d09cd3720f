/**
 * The shape every Byzantine strategy shares: an honest replica inside (so the adversary knows the protocol state and
 * speaks the protocol fluently), with its inputs filtered and its outputs rewritten. Strategies are small hooks.
 */
import type { Ready, Replica } from '../../../core/protocol.ts'
import type { ClientRequest, NodeId, ReplicaStatus } from '../../../core/types.ts'
import type { PbftMessage } from '../messages.ts'

export interface ByzantineHooks {
  /** Return false to swallow a client request (or a forwarded one). */
  acceptRequest?(request: ClientRequest, from: NodeId): boolean
  /** Return false to swallow a replica message. */
  acceptMessage?(from: NodeId, message: PbftMessage): void | boolean
  /** Rewrite what the honest replica wants to send (and persist/commit). */
  rewrite?(ready: Ready<PbftMessage>): Ready<PbftMessage>
  /** Extra behaviour each tick (spontaneous messages). */
  onTick?(emit: (to: NodeId, message: PbftMessage) => void): void
}

export class ByzantineReplica implements Replica<PbftMessage> {
  readonly strategy: string
  private readonly inner: Replica<PbftMessage>
  private readonly hooks: ByzantineHooks
  private extra: Array<{ to: NodeId; message: PbftMessage }> = []

  constructor(strategy: string, inner: Replica<PbftMessage>, hooks: ByzantineHooks) {
    this.strategy = strategy
    this.inner = inner
    this.hooks = hooks
  }

  tick(): void {
    this.inner.tick()
    this.hooks.onTick?.((to, message) => this.extra.push({ to, message }))
  }

  receive(from: NodeId, message: PbftMessage): void {
    if (message.type === 'Forward' && this.hooks.acceptRequest?.(message.request, from) === false) return
    if (this.hooks.acceptMessage?.(from, message) === false) return
    this.inner.receive(from, message)
  }

  propose(request: ClientRequest, from: NodeId): void {
    if (this.hooks.acceptRequest?.(request, from) === false) return
    this.inner.propose(request, from)
  }

  snapshotTaken(index: number, data: Uint8Array): void {
    this.inner.snapshotTaken(index, data)
  }

  ready(): Ready<PbftMessage> {
    const r = this.inner.ready()
    r.messages.push(...this.extra)
    this.extra = []
    return this.hooks.rewrite?.(r) ?? r
  }

  status(): ReplicaStatus {
    return this.inner.status()
  }
}
