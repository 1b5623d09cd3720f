/**
 * Broadcasts over a gossipsub topic per cluster instead of one direct stream write per peer.
 *
 * Sender authentication is the same rule as on direct streams, carried over to a relayed message: every message is
 * signed by its originator's libp2p key (gossipsub's StrictSign policy: a message without a signature, or whose
 * signature does not verify against the key of its `from`, is dropped by gossipsub before we see it), and the
 * receiver takes the sender from that verified `from`, never from the payload or from the peer that relayed it. A
 * message whose originator is not one of the cluster's replicas, or that was relayed by anyone but a replica, is
 * rejected by the topic validator, so gossipsub neither delivers nor forwards it (and lowers the relayer's peer score).
 *
 * Reach: a broadcast is published for the replicas subscribed over an open gossip stream and written directly to the
 * rest (one down, or not yet on the topic); the envelope (gossip-envelope.ts) names the latter, and they drop the gossip
 * copy, so every replica takes each broadcast from one path only.
 *
 * Counting: gossipsub drops copies it has already seen (its seen-cache, keyed by originator and sequence number), so
 * each message reaches the frame handler once, at the same point as a direct frame. Copies arriving on the wire,
 * duplicates included, are counted apart (`copiesReceived`): that is gossip's wire amplification, reported beside the
 * protocol's message counts, never mixed into them.
 */
import { createHash } from 'node:crypto'
import { gossipsub, StrictSign, TopicValidatorResult } from '@libp2p/gossipsub'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { Connection, PeerId } from '@libp2p/interface'
import type { Logger } from '../../core/logger.ts'
import type { NodeId } from '../../core/types.ts'
import type { AddressBook } from './address-book.ts'
import { decodeEnvelope, encodeEnvelope, EnvelopeError } from './gossip-envelope.ts'
import { GossipStreamKeeper } from './gossip-stream-keeper.ts'
import type { GossipCounters } from './dissemination.ts'

export { DISSEMINATIONS, newGossipCounters } from './dissemination.ts'
export type { Dissemination, GossipCounters } from './dissemination.ts'

/** The cluster's topic: named by its replicas' keys, so two clusters sharing peers never mix their broadcasts. */
export function clusterTopic(book: AddressBook): string {
  const keys = [...book.entries()].filter(e => e.role === 'replica').map(e => e.peerId.toString()).sort()
  return `/consensus/${createHash('sha256').update(keys.join(',')).digest('hex').slice(0, 16)}/broadcast`
}

/** The gossipsub service for createLibp2p, with counting hooks into `counters`. */
export function gossipService(counters: GossipCounters, maxDataBytes: number): ReturnType<typeof gossipsub> {
  return gossipsub({
    globalSignaturePolicy: StrictSign,
    emitSelf: false,
    // The transport publishes only for the replicas the topic reaches (GossipChannel.reachable); a publish racing a
    // peer's restart may still find none, and the protocol's retransmission covers what is lost then, as on streams.
    allowPublishToZeroTopicPeers: true,
    fallbackToFloodsub: false,
    doPX: false,
    maxInboundDataLength: maxDataBytes,
    // Called for every copy that passes the signature check, before the seen-cache drops duplicates.
    dataTransform: {
      inboundTransform: (_topic, data) => { counters.copiesReceived++; counters.copyBytesReceived += data.length; return data },
      outboundTransform: (_topic, data) => data,
    },
  })
}

export interface GossipChannelOptions {
  readonly pubsub: GossipSub
  readonly book: AddressBook
  /** This replica's id. */
  readonly self: NodeId
  readonly counters: GossipCounters
  readonly log: Logger
  /** The node's open connections to a peer (for GossipStreamKeeper). */
  readonly connectionsTo: (peer: PeerId) => readonly Connection[]
  /** A verified replica's broadcast, once, with the sender taken from its signature. */
  readonly onMessage: (from: NodeId, data: Uint8Array) => void
}

