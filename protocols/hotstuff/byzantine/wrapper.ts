/**
 * The shape every Byzantine strategy shares: an honest replica inside (so the adversary knows the protocol state and
 * speaks the protocol fluently), with its inputs filtered and its outputs rewritten. Strategies are small hooks.
 *
 * The wrapper also contains the adversary: whatever the inner replica or a strategy throws stays here. A faulty
 * replica may do anything except take down the host (or the simulation) it runs in; one that throws is simply
 * silent from then on, a crash that keeps running, and `failure` says why.
 */
import type { Ready, Replica } from '../../../core/protocol.ts'
import type { ClientRequest, NodeId, ReplicaStatus } from '../../../core/types.ts'
import type { HotStuffMessage } from '../messages.ts'

export interface ByzantineHooks {
  /** Return false to swallow a client request (or a forwarded one). */
  acceptRequest?(request: ClientRequest, from: NodeId): boolean
  /** Return false to swallow a replica message. */
  acceptMessage?(from: NodeId, message: HotStuffMessage): void | boolean
  /** Rewrite what the honest replica wants to send (and persist/commit). */
  rewrite?(ready: Ready<HotStuffMessage>): Ready<HotStuffMessage>
  /** Extra behaviour each tick (spontaneous messages). */
  onTick?(emit: (to: NodeId, message: HotStuffMessage) => void): void
}

function emptyReady(): Ready<HotStuffMessage> {
  return { persist: [], messages: [], committed: [], replies: [], reads: [], installSnapshot: null }
}

export class ByzantineReplica implements Replica<HotStuffMessage> {
  readonly strategy: string
  private readonly inner: Replica<HotStuffMessage>
  private readonly hooks: ByzantineHooks
  private extra: Array<{ to: NodeId; message: HotStuffMessage }> = []
  private failed: unknown = undefined
  private hasFailed = false

  constructor(strategy: string, inner: Replica<HotStuffMessage>, hooks: ByzantineHooks) {
    this.strategy = strategy
    this.inner = inner
    this.hooks = hooks
  }

  /** What the inner replica or the strategy threw, if anything did (the replica has been silent since). */
  get failure(): unknown {
    return this.failed
  }

  /** Run one input; a throw silences this replica for good instead of reaching the host. */
  private guard(input: () => void): void {
    if (this.hasFailed) return
    try {
      input()
    } catch (e) {
      this.hasFailed = true
      this.failed = e
      this.extra = []
    }
  }

  tick(): void {
    this.guard(() => {
      this.inner.tick()
      this.hooks.onTick?.((to, message) => this.extra.push({ to, message }))
    })
  }

  receive(from: NodeId, message: HotStuffMessage): void {
    this.guard(() => {
      if (this.hooks.acceptMessage?.(from, message) === false) return
      this.inner.receive(from, message)
    })
  }

  propose(request: ClientRequest, from: NodeId): void {
    this.guard(() => {
      if (this.hooks.acceptRequest?.(request, from) === false) return
      this.inner.propose(request, from)
    })
  }

  snapshotTaken(index: number, data: Uint8Array): void {
    this.guard(() => this.inner.snapshotTaken(index, data))
  }

  ready(): Ready<HotStuffMessage> {
    let out = emptyReady()
    this.guard(() => {
      const r = this.inner.ready()
      r.messages.push(...this.extra)
      this.extra = []
      out = this.hooks.rewrite?.(r) ?? r
    })
    return this.hasFailed ? emptyReady() : out
  }

  status(): ReplicaStatus {
    return this.inner.status()
  }
}
