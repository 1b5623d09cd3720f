/**
 * The live Transport: one libp2p node per replica or client, on the stack chosen (stack.ts: TCP, WebSockets or QUIC;
 * Noise or TLS; Yamux or mplex; TCP + Noise + Yamux by default).
 *
 * - Identity: the node's Ed25519 seed is its libp2p key, so Noise authenticates every connection to a PeerId, and the
 *   address book maps that PeerId to the sender's NodeId. A payload never names its sender.
 * - Admission: strangers are refused at the connection gater (own node) and again when they open the protocol stream
 *   (a mounted node, whose gater is the user's). Clients may send only on the 'request' channel.
 * - Streams: one long-lived stream per peer carries our frames to it; frames from it arrive on whatever stream it opened
 *   to us or we opened to it (streams are bidirectional, so a dial-only client gets its replies on its own stream).
 * - Frames: frame-codec.ts; oversized and malformed frames are skipped and counted, never fatal to the node.
 * - Coalescing: frames for a peer are encoded into one batch buffer (frame-codec.ts FrameBatch), and the batch is
 *   written at the end of the turn (a microtask), so everything a host sends a peer in one turn (a Ready's messages,
 *   many replies) leaves as one stream write: one Yamux frame and one Noise message, not one per consensus message.
 *   A batch past FLUSH_BYTES is written at once, so a large burst streams out rather than piling up in the batch.
 * - Backpressure: the batch is the bounded queue per peer in front of the stream. send() returns false above
 *   `highWaterBytes`, drops (counted in stats.dropped) beyond `queueLimitBytes`, and `onDrain` handlers run when a
 *   congested queue falls back under half the high-water mark. We only hand the stream more when it is not asking for
 *   a drain, so its own buffer stays small.
 * - Reconnect: a lost stream is re-dialled when there is something to send, with exponential backoff and jitter.
 * - Faults: setBlocked() drops traffic to and from the given peers (a partition injected by the chaos tooling).
 *
 * - Dissemination (gossip-dissemination.ts): with `gossipsub`, a broadcast is recognised here, not in the host or the
 *   protocol: the host hands the same frame object to every peer of a broadcast in one turn (it encodes a broadcast
 *   once), so protocol frames are held until the end of the turn, and a frame that went to every other replica is
 *   published once on the cluster's topic for the replicas the topic reaches, and written directly to the rest (a
 *   replica down or not yet subscribed); any other frame, or a broadcast while a peer is blocked, goes out on the
 *   direct streams as before.
 *
 * Counting happens in send(), for every frame a host hands us, before any drop: the same point as the simulator, and
 * the same in both disseminations (a broadcast to n-1 peers counts n-1 messages either way).
 */
