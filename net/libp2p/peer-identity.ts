/**
 * One key per node: the 32-byte Ed25519 private key (the RFC 8032 seed, core/signer.ts) that signs PBFT messages is
 * also the node's libp2p identity, so the PeerId authenticated by the Noise handshake *is* the signing key.
 */
import { privateKeyFromRaw, publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { checkPrivateKey, PUBLIC_KEY_LENGTH } from '../../core/signers/key-lengths.ts'
import { nodeCryptoScheme } from '../../core/signers/node-crypto.ts'

/** The libp2p private key for a 32-byte seed (libp2p's raw Ed25519 form is seed || public key). */
export function libp2pPrivateKey(seed: Uint8Array): PrivateKey {
  checkPrivateKey(seed, 'libp2p')
  const raw = new Uint8Array(64)
  raw.set(seed)
  raw.set(nodeCryptoScheme.publicKeyOf(seed), 32)
  return privateKeyFromRaw(raw)
}

export function peerIdOfPublicKey(publicKey: Uint8Array): PeerId {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_LENGTH) {
    throw new RangeError(`an Ed25519 public key must be ${PUBLIC_KEY_LENGTH} bytes, got ${publicKey?.length}`)
  }
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey))
}

export function peerIdOfPrivateKey(seed: Uint8Array): PeerId {
  checkPrivateKey(seed, 'libp2p')
  return peerIdOfPublicKey(nodeCryptoScheme.publicKeyOf(seed))
}
