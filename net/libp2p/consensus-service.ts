/**
 * The transport as a libp2p service, for users who build their own node:
 *
 *   const node = await createLibp2p({
 *     privateKey: libp2pPrivateKey(seed),            // the replica's key: it must match the address book
 *     transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
 *     services: { consensus: consensusService({ id: 0, peers }) },
 *   })
 *   const transport = node.services.consensus.transport   // a Transport for createReplicaHost
 *
 * The service starts and stops with the node. The user's connection gater decides who may connect; the service still
 * refuses the protocol stream to anyone outside the address book.
 */
import type { AbortOptions, PeerId, Startable, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { NodeId } from '../../core/types.ts'
import type { AddressBook, PeerAddress } from './address-book.ts'
import { mountLibp2pTransport } from './libp2p-transport.ts'
import type { Libp2pTransport, StreamHost, TransportTuning } from './libp2p-transport.ts'

export interface ConsensusServiceInit extends TransportTuning {
  readonly id: NodeId
  readonly peers: AddressBook | readonly PeerAddress[]
}

/** The libp2p components the service needs (a structural subset of libp2p's Components). */
export interface ConsensusServiceComponents {
  readonly peerId: PeerId
  readonly registrar: {
    handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>
    unhandle(protocol: string, options?: AbortOptions): Promise<void>
  }
  readonly connectionManager: {
    openStream(peer: Multiaddr[], protocol: string, options?: AbortOptions): Promise<Stream>
  }
  readonly addressManager: { getAddresses(): Multiaddr[] }
}

export class ConsensusService implements Startable {
  private readonly init: ConsensusServiceInit
  private readonly host: StreamHost
  private current: Libp2pTransport | null = null

  constructor(components: ConsensusServiceComponents, init: ConsensusServiceInit) {
    this.init = init
    this.host = {
      peerId: components.peerId,
      handle: (protocol, handler, options) => components.registrar.handle(protocol, handler, options),
      unhandle: protocol => components.registrar.unhandle(protocol),
      dialProtocol: (target, protocol, options) => components.connectionManager.openStream(target, protocol, options),
      getMultiaddrs: () => components.addressManager.getAddresses(),
    }
  }

  readonly [Symbol.toStringTag] = 'consensus-bench/consensus-service'

  /** The transport; available once the node has started. */
  get transport(): Libp2pTransport {
    if (this.current === null) throw new Error('the consensus service has not started (start the libp2p node first)')
    return this.current
  }

  async start(): Promise<void> {
    this.current = await mountLibp2pTransport(this.host, this.init.id, this.init.peers, this.init)
  }

  async stop(): Promise<void> {
    await this.current?.stop()
    this.current = null
  }
}

export function consensusService(init: ConsensusServiceInit): (components: ConsensusServiceComponents) => ConsensusService {
  return components => new ConsensusService(components, init)
}
