/**
 * The live Transport: one libp2p node (TCP + Noise + Yamux) per replica or client.
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
 * Counting happens in send(), for every frame a host hands us, before any drop: the same point as the simulator.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { AbortOptions, Connection, Libp2p, PeerId, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
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
import { libp2pPrivateKey, peerIdOfPrivateKey } from './peer-identity.ts'

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
    if (!options.node.peerId.equals(self.peerId)) {
      throw new ConfigError('node', `the libp2p node's PeerId ${options.node.peerId.toString()} is not node ${options.id}'s key`)
    }
    return mountLibp2pTransport(options.node, options.id, book, options, { node: options.node, owned: false })
  }
  if (options.privateKey === undefined) throw new ConfigError('privateKey', 'required when no libp2p node is given')
  const listen = options.listen ?? (self.addrs.length > 0 ? self.addrs : ['/ip4/127.0.0.1/tcp/0'])
  const isMember = (remote: PeerId): boolean => book.byPeer(remote) !== undefined
  const node = await createLibp2p({
    privateKey: libp2pPrivateKey(options.privateKey),
    addresses: { listen: [...listen] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Only the address book's peers can connect, so size the limits to it: libp2p's defaults (5 inbound connections
    // per second per IP) throttle a cluster whose many clients share one host or NAT, e.g. everything on 127.0.0.1.
    connectionManager: {
      inboundConnectionThreshold: 2 * book.size + 16,
      maxIncomingPendingConnections: 2 * book.size + 16,
      maxConnections: 2 * book.size + 64,
    },
    // Strangers are cut off right after the Noise handshake has authenticated them.
    connectionGater: {
      denyDialPeer: remote => !isMember(remote),
      denyInboundEncryptedConnection: remote => !isMember(remote),
      denyOutboundEncryptedConnection: remote => !isMember(remote),
    },
  })
  return mountLibp2pTransport(node, options.id, book, options, { node, owned: true })
}

/** Run the transport over any StreamHost whose PeerId is the book's key for `id` (checked). */
export async function mountLibp2pTransport(host: StreamHost, id: NodeId, peers: AddressBook | readonly PeerAddress[],
  tuning: TransportTuning = {}, node: { node: Libp2p | null; owned: boolean } = { node: null, owned: false }):
  Promise<Libp2pTransport> {
  const book = bookOf(peers)
  if (!host.peerId.equals(entryOf(book, id).peerId)) {
    throw new ConfigError('id', `this libp2p node (${host.peerId.toString()}) does not have node ${id}'s key`)
  }
  const transport = new Libp2pTransportImpl(id, book, host, tuning, node.node, node.owned)
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

  constructor(id: NodeId, book: AddressBook, host: StreamHost, options: TransportTuning, node: Libp2p | null, ownsNode: boolean) {
    this.id = id
    this.book = book
    this.host = host
    this.node = node
    this.ownsNode = ownsNode
    this.protocolId = options.protocolId ?? DEFAULT_PROTOCOL_ID
    this.maxFrameBytes = positiveInt(options.maxFrameBytes, 4 << 20, 'maxFrameBytes')
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
