/** Ed25519 sizes (RFC 8032 section 5.1.5/5.1.6), shared by every implementation so they reject the same inputs. */

export const PRIVATE_KEY_LENGTH = 32
export const PUBLIC_KEY_LENGTH = 32
export const SIGNATURE_LENGTH = 64

/** Signer creation takes a key from configuration or a key file: a wrong length is a usage error, said plainly. */
export function checkPrivateKey(privateKey: Uint8Array, implementation: string): void {
  if (!(privateKey instanceof Uint8Array)) {
    throw new TypeError(`${implementation} ed25519: private key must be a Uint8Array of ${PRIVATE_KEY_LENGTH} bytes`)
  }
  if (privateKey.length !== PRIVATE_KEY_LENGTH) {
    throw new RangeError(
      `${implementation} ed25519: private key must be ${PRIVATE_KEY_LENGTH} bytes (the RFC 8032 seed), got ${privateKey.length}`)
  }
}

/** Verification inputs come off the wire: anything of the wrong shape is simply not a valid signature. */
export function wellFormed(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  return publicKey instanceof Uint8Array && publicKey.length === PUBLIC_KEY_LENGTH
    && signature instanceof Uint8Array && signature.length === SIGNATURE_LENGTH
    && message instanceof Uint8Array
}
