/**
 * Ed25519 signing seam. Keys travel in one format usable by every implementation: the 32-byte RFC 8032 private key
 * (the "seed") and the 32-byte public key. Implementations must produce byte-identical signatures (Ed25519 is
 * deterministic), so a tweetnacl replica and a node:crypto replica verify each other.
 */

export interface Signer {
  readonly publicKey: Uint8Array
  sign(message: Uint8Array): Uint8Array
}

export interface Verifier {
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean
}

export type SignerName = 'tweetnacl' | 'node'

export interface SignatureScheme {
  readonly name: SignerName
  /** A signer for the 32-byte private key (seed). */
  signer(privateKey: Uint8Array): Signer
  publicKeyOf(privateKey: Uint8Array): Uint8Array
  readonly verifier: Verifier
}
