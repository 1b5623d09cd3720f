/**
 * Modelled signatures for the simulator: the Signer/Verifier contract of Ed25519 (32-byte keys, 64-byte signatures,
 * deterministic, a signature verifies only against the right public key and the exact bytes) without curve arithmetic.
 * The simulator charges the CPU model for each sign and verify as it does for real signatures; this only stops the
 * wall-clock cost of the curve from limiting how much can be simulated.
 *
 * A signature is HMAC-SHA-512(secret, message). The secret is derived from the private key, and the public key is a
 * one-way hash of the private key under a different label, so neither reveals the other. The verifier finds the secret
 * of a public key in a map private to this module, filled only when a signer for that key is created: no code outside
 * this module can read a secret, so no code in a simulation can sign for a key whose private key it was not given,
 * exactly as with Ed25519. A public key no signer was made for verifies nothing.
 *
 * Simulation only: the secrets live in this process, so another process cannot verify these signatures. Live
 * networks use a real Ed25519 scheme (node, tweetnacl).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { SignatureScheme, Signer, Verifier } from '../signer.ts'
import { checkPrivateKey, PUBLIC_KEY_LENGTH, wellFormed } from './key-lengths.ts'

const PUBLIC_LABEL = 'consensus-sim-signer/public-key/v1'
const SECRET_LABEL = 'consensus-sim-signer/secret/v1'

/** Public key (as a latin1 string) -> the HMAC secret of its private key. Never exported. */
const secrets = new Map<string, Buffer>()

function keyId(publicKey: Uint8Array): string {
  return Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString('latin1')
}

function derive(label: string, privateKey: Uint8Array, length: number): Buffer {
  return createHash('sha512').update(label).update(privateKey).digest().subarray(0, length)
}

function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  checkPrivateKey(privateKey, 'sim')
  return new Uint8Array(derive(PUBLIC_LABEL, privateKey, PUBLIC_KEY_LENGTH))
}

function mac(secret: Buffer, message: Uint8Array): Buffer {
  return createHmac('sha512', secret).update(message).digest()
}

function signer(privateKey: Uint8Array): Signer {
  const publicKey = publicKeyOf(privateKey)
  const secret = derive(SECRET_LABEL, privateKey, 64)
  // Keys are a function of the private key, so registering the same key again stores the same secret.
  secrets.set(keyId(publicKey), secret)
  return {
    publicKey,
    sign: (message) => {
      const sig = mac(secret, message)
      return new Uint8Array(sig.buffer, sig.byteOffset, sig.length)
    },
  }
}

const verifier: Verifier = {
  verify(publicKey, message, signature) {
    if (!wellFormed(publicKey, message, signature)) return false
    const secret = secrets.get(keyId(publicKey))
    if (secret === undefined) return false
    return timingSafeEqual(mac(secret, message), signature)
  },
}

export const simScheme: SignatureScheme = { name: 'sim', signer, publicKeyOf, verifier }
