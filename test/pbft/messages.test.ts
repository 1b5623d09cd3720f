/** Wire codec, signing bytes, options and descriptor of PBFT. */
import { describe, expect, it } from 'vitest'
import { CodecError, ConfigError } from '../../core/errors.ts'
import { createRng } from '../../core/random.ts'
import { generatePrivateKey, signatureScheme } from '../../core/signers/index.ts'
import type { ClientRequest } from '../../core/types.ts'
import { pbft } from '../../protocols/pbft/descriptor.ts'
import { batchDigest, NULL_DIGEST, stateDigest } from '../../protocols/pbft/digest.ts'
import { decodeMessage, encodeMessage, MESSAGE_TYPES, type Checkpoint, type PbftMessage, type Prepare, type PrePrepare } from '../../protocols/pbft/messages.ts'
import { parsePbftOptions } from '../../protocols/pbft/options.ts'
import { sign, signingBytes, verifySignature } from '../../protocols/pbft/signing.ts'

const scheme = signatureScheme('node')
const rng = createRng('pbft-messages')
const keys = [0, 1, 2, 3].map(() => generatePrivateKey(rng))
const signers = keys.map(k => scheme.signer(k))
const publicKeyOf = (id: number) => signers[id]?.publicKey
const E = new Uint8Array(0)

const request: ClientRequest = { clientId: 1000, seq: 7, readOnly: false, op: new Uint8Array([1, 2, 3]), signature: new Uint8Array(64).fill(9) }
const batch = [request, { ...request, seq: 8 }]

function prePrepare(view = 0, seq = 1): PrePrepare {
  return sign(signers[view % 4]!, { type: 'PrePrepare', view, seq, digest: batchDigest(batch), batch, replica: view % 4, signature: E })
}
function prepare(replica: number, view = 0, seq = 1): Prepare {
  return sign(signers[replica]!, { type: 'Prepare', view, seq, digest: batchDigest(batch), replica, signature: E })
}
function checkpoint(replica: number, seq = 8): Checkpoint {
  return sign(signers[replica]!, { type: 'Checkpoint', seq, stateDigest: stateDigest(new Uint8Array([seq])), replica, signature: E })
}

function samples(): PbftMessage[] {
  const pp = prePrepare()
  const cert = { prePrepare: pp, prepares: [prepare(1), prepare(2)] }
  const vc = sign(signers[1]!, {
    type: 'ViewChange' as const, newView: 1, stableSeq: 8, checkpointProof: [checkpoint(0), checkpoint(1), checkpoint(2)],
    prepared: [cert], replica: 1, signature: E,
  })
  return [
    pp,
    prepare(1),
    sign(signers[2]!, { type: 'Commit', view: 0, seq: 1, digest: batchDigest(batch), replica: 2, signature: E }),
    checkpoint(3),
    vc,
    sign(signers[1]!, { type: 'NewView', view: 1, viewChanges: [vc], prePrepares: [prePrepare(1, 9)], replica: 1, signature: E }),
    sign(signers[3]!, { type: 'StateRequest', seq: 16, replica: 3, signature: E }),
    sign(signers[0]!, { type: 'StateTransfer', seq: 8, data: new Uint8Array([8]), checkpointProof: [checkpoint(0)], replica: 0, signature: E }),
    { type: 'Forward', request },
  ]
}

describe('PBFT codec', () => {
  it('round-trips every message type byte for byte', () => {
    const all = samples()
    expect(all.map(m => m.type).sort()).toEqual([...MESSAGE_TYPES].sort())
    for (const m of all) {
      const bytes = encodeMessage(m)
      const back = decodeMessage(bytes)
      expect(back).toEqual(m)
      expect(encodeMessage(back)).toEqual(bytes)
      expect(pbft.codec.typeName(back)).toBe(m.type)
    }
  })

  it('rejects truncated, padded and unknown frames with a CodecError that says what is wrong', () => {
    for (const m of samples()) {
      const bytes = encodeMessage(m)
      for (const cut of [1, Math.floor(bytes.length / 2), bytes.length - 1]) {
        expect(() => decodeMessage(bytes.subarray(0, cut)), `${m.type} cut at ${cut}`).toThrow(CodecError)
      }
      const padded = new Uint8Array(bytes.length + 1)
      padded.set(bytes)
      expect(() => decodeMessage(padded)).toThrow(/trailing bytes/)
    }
    expect(() => decodeMessage(new Uint8Array([200]))).toThrow(/unknown type tag 200/)
    expect(() => decodeMessage(new Uint8Array())).toThrow(/truncated/)
  })

  it('rejects a signature longer than 64 bytes', () => {
    const p = { ...prepare(1), signature: new Uint8Array(65) }
    expect(() => decodeMessage(encodeMessage(p))).toThrow(/exceeds 64/)
  })
})

