/**
 * Ed25519 by Node's built-in crypto (OpenSSL): the fast implementation. Node imports raw Ed25519 keys only through
 * DER containers, so we wrap the 32-byte seed in a fixed PKCS#8 prefix and the 32-byte public key in a fixed SPKI
 * prefix (RFC 8410). Importing a key costs far more than verifying with it, hence the per-public-key cache.
 */
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import type { SignatureScheme, Signer, Verifier } from '../signer.ts'
import { checkPrivateKey, PUBLIC_KEY_LENGTH, wellFormed } from './key-lengths.ts'

// RFC 8410 section 10.3: SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32) } }
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
// RFC 8410 section 10.1: SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (32 bytes, 0 unused bits) }
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/** Enough for every member of any cluster we run, small enough that a flood of unknown keys cannot grow memory. */
export const DEFAULT_KEY_CACHE_SIZE = 1024

function privateKeyObject(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
}

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
}

function rawPublicKey(privateKey: KeyObject): Uint8Array {
  const der = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  return new Uint8Array(der.subarray(der.length - PUBLIC_KEY_LENGTH))
}

function asUint8Array(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length)
}

/** A verifier with its own bounded cache of imported public keys (oldest entry evicted first). */
export function createNodeVerifier(cacheSize = DEFAULT_KEY_CACHE_SIZE): Verifier {
  if (!Number.isInteger(cacheSize) || cacheSize < 1) throw new RangeError(`key cache size must be >= 1, got ${cacheSize}`)
  const cache = new Map<string, KeyObject>()

  function keyFor(publicKey: Uint8Array): KeyObject {
    const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString('latin1')
    let key = cache.get(id)
    if (key === undefined) {
      key = publicKeyObject(publicKey)
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string)
      cache.set(id, key)
    }
    return key
  }

  return {
    verify(publicKey, message, signature) {
      if (!wellFormed(publicKey, message, signature)) return false
      try {
        return cryptoVerify(null, message, keyFor(publicKey), signature)
      } catch {
        // OpenSSL may refuse a public key that is not a curve point: that is an invalid signature, not a crash.
        return false
      }
    },
  }
}

function signer(privateKey: Uint8Array): Signer {
  checkPrivateKey(privateKey, 'node')
  const key = privateKeyObject(privateKey)
  return {
    publicKey: rawPublicKey(key),
    sign: (message) => asUint8Array(cryptoSign(null, message, key)),
  }
}

export const nodeCryptoScheme: SignatureScheme = {
  name: 'node',
  signer,
  publicKeyOf(privateKey) {
    checkPrivateKey(privateKey, 'node')
    return rawPublicKey(privateKeyObject(privateKey))
  },
  verifier: createNodeVerifier(),
}
