/** Signature schemes by name (a benchmark dimension) and private-key generation. */
import { randomBytes } from 'node:crypto'
import type { Rng } from '../random.ts'
import type { SignatureScheme, SignerName } from '../signer.ts'
import { PRIVATE_KEY_LENGTH } from './key-lengths.ts'
import { nodeCryptoScheme } from './node-crypto.ts'
import { tweetnaclScheme } from './tweetnacl.ts'

export { PRIVATE_KEY_LENGTH, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH } from './key-lengths.ts'

const SCHEMES: Record<SignerName, SignatureScheme> = {
  tweetnacl: tweetnaclScheme,
  node: nodeCryptoScheme,
}

export const SIGNER_NAMES: readonly SignerName[] = Object.keys(SCHEMES) as SignerName[]

export function signatureScheme(name: SignerName): SignatureScheme {
  const scheme = Object.hasOwn(SCHEMES, name) ? SCHEMES[name] : undefined
  if (scheme === undefined) throw new RangeError(`unknown signer "${String(name)}" (expected one of: ${SIGNER_NAMES.join(', ')})`)
  return scheme
}

/**
 * A fresh 32-byte Ed25519 private key. With an Rng the key is a function of its seed (simulator replicas get the
 * same keys on every run); such keys are for simulation only, never for a live network.
 */
export function generatePrivateKey(rng?: Rng): Uint8Array {
  if (rng === undefined) return new Uint8Array(randomBytes(PRIVATE_KEY_LENGTH))
  const key = new Uint8Array(PRIVATE_KEY_LENGTH)
  for (let i = 0; i < key.length; i++) key[i] = rng.int(256)
  return key
}