describe('PBFT signing bytes', () => {
  it('verify for the signer and fail for any changed field or sender', () => {
    const p = prepare(1)
    expect(verifySignature(p, scheme.verifier, publicKeyOf)).toBe(true)
    for (const changed of [{ view: 1 }, { seq: 2 }, { digest: NULL_DIGEST }, { replica: 2 }]) {
      expect(verifySignature({ ...p, ...changed }, scheme.verifier, publicKeyOf), JSON.stringify(Object.keys(changed))).toBe(false)
    }
    expect(verifySignature({ ...p, replica: 99 }, scheme.verifier, publicKeyOf)).toBe(false)
  })

  it('are domain-separated by message type: a PREPARE signature is not a COMMIT signature', () => {
    const p = prepare(1)
    const asCommit = { ...p, type: 'Commit' as const }
    expect(signingBytes(asCommit)).not.toEqual(signingBytes(p))
    expect(verifySignature(asCommit, scheme.verifier, publicKeyOf)).toBe(false)
  })

  it('tweetnacl and node signers produce interchangeable signatures', () => {
    const nacl = signatureScheme('tweetnacl')
    const p = sign(nacl.signer(keys[1]!), { type: 'Prepare', view: 0, seq: 1, digest: NULL_DIGEST, replica: 1, signature: E })
    expect(verifySignature(p, scheme.verifier, publicKeyOf)).toBe(true)
    expect(p.signature).toEqual(sign(signers[1]!, p).signature)
  })
})

describe('PBFT options', () => {
  it('fills defaults with L = 2K', () => {
    const o = parsePbftOptions({ checkpointInterval: 10 })
    expect(o.checkpointInterval).toBe(10)
    expect(o.watermarkWindow).toBe(20)
    expect(o.maxTimeoutDoublings).toBe(3)
  })

  it('rejects bad values by field', () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ checkpointInterval: 0 }, 'checkpointInterval'],
      [{ checkpointInterval: 8, watermarkWindow: 15 }, 'watermarkWindow'],
      [{ maxBatchCount: 1.5 }, 'maxBatchCount'],
      [{ requestTimeoutTicks: 'soon' }, 'requestTimeoutTicks'],
      [{ viewChangeTick: 5 }, 'viewChangeTick'],
      [{ maxTimeoutDoublings: -1 }, 'maxTimeoutDoublings'],
      [{ maxTimeoutDoublings: 17 }, 'maxTimeoutDoublings'],
    ]
    for (const [raw, field] of bad) {
      let error: unknown
      try { parsePbftOptions(raw) } catch (e) { error = e }
      expect(error, field).toBeInstanceOf(ConfigError)
      expect((error as ConfigError).field).toBe(field)
    }
  })
})

describe('PBFT descriptor', () => {
  it('sizes clusters as 3f+1 and explains why smaller ones are refused', () => {
    expect(pbft.replicasFor(1)).toBe(4)
    expect(pbft.replicasFor(3)).toBe(10)
    expect(pbft.faultsTolerated(4)).toBe(1)
    expect(pbft.faultsTolerated(7)).toBe(2)
    expect(pbft.checkClusterSize(4)).toBeNull()
    expect(pbft.checkClusterSize(3)).toMatch(/n >= 4.*intersect/)
    expect(pbft.faultModel).toBe('byzantine')
    expect(pbft.replyFrom).toBe('all')
  })

  it('expects 2n(n-1) messages per request at batch size 1', () => {
    for (const n of [4, 7, 10]) {
      const t = pbft.theoreticalMessages(n)
      expect(Object.values(t).reduce((a, b) => a + b, 0)).toBe(2 * n * (n - 1))
    }
  })
})
