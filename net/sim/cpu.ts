/**
 * A deterministic model of processing time. Without it the simulator charges only network delay, so a closed loop's
 * throughput is clients / latency whatever the protocol does, and a leader handling 2(n-1) messages per command looks
 * as fast as the baseline. With it, each node is a single server: handling a message, sending one, signing and
 * verifying take virtual time, messages wait in the node's inbox while it is busy, and what it sends leaves when the
 * work that produced it is done. Throughput then saturates where the busiest node does.
 *
 * Costs are fixed parameters, not measurements, so figures stay reproducible; the defaults were calibrated on the
 * project's 2-core reference machine with `npm run bench:micro` (see bench/README.md) and can be overridden.
 */
import { ConfigError } from '../../core/errors.ts'
import type { Signer, SignerName, Verifier } from '../../core/signer.ts'
import type { NodeId } from '../../core/types.ts'

export interface CpuModel {
  /** Fixed cost of handling one received frame (decode, protocol step, host bookkeeping), in microseconds. */
  readonly receiveUs: number
  /** Fixed cost of sending one frame (encode, syscall), in microseconds. */
  readonly sendUs: number
  /** Cost per byte received or sent, in nanoseconds. */
  readonly perByteNs: number
  /** One Ed25519 signature, in microseconds. */
  readonly signUs: number
  /** One Ed25519 verification, in microseconds. */
  readonly verifyUs: number
}

/** Reference costs with node:crypto Ed25519 (medians of `npm run bench:micro` on the reference machine). */
export const REFERENCE_CPU: CpuModel = { receiveUs: 4, sendUs: 2, perByteNs: 2, signUs: 32, verifyUs: 64 }

/**
 * Signature costs by signer: tweetnacl signs about 65x and verifies about 67x slower than node:crypto. The modelled
 * signer ('sim') is charged what node:crypto's Ed25519 costs: it stands in for it, so the simulated figures are those
 * of a cluster signing with Ed25519; only the simulator's own wall-clock time is spared.
 */
export const SIGNER_CPU: Readonly<Record<SignerName, Pick<CpuModel, 'signUs' | 'verifyUs'>>> = {
  node: { signUs: 32, verifyUs: 64 },
  tweetnacl: { signUs: 2100, verifyUs: 4300 },
  sim: { signUs: 32, verifyUs: 64 },
}

/** The reference model with the given signer's signature costs. */
export function referenceCpuFor(signer: SignerName): CpuModel {
  return { ...REFERENCE_CPU, ...SIGNER_CPU[signer] }
}

export function validateCpuModel(m: CpuModel, field = 'cpu'): void {
  for (const key of ['receiveUs', 'sendUs', 'perByteNs', 'signUs', 'verifyUs'] as const) {
    const v = m[key]
    if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new ConfigError(`${field}.${key}`, `must be a number >= 0, got ${JSON.stringify(v)}`)
  }
}

const KEYS = ['receiveUs', 'sendUs', 'perByteNs', 'signUs', 'verifyUs'] as const

/**
 * `reference`, or `key=value,...` over the reference costs (e.g. `receiveUs=10`). Signature costs follow `signer`
 * unless given.
 */
export function parseCpuModel(text: string, field = '--cpu', signer: SignerName = 'node'): CpuModel {
  const reference = referenceCpuFor(signer)
  if (text === 'reference') return reference
  const model: Record<string, number> = { ...reference }
  for (const part of text.split(',').map(p => p.trim()).filter(p => p !== '')) {
    const [key, value, ...rest] = part.split('=')
    if (key === undefined || value === undefined || rest.length > 0 || !(KEYS as readonly string[]).includes(key)) {
      throw new ConfigError(field, `expected "reference" or key=value pairs with keys ${KEYS.join(', ')}, got "${part}"`)
    }
    model[key] = Number(value)
  }
  const out = model as unknown as CpuModel
  validateCpuModel(out, field)
  return out
}

export function formatCpuModel(m: CpuModel, signer: SignerName = 'node'): string {
  const reference = referenceCpuFor(signer)
  return KEYS.every(k => m[k] === reference[k]) ? 'reference' : KEYS.map(k => `${k}=${m[k]}`).join(',')
}

/** Where signature costs are charged: the simulated network's per-node CPU account. */
export interface CpuAccount {
  charge(node: NodeId, us: number, kind: 'messages' | 'signatures'): void
}

/** `signer` as seen by node `id` under `cpu`: every signature costs the node `signUs` of virtual time. */
export function chargedSigner(account: CpuAccount, cpu: CpuModel | undefined, id: NodeId, signer: Signer): Signer {
  if (cpu === undefined) return signer
  return { publicKey: signer.publicKey, sign: message => { account.charge(id, cpu.signUs, 'signatures'); return signer.sign(message) } }
}

/** `verifier` as seen by node `id` under `cpu`: every verification costs the node `verifyUs`. */
export function chargedVerifier(account: CpuAccount, cpu: CpuModel | undefined, id: NodeId, verifier: Verifier): Verifier {
  if (cpu === undefined) return verifier
  return { verify: (key, message, signature) => { account.charge(id, cpu.verifyUs, 'signatures'); return verifier.verify(key, message, signature) } }
}
