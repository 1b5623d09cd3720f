/**
 * Batch signatures (core/signers/signature-batch.ts): every message of a batch verifies under its own signature and
 * nothing else does; a verifier that remembers trees gives exactly the verdicts of one that remembers nothing, for
 * any tampering with messages, paths, indexes or keys; and a live client host signs the requests it starts in one
 * turn with one signature.
 */
import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import { ClientHost } from '../../core/client-host.ts'
import { requestSigningBytes } from '../../core/codec/client-messages.ts'
import { createRng } from '../../core/random.ts'
import type { HostRuntime } from '../../core/runtime.ts'
import type { Signer, Verifier } from '../../core/signer.ts'
import { signatureScheme } from '../../core/signers/index.ts'
import { nodeCryptoScheme } from '../../core/signers/node-crypto.ts'
import { MAX_BATCH_SIGNATURE_LENGTH, signBatch, withSignatureBatches } from '../../core/signers/signature-batch.ts'
import type { ClientRequest, NodeId } from '../../core/types.ts'
import type { OutboundFrame, Transport } from '../../core/transport.ts'
import { protocols } from '../../protocols/index.ts'

const scheme = nodeCryptoScheme
const keyA = new Uint8Array(32).fill(7)
const keyB = new Uint8Array(32).fill(9)
const signerA = scheme.signer(keyA)
const publicA = scheme.publicKeyOf(keyA)
const publicB = scheme.publicKeyOf(keyB)

function messages(count: number, tag = 'm'): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => new TextEncoder().encode(`${tag}-${i}-${'x'.repeat(i % 7)}`))
}

/** A plain verifier that counts its calls. */
function counting(inner: Verifier): Verifier & { calls: number } {
  const v = { calls: 0, verify: (k: Uint8Array, m: Uint8Array, s: Uint8Array) => { v.calls++; return inner.verify(k, m, s) } }
  return v
}

describe('batch signatures', () => {
  it('sign a single message plainly, as before batches existed', () => {
    const [signature] = signBatch(signerA, messages(1))
    expect(signature!.length).toBe(64)
    expect(scheme.verifier.verify(publicA, messages(1)[0]!, signature!)).toBe(true)
  })

  for (const count of [2, 3, 8, 33, 100]) {
    it(`a batch of ${count}: each message verifies under its own signature, in any order, with one inner verification`, () => {
      const ms = messages(count)
      const signatures = signBatch(signerA, ms)
      expect(signatures.every(s => s.length > 64 && s.length <= MAX_BATCH_SIGNATURE_LENGTH)).toBe(true)
      const inner = counting(scheme.verifier)
      const verifier = withSignatureBatches(inner)
      const order = [...ms.keys()].reverse()
      for (const i of order) expect(verifier.verify(publicA, ms[i]!, signatures[i]!)).toBe(true)
      expect(inner.calls).toBe(1)
      // Nothing verifies under another message's signature, another key, or a plain verifier.
      for (const i of order) {
        expect(verifier.verify(publicA, ms[i]!, signatures[(i + 1) % count]!)).toBe(false)
        expect(verifier.verify(publicB, ms[i]!, signatures[i]!)).toBe(false)
        expect(scheme.verifier.verify(publicA, ms[i]!, signatures[i]!)).toBe(false)
      }
    })
  }

  it('refuse malformed paths without throwing: depth 0 or over 16, index beyond the tree, wrong lengths', () => {
    const ms = messages(4)
    const good = signBatch(signerA, ms)[1]!
    const verifier = withSignatureBatches(scheme.verifier)
    const withByte = (at: number, value: number) => { const s = good.slice(); s[at] = value; return s }
    expect(verifier.verify(publicA, ms[1]!, withByte(64, 0))).toBe(false)
    expect(verifier.verify(publicA, ms[1]!, withByte(64, 17))).toBe(false)
    expect(verifier.verify(publicA, ms[1]!, withByte(68, 4))).toBe(false) // index 4 in a tree of 4 leaves
    expect(verifier.verify(publicA, ms[1]!, good.subarray(0, good.length - 1))).toBe(false)
    expect(verifier.verify(publicA, ms[1]!, new Uint8Array(65))).toBe(false)
    expect(verifier.verify(new Uint8Array(31), ms[1]!, good)).toBe(false)
    expect(verifier.verify(publicA, ms[1]!, good)).toBe(true)
  })

  // The verdict must be a function of (key, message, signature) alone: a Byzantine primary must not be able to make
  // correct replicas that remember different trees disagree about a request.
  test.prop([
    fc.integer({ min: 2, max: 40 }),
    fc.array(fc.nat(), { maxLength: 20 }),
    fc.array(fc.record({
      message: fc.nat(),
      // Another message's signature, or (undefined) the message's own.
      signature: fc.option(fc.nat(), { nil: undefined, freq: 2 }),
      flip: fc.option(fc.record({ inSignature: fc.boolean(), at: fc.noBias(fc.nat()), bit: fc.integer({ min: 0, max: 7 }) }), { nil: undefined, freq: 2 }),
      otherKey: fc.boolean(),  // a signature from another batch of the same key
    }), { minLength: 1, maxLength: 60 }),
    fc.integer({ min: 1, max: 64 }),
  ], { numRuns: 60 })('a remembering verifier agrees with a fresh one on any tampered input', (count, warmUp, probes, rememberedNodes) => {
    const ms = messages(count)
    const signatures = signBatch(signerA, ms)
    const other = signBatch(signerA, messages(count, 'other'))
    const warm = withSignatureBatches(scheme.verifier, rememberedNodes)
    // Some of the batch verified first, so that probes meet known trees.
    for (const i of warmUp) expect(warm.verify(publicA, ms[i % count]!, signatures[i % count]!)).toBe(true)
    for (const p of probes) {
      let message = ms[p.message % count]!
      let signature = (p.otherKey ? other : signatures)[(p.signature ?? p.message) % count]!
      if (p.flip !== undefined) {
        const target = p.flip.inSignature ? signature.slice() : message.slice()
        target[p.flip.at % target.length]! ^= 1 << p.flip.bit
        if (p.flip.inSignature) signature = target
        else message = target
      }
      const fresh = withSignatureBatches(scheme.verifier).verify(publicA, message, signature)
      expect(warm.verify(publicA, message, signature)).toBe(fresh)
    }
  })

  it('every scheme by name accepts batch signatures (the simulator\'s modelled one too)', () => {
    for (const name of ['node', 'tweetnacl', 'sim'] as const) {
      const s = signatureScheme(name)
      const signer: Signer = s.signer(keyB)
      const ms = messages(5)
      const signatures = signBatch(signer, ms)
      ms.forEach((m, i) => expect(s.verifier.verify(s.publicKeyOf(keyB), m, signatures[i]!)).toBe(true))
      expect(s.verifier.verify(s.publicKeyOf(keyB), ms[0]!, signatures[1]!)).toBe(false)
    }
  })
})

