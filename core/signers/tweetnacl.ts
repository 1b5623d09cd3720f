/**
 * Ed25519 by tweetnacl: the portable reference implementation (pure JS, slow). tweetnacl works with 64-byte secret
 * keys (seed || public key); we keep the 32-byte seed as the exchange format and expand it once per signer.
 */
import nacl from 'tweetnacl'
import type { SignatureScheme, Signer, Verifier } from '../signer.ts'
import { checkPrivateKey, wellFormed } from './key-lengths.ts'

const verifier: Verifier = {
  verify(publicKey, message, signature) {
    // tweetnacl throws on wrong lengths; a malformed signature from a peer must read as "invalid", not crash.
    if (!wellFormed(publicKey, message, signature)) return false
    return nacl.sign.detached.verify(message, signature, publicKey)
  },
}

function signer(privateKey: Uint8Array): Signer {
  checkPrivateKey(privateKey, 'tweetnacl')
  const pair = nacl.sign.keyPair.fromSeed(privateKey)
  const secretKey = pair.secretKey
  return {
    publicKey: pair.publicKey,
    sign: (message) => nacl.sign.detached(message, secretKey),
  }
}

export const tweetnaclScheme: SignatureScheme = {
  name: 'tweetnacl',
  signer,
  publicKeyOf(privateKey) {
    checkPrivateKey(privateKey, 'tweetnacl')
    return nacl.sign.keyPair.fromSeed(privateKey).publicKey
  },
  verifier,
}
