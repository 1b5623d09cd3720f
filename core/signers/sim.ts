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
 *
 * Verification mostly compares instead of computing: the simulator hands receivers the very message objects their
 * senders made, so a signature is usually the array sign() returned (and a certificate's signatures are checked again
 * by every replica that receives it, in every VIEW-CHANGE and NEW-VIEW that carries it). Such an array carries a
 * record (SignatureRecord) of the key and message it was made for; when it is presented with that key and exactly
 * those message bytes, its own bytes unchanged, the MAC recomputed would match it, so it is accepted without that.
 * Anything else (a decoded copy, another message, altered bytes) is checked by recomputing the MAC, unless the same
 * signature bytes verified lately for the same key and message bytes (verifiedCopies). Verdicts are the same either
 * way, so simulations are too; only the HMAC's fixed cost per call is spared.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { SignatureScheme, Signer, Verifier } from '../signer.ts'
import { checkPrivateKey, PUBLIC_KEY_LENGTH, wellFormed } from './key-lengths.ts'

const PUBLIC_LABEL = 'consensus-sim-signer/public-key/v1'
const SECRET_LABEL = 'consensus-sim-signer/secret/v1'

/** Public key (as a latin1 string) -> the HMAC secret of its private key. Never exported. */
const secrets = new Map<string, Buffer>()

/** Bytes as a latin1 string, for map keys. */
function keyId(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1')
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

/** Only this module holds it, so only this module can make a SignatureRecord. */
const MINT = Symbol('sim-signature')

/** Where sign() puts a signature's record on the array it returns (non-enumerable: not part of its value). */
const RECORD = Symbol('sim-signature-record')

/**
 * What a signature sign() made is valid for: the signer's key, a copy of the message (callers may reuse their arrays)
 * and the bytes as made (anyone holding the signature can write to it), in fields no code outside this class can read.
 * Moving a record onto another array gains nothing: it vouches only for the bytes, key and message it holds.
 */
class SignatureRecord {
  readonly #publicKey: Uint8Array
  readonly #message: Uint8Array
  readonly #made: Uint8Array

  constructor(mint: symbol, publicKey: Uint8Array, message: Uint8Array, made: Uint8Array) {
    if (mint !== MINT) throw new TypeError('a signature record is made by the sim signer only')
    this.#publicKey = publicKey
    this.#message = message.slice()
    this.#made = made
  }

  /** Whether `signature` carries a record vouching for exactly its bytes, this key and this message. */
  static vouches(signature: Uint8Array, publicKey: Uint8Array, message: Uint8Array): boolean {
    const r = (signature as { [RECORD]?: unknown })[RECORD]
    return typeof r === 'object' && r !== null && #made in r && sameBytes(r.#made, signature) &&
      sameBytes(r.#publicKey, publicKey) && sameBytes(r.#message, message)
  }
}

function signed(publicKey: Uint8Array, message: Uint8Array, mac: Uint8Array): Uint8Array {
  const signature = new Uint8Array(mac)
  Object.defineProperty(signature, RECORD, { value: new SignatureRecord(MINT, publicKey, message, mac) })
  return signature
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  // Short arrays (keys, signatures, votes) compare faster in a loop than through a native call.
  if (a.length > 256) return Buffer.compare(a, b) === 0
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Other arrays (decoded from bytes: a Byzantine sender's frames, which every receiver decodes, and the certificates
 * inside them) that verified lately, by their bytes, with copies of the key and message they verified for: one
 * frame's copies at the receivers repeat one signature, so the MAC is computed once for all of them. Bounded; the
 * oldest half goes when full.
 */
const verifiedCopies = new Map<string, { readonly publicKey: Uint8Array; readonly message: Uint8Array }>()
const VERIFIED_COPIES_LIMIT = 8192

function verifiedCopy(id: string, publicKey: Uint8Array, message: Uint8Array): boolean {
  const v = verifiedCopies.get(id)
  return v !== undefined && sameBytes(v.publicKey, publicKey) && sameBytes(v.message, message)
}

function rememberVerifiedCopy(id: string, publicKey: Uint8Array, message: Uint8Array): void {
  if (verifiedCopies.size >= VERIFIED_COPIES_LIMIT) {
    let drop = VERIFIED_COPIES_LIMIT / 2
    for (const key of verifiedCopies.keys()) {
      if (drop-- === 0) break
      verifiedCopies.delete(key)
    }
  }
  verifiedCopies.set(id, { publicKey: publicKey.slice(), message: message.slice() })
}

function signer(privateKey: Uint8Array): Signer {
  const publicKey = publicKeyOf(privateKey)
  const secret = derive(SECRET_LABEL, privateKey, 64)
  // Keys are a function of the private key, so registering the same key again stores the same secret.
  secrets.set(keyId(publicKey), secret)
  // The signatures' own copy of the key: callers may write to the one they are given.
  const ownKey = publicKey.slice()
  return {
    publicKey,
    sign: message => signed(ownKey, message, mac(secret, message)),
  }
}

const verifier: Verifier = {
  verify(publicKey, message, signature) {
    if (!wellFormed(publicKey, message, signature)) return false
    if (SignatureRecord.vouches(signature, publicKey, message)) return true
    const id = keyId(signature)
    if (verifiedCopy(id, publicKey, message)) return true
    const secret = secrets.get(keyId(publicKey))
    if (secret === undefined || !timingSafeEqual(mac(secret, message), signature)) return false
    rememberVerifiedCopy(id, publicKey, message)
    return true
  },
}

export const simScheme: SignatureScheme = { name: 'sim', signer, publicKeyOf, verifier }
