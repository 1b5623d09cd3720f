/**
 * Key files: the 32-byte Ed25519 private key (RFC 8032 seed) as hex, readable by the owner only. The same key is a
 * replica's libp2p PeerId and its PBFT signing key.
 */
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { ConfigError } from '../core/errors.ts'
import { generatePrivateKey, signatureScheme } from '../core/signers/index.ts'

export interface KeyPair {
  readonly privateKey: Uint8Array
  readonly publicKey: Uint8Array
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

export function newKeyPair(): KeyPair {
  const privateKey = generatePrivateKey()
  return { privateKey, publicKey: signatureScheme('node').publicKeyOf(privateKey) }
}

/** Write with mode 0600 (and chmod again, in case the file existed with looser permissions). */
export function writeKeyFile(path: string, key: KeyPair): void {
  writeFileSync(path, toHex(key.privateKey) + '\n', { mode: 0o600, flag: 'wx' })
  chmodSync(path, 0o600)
}

export function readKeyFile(path: string): KeyPair {
  let text: string
  try {
    text = readFileSync(path, 'utf8').trim()
  } catch (e) {
    throw new ConfigError('keyFile', `cannot read key file ${path}: ${(e as Error).message}`)
  }
  if (!/^[0-9a-f]{64}$/.test(text)) throw new ConfigError('keyFile', `${path} must hold 64 hex digits (a 32-byte Ed25519 private key)`)
  const mode = statSync(path).mode & 0o077
  if (mode !== 0) throw new ConfigError('keyFile', `${path} is readable by group or others (mode ${(statSync(path).mode & 0o777).toString(8)}); run chmod 600 on it`)
  const privateKey = fromHex(text)
  return { privateKey, publicKey: signatureScheme('node').publicKeyOf(privateKey) }
}
