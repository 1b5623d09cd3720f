/** Signature schemes by name (a benchmark dimension) and private-key generation. */
import { randomBytes } from 'node:crypto'
import type { Rng } from '../random.ts'
import type { Ed25519SignerName, SignatureScheme, SignerName } from '../signer.ts'
import { PRIVATE_KEY_LENGTH } from './key-lengths.ts'
import { nodeCryptoScheme } from './node-crypto.ts'
import { withSignatureBatches } from './signature-batch.ts'
import { simScheme } from './sim.ts'
import { tweetnaclScheme } from './tweetnacl.ts'

export { PRIVATE_KEY_LENGTH, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH } from './key-lengths.ts'

/** Every scheme's verifier also takes batch signatures (core/signers/signature-batch.ts), as clients may send them. */
function acceptingBatches(scheme: SignatureScheme): SignatureScheme {
  return { ...scheme, verifier: withSignatureBatches(scheme.verifier) }
}

const SCHEMES: Record<SignerName, SignatureScheme> = {
  tweetnacl: acceptingBatches(tweetnaclScheme),
  node: acceptingBatches(nodeCryptoScheme),
  sim: acceptingBatches(simScheme),
}

export const SIGNER_NAMES: readonly SignerName[] = Object.keys(SCHEMES) as SignerName[]

/** The real signers (RFC 8032 Ed25519, interoperable): the ones a live network can use. */
export const ED25519_SIGNER_NAMES: readonly Ed25519SignerName[] = ['tweetnacl', 'node']

/** The simulator's default: modelled signatures (charged by the CPU model, no curve arithmetic). */
export const SIMULATION_SIGNER: SignerName = 'sim'

export function isEd25519Signer(name: SignerName): name is Ed25519SignerName {
  return (ED25519_SIGNER_NAMES as readonly string[]).includes(name)
}

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