describe('a client host with turns signs the requests of a turn together', () => {
  function host(protocol: string) {
    const sent: Array<{ to: NodeId; message: ClientRequest }> = []
    const turnEnd: Array<() => void> = []
    const transport: Transport = {
      send: (to: NodeId, frame: OutboundFrame) => { sent.push({ to, message: frame.message as ClientRequest }) },
      onFrame: () => {},
    } as unknown as Transport
    const runtime: HostRuntime = { now: () => 0, setTimer: () => () => {}, afterTurn: fn => { turnEnd.push(fn) } }
    const descriptor = protocols.get(protocol)!
    const client = new ClientHost({
      descriptor, id: 1000, replicas: [0, 1, 2, 3], protocolOptions: descriptor.parseOptions({}, 4), transport, runtime,
      rng: createRng(1), signer: signerA, tickMs: 10, sessions: 8,
    })
    const endTurn = () => { for (const fn of turnEnd.splice(0)) fn() }
    return { client, sent, endTurn }
  }

  it('pbft: eight requests started in one turn leave at its end under one root signature, each valid alone', () => {
    const { client, sent, endTurn } = host('pbft')
    for (let i = 0; i < 8; i++) client.submit(new Uint8Array([i]), false, 1000, () => {})
    expect(sent).toEqual([])
    endTurn()
    const requests = [...new Map(sent.map(s => [s.message.clientId, s.message])).values()]
    expect(requests).toHaveLength(8)
    const roots = new Set(requests.map(r => Buffer.from(r.signature.subarray(0, 64)).toString('hex')))
    expect(roots.size).toBe(1)
    const inner = counting(scheme.verifier)
    const verifier = withSignatureBatches(inner)
    for (const r of requests) expect(verifier.verify(publicA, requestSigningBytes(r), r.signature)).toBe(true)
    expect(inner.calls).toBe(1)
  })

  it('a request that times out before its turn ends is not sent', () => {
    const { client, sent, endTurn } = host('pbft')
    client.submit(new Uint8Array([1]), false, 1000, () => {})
    client.close()
    endTurn()
    expect(sent).toEqual([])
  })

  it('raft (no signatures): requests leave at once, unsigned', () => {
    const { client, sent } = host('raft')
    client.submit(new Uint8Array([1]), false, 1000, () => {})
    expect(sent.length).toBeGreaterThan(0)
    expect(sent[0]!.message.signature.length).toBe(0)
  })
})