/** One node's side of the cluster topic: publish broadcasts, hand verified members' messages on. */
export class GossipChannel {
  readonly topic: string
  private readonly pubsub: GossipSub
  private readonly book: AddressBook
  /** This replica's id: a broadcast naming it in the envelope's `sentDirect` reached it directly. */
  private readonly self: NodeId
  private readonly counters: GossipCounters
  private readonly log: Logger
  private readonly onMessage: (from: NodeId, data: Uint8Array) => void
  private readonly listener = (evt: CustomEvent<Message>): void => this.receive(evt.detail)
  private readonly keeper: GossipStreamKeeper

  constructor(o: GossipChannelOptions) {
    this.pubsub = o.pubsub
    this.book = o.book
    this.self = o.self
    this.counters = o.counters
    this.log = o.log
    this.onMessage = o.onMessage
    this.topic = clusterTopic(o.book)
    this.keeper = new GossipStreamKeeper({
      pubsub: o.pubsub, book: o.book, self: o.self, connectionsTo: o.connectionsTo,
      onRepair: peer => { this.counters.streamRepairs++; this.log('node %d: opening the gossip stream to %d that gossipsub did not', o.self, peer) },
    })
  }

  start(): void {
    this.pubsub.topicValidators.set(this.topic, (source, message) => {
      const relayer = this.book.byPeer(source)
      const origin = message.type === 'signed' ? this.book.byPeer(message.from) : undefined
      // Only replicas gossip (a client member sends requests on direct streams), so only a replica may relay: a client
      // that subscribed could otherwise replay a replica's signed broadcast once gossipsub's seen-cache forgot it.
      if (relayer === undefined || relayer.role !== 'replica' || origin === undefined || origin.role !== 'replica') {
        this.counters.refused++
        this.log('refused a gossip message relayed by %s from %s: not from and through replicas of this cluster', source.toString(),
          message.type === 'signed' ? message.from.toString() : '(unsigned)')
        return TopicValidatorResult.Reject
      }
      return TopicValidatorResult.Accept
    })
    this.pubsub.addEventListener('message', this.listener)
    this.pubsub.subscribe(this.topic)
    this.keeper.start()
  }

  stop(): void {
    this.keeper.stop()
    this.pubsub.removeEventListener('message', this.listener)
    this.pubsub.topicValidators.delete(this.topic)
  }

  /**
   * The replicas among `peers` a publish now reaches: each has told us it is subscribed, and our outbound gossipsub
   * stream to it is open (gossipsub drops what it cannot write at once, and a peer's subscription arrives on its stream
   * to us, which may open before ours to it: the first broadcasts after a (re)connect were lost). A replica that is down
   * is in none of them, so the caller writes to it directly: requiring all of them kept a cluster with one replica down
   * off the topic for good.
   */
  reachable(peers: readonly NodeId[]): NodeId[] {
    const subscribed = new Set(this.pubsub.getSubscribers(this.topic).map(p => p.toString()))
    // `streamsOutbound` is public on the implementation (GossipSub class), not on the factory's interface.
    const outbound = (this.pubsub as unknown as { streamsOutbound?: ReadonlyMap<string, unknown> }).streamsOutbound
    return peers.filter(id => {
      const peer = this.book.get(id)?.peerId.toString()
      return peer !== undefined && subscribed.has(peer) && (outbound === undefined || outbound.has(peer))
    })
  }

  /** Publish a broadcast; `sentDirect` are the replicas it also went to on direct streams (they skip this copy). */
  publish(bytes: Uint8Array, sentDirect: readonly NodeId[]): Promise<unknown> {
    const data = encodeEnvelope(sentDirect, bytes)
    this.counters.published++
    this.counters.publishedBytes += data.length
    return this.pubsub.publish(this.topic, data)
  }

  private receive(message: Message): void {
    // The validator has already refused non-replicas; the signature was checked by gossipsub (StrictSign).
    if (message.topic !== this.topic || message.type !== 'signed') return
    const origin = this.book.byPeer(message.from)
    if (origin === undefined || origin.role !== 'replica') return
    let envelope
    try {
      envelope = decodeEnvelope(message.data)
    } catch (e) {
      if (!(e instanceof EnvelopeError)) throw e
      this.counters.malformed++
      this.log('dropped a gossip message from replica %d: %s', origin.id, e.message)
      return
    }
    if (envelope.sentDirect.includes(this.self)) { this.counters.sentDirect++; return }
    this.counters.delivered++
    this.onMessage(origin.id, envelope.bytes)
  }
}
