/** The live libp2p network: the transport, its address book and key helpers, and the libp2p service form. */
export { AddressBook } from './address-book.ts'
export type { BookEntry, PeerAddress, PeerRole } from './address-book.ts'
export { consensusService, ConsensusService } from './consensus-service.ts'
export type { ConsensusServiceComponents, ConsensusServiceInit } from './consensus-service.ts'
export { createLibp2pTransport, DEFAULT_PROTOCOL_ID, mountLibp2pTransport } from './libp2p-transport.ts'
export type {
  DrainHandler, Libp2pTransport, Libp2pTransportOptions, RejectionCounts, StreamHost, TransportTuning,
} from './libp2p-transport.ts'
export { libp2pPrivateKey, peerIdOfPrivateKey, peerIdOfPublicKey } from './peer-identity.ts'