import type { AbortOptions, Connection, Libp2p, PeerId, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { ConfigError } from '../../core/errors.ts'
import { createLogger } from '../../core/logger.ts'
import type { Logger } from '../../core/logger.ts'
import type { NodeId } from '../../core/types.ts'
import { MessageStats } from '../../core/message-stats.ts'
import type { Channel, FrameHandler, OutboundFrame, Transport } from '../../core/transport.ts'
import { AddressBook } from './address-book.ts'
import type { BookEntry, PeerAddress } from './address-book.ts'
import { encodedFrameLength, FrameBatch, FrameDecoder, FramingError } from './frame-codec.ts'
import { newGossipCounters } from './dissemination.ts'
import type { Dissemination, GossipCounters } from './dissemination.ts'
import type { GossipChannel } from './gossip-dissemination.ts'
import { envelopeOverhead } from './gossip-envelope.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import { libp2pPrivateKey, peerIdOfPrivateKey } from './peer-identity.ts'
import { DEFAULT_STACK, listenAddress, stackModules, stackName } from './stack.ts'
import type { Libp2pStack } from './stack.ts'

export const DEFAULT_PROTOCOL_ID = '/consensus/1.0.0'

/**
 * The part of a libp2p node the transport uses. A Libp2p node is one; so are a service's components (see
 * consensus-service.ts), which is how the transport mounts on a node the user built.
 */
export interface StreamHost {
  readonly peerId: PeerId
  handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>
  unhandle(protocol: string): Promise<void>
  dialProtocol(target: Multiaddr[], protocol: string, options?: AbortOptions): Promise<Stream>
  getMultiaddrs(): Multiaddr[]
}

/** Options shared by every way of running the transport. */
export interface TransportTuning {
  readonly protocolId?: string
  /** Largest frame (channel byte + payload) sent or accepted. Default 4 MiB. */
  readonly maxFrameBytes?: number
  /** Per-peer queued bytes above which send() returns false. Default 1 MiB. */
  readonly highWaterBytes?: number
  /** Per-peer queued bytes beyond which frames are dropped. Default 8 MiB. */
  readonly queueLimitBytes?: number
  /** First reconnect delay; doubles per failed dial up to reconnectMaxMs. Defaults 50 ms and 2000 ms. */
  readonly reconnectInitialMs?: number
  readonly reconnectMaxMs?: number
  /** Give up a dial after this long. Default 2000 ms. */
  readonly dialTimeoutMs?: number
  readonly logger?: Logger
}

export interface Libp2pTransportOptions extends TransportTuning {
  readonly id: NodeId
  readonly peers: AddressBook | readonly PeerAddress[]
  /**
   * This node's 32-byte Ed25519 private key (seed); its public key must be the address book's key for `id`.
   * Required unless `node` is given (then the node's own key must be the book's key for `id`).
   */
  readonly privateKey?: Uint8Array
  /** Listen addresses for an own node. Default: this node's addresses in the book, else 127.0.0.1 on a free port. */
  readonly listen?: readonly string[]
  /** Mount on an existing, started libp2p node instead of creating one; stop() then leaves the node running. */
  readonly node?: Libp2p
  /** The libp2p stack of an own node (default tcp+noise+yamux); every member of a cluster must run the same. */
  readonly stack?: Libp2pStack
  /** How a replica's broadcasts leave it (default 'direct'); 'gossipsub' needs an own node. Clients ignore it. */
  readonly dissemination?: Dissemination
}

/** Frames refused on receipt, by reason. */
export interface RejectionCounts {
  /** A stranger opened the protocol stream, or a client sent on a replica-only channel. */
  unauthorized: number
  oversized: number
  malformed: number
  /** The frame handler threw (a host bug or a message its codec rejected by throwing). */
  handlerErrors: number
}

export type DrainHandler = (peer: NodeId) => void

export interface Libp2pTransport extends Transport {
  /** The libp2p node when we were given or created one; null when mounted as a service. */
  readonly node: Libp2p | null
  readonly peerId: PeerId
  readonly rejected: RejectionCounts
  /** Frames delivered to the handler. */
  readonly received: { frames: number; bytes: number }
  /** Listen addresses with /p2p/, for address books and tests. */
  multiaddrs(): string[]
  /**
   * Queue a frame for `to`; false when the peer's queue is above the high-water mark (the frame is still accepted up to
   * the queue's bound, beyond it dropped and counted). Hosts ignore the result (see core/transport.ts); users who drive
   * the transport directly can wait for `onDrain`.
   */
  send(to: NodeId, frame: OutboundFrame): boolean
  /** Called with a peer's id when its congested queue has drained below the low-water mark. */
  onDrain(handler: DrainHandler): void
  /** Drop all traffic to and from these peers until called again (an empty set heals the partition). */
  setBlocked(peers: ReadonlySet<NodeId>): void
  /** Bytes queued for a peer (not yet handed to its stream). */
  queuedBytes(peer: NodeId): number
  /** Writes handed to streams so far: frames sent per write is how much coalescing saved. */
  readonly streamWrites: number
  /** What gossip dissemination did on this node; null when broadcasts go direct. */
  readonly gossip: GossipCounters | null
  /** Close every stream and stop handling the protocol; stop the node too if we created it. */
  stop(): Promise<void>
}

interface PeerLink {
  readonly peer: BookEntry
  /** Encoded frames waiting for the stream, written as one. */
  readonly batch: FrameBatch
  /** A write of the batch is due at the end of this turn. */
  flushScheduled: boolean
  /** The stream we send on; null while (re)connecting. */
  stream: Stream | null
  /** Every open stream with this peer (we read from all of them). */
  readonly streams: Set<Stream>
  dialing: boolean
  failedDials: number
  retryTimer: NodeJS.Timeout | null
  congested: boolean
}

function positiveInt(value: number | undefined, fallback: number, field: string): number {
  const v = value ?? fallback
  if (!Number.isSafeInteger(v) || v <= 0) throw new ConfigError(field, `expected a positive integer, got ${JSON.stringify(v)}`)
  return v
}

function bookOf(peers: AddressBook | readonly PeerAddress[]): AddressBook {
  return peers instanceof AddressBook ? peers : new AddressBook(peers)
}

function entryOf(book: AddressBook, id: NodeId): BookEntry {
  const self = book.get(id)
  if (self === undefined) throw new ConfigError('id', `node ${id} is not in the address book`)
  return self
}

/** Own a libp2p node (TCP + Noise + Yamux, members-only gater), or mount on `options.node`. */
export async function createLibp2pTransport(options: Libp2pTransportOptions): Promise<Libp2pTransport> {
  const book = bookOf(options.peers)
  const self = entryOf(book, options.id)
  if (options.privateKey !== undefined && !peerIdOfPrivateKey(options.privateKey).equals(self.peerId)) {
    throw new ConfigError('privateKey', `does not match the public key of node ${options.id} in the address book`)
  }
  if (options.node !== undefined) {
    if (options.dissemination === 'gossipsub') {
      throw new ConfigError('dissemination', "'gossipsub' needs the transport's own libp2p node (leave out `node`), which runs the cluster's topic")
    }
    if (!options.node.peerId.equals(self.peerId)) {
      throw new ConfigError('node', `the libp2p node's PeerId ${options.node.peerId.toString()} is not node ${options.id}'s key`)
    }
    return mountLibp2pTransport(options.node, options.id, book, options, { node: options.node, owned: false, gossip: null })
  }
  if (options.privateKey === undefined) throw new ConfigError('privateKey', 'required when no libp2p node is given')
  const stack = options.stack ?? DEFAULT_STACK
  const listen = options.listen ?? (self.addrs.length > 0 ? self.addrs : [listenAddress(stack, '127.0.0.1', 0)])
  const isMember = (remote: PeerId): boolean => book.byPeer(remote) !== undefined
  // Only replicas gossip: a client sends requests and gets replies, both on direct streams.
  const gossip = options.dissemination === 'gossipsub' && self.role === 'replica' ? newGossipCounters() : null
  const maxFrameBytes = positiveInt(options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, 'maxFrameBytes')
  // Loaded only by a node that gossips (gossipsub, identify), as stackModules loads only the chosen stack's modules:
  // every `consensus node` and client process starts faster for it.
  const gossipModule = gossip !== null ? await import('./gossip-dissemination.ts') : null
  const identify = gossip !== null ? (await import('@libp2p/identify')).identify : null
  const node = await createLibp2p({
    privateKey: libp2pPrivateKey(options.privateKey),
    addresses: { listen: [...listen] },
    ...await stackModules(stack),
    // gossipsub learns which peers speak it from identify.
    ...(gossip !== null ? { services: { identify: identify!(), pubsub: gossipModule!.gossipService(gossip, maxFrameBytes) } } : {}),
    // Only the address book's peers can connect, so size the limits to it: libp2p's defaults (5 inbound connections
    // per second per IP) throttle a cluster whose many clients share one host or NAT, e.g. everything on 127.0.0.1.
    connectionManager: {
      inboundConnectionThreshold: 2 * book.size + 16,
      maxIncomingPendingConnections: 2 * book.size + 16,
      maxConnections: 2 * book.size + 64,
    },
    // Strangers are cut off right after the handshake (Noise, TLS, or QUIC's TLS) has authenticated them.
    connectionGater: {
      denyDialPeer: remote => !isMember(remote),
      denyInboundEncryptedConnection: remote => !isMember(remote),
      denyOutboundEncryptedConnection: remote => !isMember(remote),
    },
  })
  const pubsub = gossip !== null ? (node.services as { pubsub: GossipSub }).pubsub : null
  ;(options.logger ?? createLogger('consensus:libp2p'))('node %d on %s, broadcasts %s', options.id, stackName(stack), gossip !== null ? 'over gossipsub' : 'direct')
  return mountLibp2pTransport(node, options.id, book, options, { node, owned: true,
    gossip: pubsub === null ? null : { pubsub, counters: gossip!, Channel: gossipModule!.GossipChannel } })
}

/** The node under a transport, whether the transport stops it, and its gossipsub service when broadcasts gossip. */
interface OwnedNode {
  readonly node: Libp2p | null
  readonly owned: boolean
  readonly gossip: { readonly pubsub: GossipSub; readonly counters: GossipCounters; readonly Channel: typeof GossipChannel } | null
}

const DEFAULT_MAX_FRAME_BYTES = 4 << 20

/** Run the transport over any StreamHost whose PeerId is the book's key for `id` (checked). */
export async function mountLibp2pTransport(host: StreamHost, id: NodeId, peers: AddressBook | readonly PeerAddress[],
  tuning: TransportTuning = {}, node: OwnedNode = { node: null, owned: false, gossip: null }):
  Promise<Libp2pTransport> {
  const book = bookOf(peers)
  if (!host.peerId.equals(entryOf(book, id).peerId)) {
    throw new ConfigError('id', `this libp2p node (${host.peerId.toString()}) does not have node ${id}'s key`)
  }
  const transport = new Libp2pTransportImpl(id, book, host, tuning, node)
  await transport.start()
  return transport
}

class Libp2pTransportImpl implements Libp2pTransport {
  readonly id: NodeId
  readonly stats = new MessageStats()
  readonly node: Libp2p | null
  readonly rejected: RejectionCounts = { unauthorized: 0, oversized: 0, malformed: 0, handlerErrors: 0 }
  readonly received = { frames: 0, bytes: 0 }
  private readonly book: AddressBook
  private readonly host: StreamHost
  private readonly ownsNode: boolean
  private readonly protocolId: string
  private readonly maxFrameBytes: number
  private readonly highWaterBytes: number
  private readonly lowWaterBytes: number
  private readonly queueLimitBytes: number
  private readonly reconnectInitialMs: number
  private readonly reconnectMaxMs: number
  private readonly dialTimeoutMs: number
  private readonly log: Logger
  private readonly links = new Map<NodeId, PeerLink>()
  private handler: FrameHandler | null = null
  private readonly drainHandlers: DrainHandler[] = []
  private blocked: ReadonlySet<NodeId> = new Set()
  private stopped = false
  streamWrites = 0
  readonly gossip: GossipCounters | null
  private readonly gossipChannel: GossipChannel | null
  /** The other replicas: a protocol frame sent to all of them in one turn is a broadcast. */
  private readonly otherReplicas: readonly NodeId[]
  /** Protocol frames held until the end of the turn, by frame object, with their destinations (gossip only). */
  private readonly held = new Map<OutboundFrame, NodeId[]>()
  private heldFlushScheduled = false

  constructor(id: NodeId, book: AddressBook, host: StreamHost, options: TransportTuning, node: OwnedNode) {
    this.id = id
    this.book = book
    this.host = host
    this.node = node.node
    this.ownsNode = node.owned
    this.protocolId = options.protocolId ?? DEFAULT_PROTOCOL_ID
    this.maxFrameBytes = positiveInt(options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, 'maxFrameBytes')
    this.highWaterBytes = positiveInt(options.highWaterBytes, 1 << 20, 'highWaterBytes')
    this.lowWaterBytes = Math.floor(this.highWaterBytes / 2)
    this.queueLimitBytes = positiveInt(options.queueLimitBytes, 8 << 20, 'queueLimitBytes')
    if (this.queueLimitBytes < this.highWaterBytes) {
      throw new ConfigError('queueLimitBytes', `must be at least highWaterBytes (${this.highWaterBytes}), got ${this.queueLimitBytes}`)
    }
    this.reconnectInitialMs = positiveInt(options.reconnectInitialMs, 50, 'reconnectInitialMs')
    this.reconnectMaxMs = positiveInt(options.reconnectMaxMs, 2000, 'reconnectMaxMs')
    this.dialTimeoutMs = positiveInt(options.dialTimeoutMs, 2000, 'dialTimeoutMs')
    this.log = options.logger ?? createLogger('consensus:libp2p')
    this.otherReplicas = [...book.entries()].filter(e => e.role === 'replica' && e.id !== id).map(e => e.id)
    this.gossip = node.gossip?.counters ?? null
    this.gossipChannel = node.gossip === null ? null
      : new node.gossip.Channel({
        pubsub: node.gossip.pubsub, book, self: id, counters: node.gossip.counters, log: this.log,
        connectionsTo: peer => this.node?.getConnections(peer) ?? [],
        onMessage: (from, data) => this.deliver(from, 'protocol', data),
      })
  }

  get peerId(): PeerId {
    return this.host.peerId
  }

  async start(): Promise<void> {
    await this.host.handle(this.protocolId, (stream, connection) => this.onInboundStream(stream, connection), {
      // A member has one stream to us at a time; a few more cover reconnects racing the old stream's close.
      maxInboundStreams: 8,
      maxOutboundStreams: 8,
    })
    this.gossipChannel?.start()
    this.log('node %d listening as %s on %s', this.id, this.host.peerId.toString(), this.multiaddrs().join(' '))
  }

  multiaddrs(): string[] {
    return this.host.getMultiaddrs().map(ma => ma.toString())
  }

  onFrame(handler: FrameHandler): void {
    this.handler = handler
  }

  onDrain(handler: DrainHandler): void {
    this.drainHandlers.push(handler)
  }

  send(to: NodeId, frame: OutboundFrame): boolean {
    this.stats.record(frame.channel, frame.type, frame.bytes.length)
    if (this.stopped || this.blocked.has(to)) { this.stats.dropped++; return true }
    if (to === this.id) {
      // Loopback: deliver on a later turn, as the network would, so a handler never re-enters send().
      const bytes = frame.bytes.slice()
      setImmediate(() => this.deliver(this.id, frame.channel, bytes))
      return true
    }
    if (this.gossipChannel !== null && frame.channel === 'protocol') {
      // Held to the end of the turn; its queue's state is known only then, so no congestion is signalled for it here.
      this.hold(to, frame)
      return true
    }
    return this.enqueue(to, frame)
  }

  /** Queue a counted frame on the direct stream to `to`. */
  private enqueue(to: NodeId, frame: OutboundFrame): boolean {
    const link = this.linkFor(to)
    if (link === null) {
      this.log('node %d: dropping %s/%s for unknown node %d', this.id, frame.channel, frame.type, to)
      this.stats.dropped++
      return true
    }
    if (1 + frame.bytes.length > this.maxFrameBytes) {
      this.log('node %d: not sending to %d: %s/%s frame of %d bytes exceeds the %d-byte limit', this.id, to, frame.channel,
        frame.type, 1 + frame.bytes.length, this.maxFrameBytes)
      this.stats.dropped++
      return true
    }
    if (link.batch.bytes + encodedFrameLength(frame) > this.queueLimitBytes) {
      this.stats.dropped++
      link.congested = true
      return false
    }
    link.batch.append(frame)
    if (link.batch.bytes >= FLUSH_BYTES) this.pump(link)
    else if (!link.flushScheduled) {
      link.flushScheduled = true
      queueMicrotask(() => { link.flushScheduled = false; this.pump(link) })
    }
    if (link.batch.bytes > this.highWaterBytes) {
      link.congested = true
      return false
    }
    return true
  }

  private hold(to: NodeId, frame: OutboundFrame): void {
    const tos = this.held.get(frame)
    if (tos === undefined) this.held.set(frame, [to])
    else tos.push(to)
    if (!this.heldFlushScheduled) {
      this.heldFlushScheduled = true
      queueMicrotask(() => this.releaseHeld())
    }
  }

  /**
   * End of turn: publish each broadcast once on the topic, for the replicas it reaches, and write it directly to the
   * others (named in the envelope, so gossip's copy does not reach them a second time); everything else goes direct.
   */
  private releaseHeld(): void {
    this.heldFlushScheduled = false
    if (this.stopped) { this.stats.dropped += [...this.held.values()].reduce((a, t) => a + t.length, 0); this.held.clear(); return }
    for (const [frame, tos] of this.held) {
      const viaTopic = this.isBroadcast(tos) ? this.gossipChannel!.reachable(tos) : []
      const sentDirect = viaTopic.length === tos.length ? [] : tos.filter(to => !viaTopic.includes(to))
      if (viaTopic.length > 0 && 1 + envelopeOverhead(sentDirect) + frame.bytes.length <= this.maxFrameBytes) {
        this.gossipChannel!.publish(frame.bytes, sentDirect).catch((e: Error) => {
          this.stats.dropped += viaTopic.length
          this.log('node %d: gossip publish of %s failed: %s', this.id, frame.type, e.message)
        })
        for (const to of sentDirect) this.enqueue(to, frame)
      } else {
        for (const to of tos) this.enqueue(to, frame)
      }
    }
    this.held.clear()
  }

  /** Every other replica, each once, and none of them blocked (a partition must not leak through relays). */
  private isBroadcast(tos: readonly NodeId[]): boolean {
    if (tos.length !== this.otherReplicas.length || this.blocked.size > 0) return false
    const set = new Set(tos)
    return set.size === tos.length && this.otherReplicas.every(id => set.has(id))
  }

  queuedBytes(peer: NodeId): number {
    return this.links.get(peer)?.batch.bytes ?? 0
  }

  setBlocked(peers: ReadonlySet<NodeId>): void {
    this.blocked = new Set(peers)
    for (const peer of this.blocked) {
      const link = this.links.get(peer)
      if (link !== undefined) this.dropQueue(link)
    }
    this.log('node %d: blocked peers now [%s]', this.id, [...this.blocked].join(','))
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.gossipChannel?.stop()
    for (const link of this.links.values()) {
      if (link.retryTimer !== null) clearTimeout(link.retryTimer)
      link.retryTimer = null
      this.dropQueue(link)
      for (const stream of link.streams) stream.abort(new Error('transport stopped'))
      link.streams.clear()
      link.stream = null
    }
    if (this.ownsNode && this.node !== null) await this.node.stop()
    else await this.host.unhandle(this.protocolId)
    this.log('node %d stopped', this.id)
  }

  // --- sending ---

  private linkFor(peer: NodeId): PeerLink | null {
    let link = this.links.get(peer)
    if (link === undefined) {
      const entry = this.book.get(peer)
      if (entry === undefined) return null
      link = {
        peer: entry, batch: new FrameBatch(this.maxFrameBytes), flushScheduled: false, stream: null, streams: new Set(),
        dialing: false, failedDials: 0, retryTimer: null, congested: false,
      }
      this.links.set(peer, link)
    }
    return link
  }

  /** Hand the batch to the stream as one write, unless it is asking for a drain (its 'drain' event pumps again). */
  private pump(link: PeerLink): void {
    if (this.stopped) return
    const stream = link.stream
    if (stream === null) { this.connect(link); return }
    if (link.batch.bytes > 0 && !stream.writableNeedsDrain) {
      const frames = link.batch.frames
      const bytes = link.batch.take()
      try {
        stream.send(bytes)
        this.streamWrites++
      } catch (e) {
        // The stream closed under us; its 'close' handler finds another stream or redials.
        this.log('node %d: send to %d failed: %s', this.id, link.peer.id, (e as Error).message)
        this.stats.dropped += frames
        this.forgetStream(link, stream)
        return
      }
    }
    if (link.congested && link.batch.bytes <= this.lowWaterBytes) {
      link.congested = false
      for (const h of this.drainHandlers) h(link.peer.id)
    }
  }

  private dropQueue(link: PeerLink): void {
    this.stats.dropped += link.batch.clear()
  }

  private connect(link: PeerLink): void {
    if (link.dialing || link.retryTimer !== null || this.stopped || link.batch.bytes === 0) return
    if (link.peer.dialAddrs.length === 0) return // a dial-only client: wait for it to open a stream to us
    link.dialing = true
    this.host.dialProtocol([...link.peer.dialAddrs], this.protocolId, { signal: AbortSignal.timeout(this.dialTimeoutMs) })
      .then(stream => {
        link.dialing = false
        link.failedDials = 0
        if (this.stopped) { stream.abort(new Error('transport stopped')); return }
        this.log('node %d: connected to %d', this.id, link.peer.id)
        this.adopt(link, stream)
      }, (err: Error) => {
        link.dialing = false
        if (this.stopped) return
        const delay = Math.min(this.reconnectMaxMs, this.reconnectInitialMs * 2 ** link.failedDials)
        link.failedDials++
        // Jitter spreads the redials of a whole cluster after a peer comes back.
        const wait = Math.round(delay * (0.5 + Math.random() / 2))
        this.log('node %d: dial %d failed (%s); retry in %d ms', this.id, link.peer.id, err.message, wait)
        link.retryTimer = setTimeout(() => {
          link.retryTimer = null
          if (link.stream === null) this.connect(link)
        }, wait)
      })
  }

  // --- streams ---

  private onInboundStream(stream: Stream, connection: Connection): void {
    if (this.stopped) { stream.abort(new Error('transport stopped')); return }
    const entry = this.book.byPeer(connection.remotePeer)
    if (entry === undefined) {
      this.rejected.unauthorized++
      this.log('node %d: refused a stream from stranger %s', this.id, connection.remotePeer.toString())
      stream.abort(new Error('not a member of this cluster'))
      return
    }
    this.adopt(this.linkFor(entry.id)!, stream)
  }

  private adopt(link: PeerLink, stream: Stream): void {
    const from = link.peer.id
    const decoder = new FrameDecoder(this.maxFrameBytes,
      (channel, bytes) => this.deliver(from, channel, bytes),
      (reason, detail) => {
        this.rejected[reason]++
        this.log('node %d: rejected a frame from %d: %s', this.id, from, detail)
      })
    stream.addEventListener('message', evt => {
      const data = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
      try {
        decoder.push(data)
      } catch (e) {
        if (!(e instanceof FramingError)) throw e
        this.rejected.malformed++
        this.log('node %d: closing the stream from %d: %s', this.id, from, e.message)
        stream.abort(e)
      }
    })
    stream.addEventListener('drain', () => { if (link.stream === stream) this.pump(link) })
    stream.addEventListener('close', () => this.forgetStream(link, stream))
    link.streams.add(stream)
    if (link.stream === null) {
      link.stream = stream
      if (link.retryTimer !== null) { clearTimeout(link.retryTimer); link.retryTimer = null }
      link.failedDials = 0
      this.pump(link)
    }
  }

  private forgetStream(link: PeerLink, stream: Stream): void {
    link.streams.delete(stream)
    if (link.stream !== stream) return
    link.stream = null
    for (const other of link.streams) {
      if (other.writeStatus === 'writable') { link.stream = other; break }
    }
    this.log('node %d: stream to %d closed%s', this.id, link.peer.id, link.stream === null ? '' : ' (using another)')
    this.pump(link)
  }

  private deliver(from: NodeId, channel: Channel, bytes: Uint8Array): void {
    if (this.stopped) return
    if (this.blocked.has(from)) { this.stats.dropped++; return }
    if (channel !== 'request' && from !== this.id && this.book.get(from)?.role === 'client') {
      this.rejected.unauthorized++
      this.log('node %d: client %d may not send on the %s channel', this.id, from, channel)
      return
    }
    this.received.frames++
    this.received.bytes += bytes.length
    const handler = this.handler
    if (handler === null) return
    try {
      // The type name is not on the wire: the host decodes the bytes with the protocol's codec.
      handler(from, { channel, bytes })
    } catch (e) {
      this.rejected.handlerErrors++
      this.log('node %d: frame handler threw on a %s frame from %d: %s', this.id, channel, from, (e as Error).message)
    }
  }
}

/** A batch this large is written at once instead of at the end of the turn. */
const FLUSH_BYTES = 256 * 1024
