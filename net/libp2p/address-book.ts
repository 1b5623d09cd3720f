/**
 * The static membership of a live cluster: NodeId -> (public key, listen addresses). It is also the allow-list: a
 * peer whose authenticated PeerId is not in the book cannot open a consensus stream, and the NodeId of every frame's
 * sender comes from here, looked up by that PeerId, never from the payload.
 */
import type { PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ConfigError } from '../../core/errors.ts'
import type { NodeId } from '../../core/types.ts'
import { peerIdOfPublicKey } from './peer-identity.ts'

/** Replicas run the protocol; clients may only send requests (and receive replies). */
export type PeerRole = 'replica' | 'client'

export interface PeerAddress {
  readonly id: NodeId
  readonly role: PeerRole
  /** The 32-byte Ed25519 public key: the peer's signing key and libp2p identity. */
  readonly publicKey: Uint8Array
  /** Multiaddrs it listens on, without the /p2p/ suffix (e.g. '/ip4/127.0.0.1/tcp/7001'); none for a dial-only client. */
  readonly addrs: readonly string[]
}

export interface BookEntry extends PeerAddress {
  readonly peerId: PeerId
  /** `addrs` with /p2p/<peerId> appended, so a dial verifies the remote's identity. */
  readonly dialAddrs: readonly Multiaddr[]
}

export class AddressBook {
  private readonly byNodeId = new Map<NodeId, BookEntry>()
  private readonly byPeerId = new Map<string, BookEntry>()

  constructor(peers: readonly PeerAddress[]) {
    for (const [i, peer] of peers.entries()) {
      const field = `peers[${i}]`
      if (!Number.isSafeInteger(peer.id) || peer.id < 0) throw new ConfigError(`${field}.id`, `expected a NodeId >= 0, got ${peer.id}`)
      if (peer.role !== 'replica' && peer.role !== 'client') {
        throw new ConfigError(`${field}.role`, `expected 'replica' or 'client', got ${JSON.stringify(peer.role)}`)
      }
      if (this.byNodeId.has(peer.id)) throw new ConfigError(`${field}.id`, `node ${peer.id} appears twice`)
      let peerId: PeerId
      try { peerId = peerIdOfPublicKey(peer.publicKey) } catch (e) { throw new ConfigError(`${field}.publicKey`, (e as Error).message) }
      const key = peerId.toString()
      if (this.byPeerId.has(key)) {
        throw new ConfigError(`${field}.publicKey`, `node ${peer.id} has the same key as node ${this.byPeerId.get(key)!.id}`)
      }
      const dialAddrs = peer.addrs.map((text, j) => {
        try {
          const ma = multiaddr(text)
          if (ma.getComponents().some(c => c.name === 'p2p')) {
            throw new Error('leave out the /p2p/ part: it is derived from the public key')
          }
          return ma.encapsulate(`/p2p/${key}`)
        } catch (e) {
          throw new ConfigError(`${field}.addrs[${j}]`, `bad multiaddr ${JSON.stringify(text)}: ${(e as Error).message}`)
        }
      })
      const entry: BookEntry = { ...peer, peerId, dialAddrs }
      this.byNodeId.set(peer.id, entry)
      this.byPeerId.set(key, entry)
    }
  }

  get(id: NodeId): BookEntry | undefined {
    return this.byNodeId.get(id)
  }

  /** The member behind an authenticated PeerId, or undefined for a stranger. */
  byPeer(peerId: PeerId | string): BookEntry | undefined {
    return this.byPeerId.get(typeof peerId === 'string' ? peerId : peerId.toString())
  }

  /** Number of members (replicas and clients). */
  get size(): number {
    return this.byNodeId.size
  }

  entries(): IterableIterator<BookEntry> {
    return this.byNodeId.values()
  }
}
