/**
 * Keeps an outbound gossipsub stream open to every replica we are connected to.
 *
 * gossipsub opens its outbound stream to a peer once, when identify reports the peer speaks it, from one queue that
 * opens streams one after another, and never again while the connection lasts. In replica processes on a loaded
 * machine we saw that fail for good: a replica whose outbound streams never opened (the queue held up behind an open
 * that did not finish, or identify never reported the peer) sent no subscription, so no one published to it and it
 * could publish to no one: its broadcasts all went direct (issue 16: "no replica process published over the topic").
 * The cure is the step gossipsub skips: a replica connected to us but without our outbound stream for a whole
 * check period gets one opened directly (not through the held-up queue), one attempt at a time per peer (a new one
 * only if the last has not finished in OPEN_GIVE_UP_MS).
 */
import type { GossipSub } from '@libp2p/gossipsub'
import type { Connection, PeerId } from '@libp2p/interface'
import type { NodeId } from '../../core/types.ts'
import type { AddressBook } from './address-book.ts'

/** How often the streams are checked; a stream missing at two checks in a row is opened. */
export const STREAM_CHECK_MS = 1000

/** An open that has not finished by then (a stream open can hang) no longer stops a new attempt. */
const OPEN_GIVE_UP_MS = 15_000

/** The parts of gossipsub's implementation (the GossipSub class, public there but not on the factory's interface). */
interface GossipSubInternals {
  readonly streamsOutbound: ReadonlyMap<string, unknown>
  onPeerConnected(peerId: PeerId, connection: Connection): void
  createOutboundStream(peerId: PeerId, connection: Connection): Promise<void>
}

export interface StreamKeeperOptions {
  readonly pubsub: GossipSub
  readonly book: AddressBook
  readonly self: NodeId
  /** The node's open connections to a peer. */
  readonly connectionsTo: (peer: PeerId) => readonly Connection[]
  /** Called for each stream the keeper opens (a gossip counter). */
  readonly onRepair: (peer: NodeId) => void
}

export class GossipStreamKeeper {
  private readonly o: StreamKeeperOptions
  private readonly internals: GossipSubInternals
  /** Replicas connected but without our outbound stream at the last check. */
  private missing = new Set<NodeId>()
  /** Opens under way, by when they started. */
  private readonly opening = new Map<NodeId, number>()
  private timer: NodeJS.Timeout | null = null

  constructor(options: StreamKeeperOptions) {
    this.o = options
    this.internals = options.pubsub as unknown as GossipSubInternals
  }

  start(): void {
    this.timer = setInterval(() => this.check(), STREAM_CHECK_MS)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** One check: open the streams that were missing last time too. */
  check(): void {
    const missingNow = new Set<NodeId>()
    for (const entry of this.o.book.entries()) {
      if (entry.role !== 'replica' || entry.id === this.o.self || this.internals.streamsOutbound.has(entry.peerId.toString())) continue
      const connection = this.o.connectionsTo(entry.peerId).find(c => c.status === 'open')
      if (connection === undefined) continue
      missingNow.add(entry.id)
      const started = this.opening.get(entry.id)
      if (!this.missing.has(entry.id) || (started !== undefined && Date.now() - started < OPEN_GIVE_UP_MS)) continue
      this.opening.set(entry.id, Date.now())
      this.o.onRepair(entry.id)
      // Registers the peer with the router (a no-op if it knows it), then opens the stream; gossipsub sends our
      // subscriptions on it, and the peer's side opens its own stream back when ours arrives.
      this.internals.onPeerConnected(entry.peerId, connection)
      this.internals.createOutboundStream(entry.peerId, connection).catch(() => undefined)
        .finally(() => this.opening.delete(entry.id))
    }
    this.missing = missingNow
  }
}
