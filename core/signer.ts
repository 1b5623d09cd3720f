/**
 * Ed25519 signing seam. Keys travel in one format usable by every implementation: the 32-byte RFC 8032 private key
 * (the "seed") and the 32-byte public key. The Ed25519 implementations must produce byte-identical signatures (Ed25519
 * is deterministic), so a tweetnacl replica and a node:crypto replica verify each other. The simulator's modelled
 * scheme ('sim', core/signers/sim.ts) keeps the sizes and the unforgeability but not the curve: it interoperates with
 * nothing and never leaves the process.
 */

export interface Signer {
  readonly publicKey: Uint8Array
  sign(message: Uint8Array): Uint8Array
}

export interface Verifier {
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean
}

/** Real Ed25519 implementations: what live networks use. */
export type Ed25519SignerName = 'tweetnacl' | 'node'

/** Every scheme: the Ed25519 ones and the simulator's modelled signatures. */
export type SignerName = Ed25519SignerName | 'sim'

export interface SignatureScheme {
  readonly name: SignerName
  /** A signer for the 32-byte private key (seed). */
  signer(privateKey: Uint8Array): Signer
  publicKeyOf(privateKey: Uint8Array): Uint8Array
  readonly verifier: Verifier
}
