/**
 * The shape every Byzantine strategy shares: an honest replica inside (so the adversary knows the protocol state and
 * speaks the protocol fluently), with its inputs filtered and its outputs rewritten. Strategies are small hooks.
 *
 * The wrapper also contains the adversary: whatever the inner replica or a strategy throws stays here. A faulty
 * replica may do anything except take down the host (or the simulation) it runs in; one that throws is simply
 * silent from then on, a crash that keeps running, and `failure` says why.
 *
 * Shared by the Byzantine protocols (PBFT, HotStuff): each supplies its strategies as hooks, and says which client
 * requests a replica message carries (a forwarded request), so request filters see those too.
 */
import type { Ready, Replica } from './protocol.ts'
import type { ClientRequest, NodeId, ReplicaStatus } from './types.ts'

export interface ByzantineHooks<M> {
  /** Return false to swallow a client request (or a forwarded one). */
  acceptRequest?(request: ClientRequest, from: NodeId): boolean
  /** Return false to swallow a replica message. */
  acceptMessage?(from: NodeId, message: M): void | boolean
  /** Rewrite what the honest replica wants to send (and persist/commit). */
  rewrite?(ready: Ready<M>): Ready<M>
  /** Extra behaviour each tick (spontaneous messages). */
  onTick?(emit: (to: NodeId, message: M) => void): void
}

function emptyReady<M>(): Ready<M> {
  return { persist: [], messages: [], committed: [], replies: [], reads: [], installSnapshot: null }
}

export class ByzantineReplica<M> implements Replica<M> {
  readonly strategy: string
  private readonly inner: Replica<M>
  private readonly hooks: ByzantineHooks<M>
  private readonly requestsIn: (message: M) => readonly ClientRequest[]
  private extra: Array<{ to: NodeId; message: M }> = []
  private failed: unknown = undefined
  private hasFailed = false

  /** `requestsIn`: the client requests a replica message carries (a forwarded request), for `acceptRequest`. */
  constructor(strategy: string, inner: Replica<M>, hooks: ByzantineHooks<M>,
    requestsIn: (message: M) => readonly ClientRequest[] = () => []) {
    this.strategy = strategy
    this.inner = inner
    this.hooks = hooks
    this.requestsIn = requestsIn
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

  receive(from: NodeId, message: M): void {
    this.guard(() => {
      const accept = this.hooks.acceptRequest
      if (accept !== undefined && this.requestsIn(message).some(r => accept(r, from) === false)) return
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

  ready(): Ready<M> {
    let out = emptyReady<M>()
    this.guard(() => {
      const honest = this.inner.ready()
      // A new list: a Ready's own lists may be shared and frozen when empty (core/ready.ts).
      const r = this.extra.length === 0 ? honest : { ...honest, messages: [...honest.messages, ...this.extra] }
      this.extra = []
      out = this.hooks.rewrite?.(r) ?? r
    })
    return this.hasFailed ? emptyReady<M>() : out
  }

  status(): ReplicaStatus {
    return this.inner.status()
  }
}
