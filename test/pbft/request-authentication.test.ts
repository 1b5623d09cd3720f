/**
 * Client requests reach every replica (the client's first attempt is multicast: separate request transmission,
 * Castro & Liskov 2002 section 5.1), and the transport authenticates their sender, so a backup takes a request that
 * came straight from its client without checking the signature. The signature still guards every path where a
 * replica speaks for a client (paper 4.1): the primary checks what it orders, a backup checks what it forwards (a
 * request its client repeated) and what a pre-prepare carries that it did not receive from the client. These cases play a faulty client that sends to
 * some replicas only, or different requests to different replicas: none may replace a correct primary, and every
 * request its client really signed executes. Batch signatures (a live client's turn, core/signers/signature-batch.ts)
 * are checked on the same paths: a batch's requests execute, and a request under another's path or an altered one is
 * refused even by replicas that already know the batch's tree.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { requestSigningBytes } from '../../core/codec/client-messages.ts'
import { signBatch } from '../../core/signers/signature-batch.ts'
import { encodeKvCommand } from '../../core/kv.ts'
import type { DurableState } from '../../core/storage.ts'
import type { ClientRequest, NodeId } from '../../core/types.ts'
import type { PbftContext } from '../../protocols/pbft/options.ts'
import { PbftHarness } from './harness.ts'

/** Client-signature checks per replica (a verification under a client's key), filled by CountingHarness. */
let clientChecks = new Map<NodeId, number>()

class CountingHarness extends PbftHarness {
  override context(id: NodeId, recovered: DurableState): PbftContext {
    const ctx = super.context(id, recovered)
    const inner = ctx.verifier
    return {
      ...ctx,
      verifier: {
        verify: (publicKey, message, signature) => {
          if (!this.ids.some(r => Buffer.from(this.signerOf(r).publicKey).equals(publicKey))) {
            clientChecks.set(id, (clientChecks.get(id) ?? 0) + 1)
          }
          return inner.verify(publicKey, message, signature)
        },
      },
    }
  }
}

describe.each(['node', 'sim'] as const)('PBFT client request authentication (signer %s)', (signer) => {
  let h: CountingHarness
  const primary = 0
  const backups = [1, 2, 3]

  beforeEach(() => {
    clientChecks = new Map()
    h = new CountingHarness({ n: 4, seed: 'request-auth', clients: 2, signer, options: { checkpointInterval: 8 } })
  })

  function signed(clientId: number, seq: number, value = String(seq)): ClientRequest {
    const r: ClientRequest = { clientId, seq, readOnly: false, op: encodeKvCommand({ type: 'put', key: 'k', value }), signature: new Uint8Array(0) }
    return { ...r, signature: h.signerOf(clientId).sign(requestSigningBytes(r)) }
  }

  /** Stop the workload once some requests completed; returns a client id and a seq beyond anything it sent. */
  function quiet(): { client: number; seq: number } {
    expect(h.stepUntil(() => h.completedRequests >= 10, 2000)).toBe(true)
    h.workloadOn = false
    expect(h.stepUntil(() => h.clients.every(c => c.outstanding === null), 2000)).toBe(true)
    return { client: h.clients[0]!.id, seq: 1000 }
  }

  const executedEverywhere = () => h.ids.every(id => h.replica(id).debugState().pending === 0)
  const views = () => h.ids.map(id => h.replica(id).status().epoch)

  it('in the normal case only the primary checks client signatures', () => {
    expect(h.stepUntil(() => h.completedRequests >= 40, 4000)).toBe(true)
    for (const b of backups) expect(clientChecks.get(b) ?? 0, `backup ${b}`).toBe(0)
    expect(clientChecks.get(primary) ?? 0).toBeGreaterThanOrEqual(40)
    expect(h.violations).toEqual([])
  })

  it('a request sent to the backups only is not forwarded until its client repeats it, then executes without a view change', () => {
    const { client, seq } = quiet()
    const r = signed(client, seq)
    for (const b of backups) h.propose(b, r)
    h.run(h.options.clientRetryTicks)
    expect(h.messageCounts.get('Forward') ?? 0).toBe(0)
    expect(h.results.has(`${client}:${seq}`)).toBe(false)
    // The repeat (a client that has not heard back) is forwarded to the primary, checked first, and ordered.
    for (const b of backups) h.propose(b, r)
    expect(h.stepUntil(executedEverywhere, 500)).toBe(true)
    expect(views()).toEqual([0, 0, 0, 0])
    expect(h.results.has(`${client}:${seq}`)).toBe(true)
    expect(h.messageCounts.get('Forward') ?? 0).toBeGreaterThan(0)
  })

  it('a request sent once to the backups only replaces no primary and is forgotten', () => {
    const { client, seq } = quiet()
    for (const b of backups) h.propose(b, signed(client, seq))
    h.run(3 * h.options.requestTimeoutTicks)
    expect(views()).toEqual([0, 0, 0, 0])
    expect(executedEverywhere()).toBe(true)
    expect(h.results.has(`${client}:${seq}`)).toBe(false)
  })

  it('a request sent to the primary only executes: the backups check its signature inside the pre-prepare', () => {
    const { client, seq } = quiet()
    const before = backups.map(b => clientChecks.get(b) ?? 0)
    h.propose(primary, signed(client, seq))
    expect(h.stepUntil(executedEverywhere, 500)).toBe(true)
    expect(views()).toEqual([0, 0, 0, 0])
    expect(backups.map(b => (clientChecks.get(b) ?? 0) - before[backups.indexOf(b)]!)).toEqual([1, 1, 1])
  })

  it('a client that sends one request to the primary and another under the same seq to the backups: the primary\'s executes', () => {
    const { client, seq } = quiet()
    h.propose(primary, signed(client, seq, 'to-primary'))
    for (const b of backups) h.propose(b, signed(client, seq, 'to-backups'))
    expect(h.stepUntil(executedEverywhere, 500)).toBe(true)
    expect(views()).toEqual([0, 0, 0, 0])
    expect(h.violations).toEqual([])
  })

  it('a forged request sent to every replica, and repeated, is ordered by no one and replaces no primary', () => {
    const { client, seq } = quiet()
    const forged = { ...signed(client, seq), signature: new Uint8Array(64).fill(7) }
    for (const id of h.ids) h.propose(id, forged)
    h.run(h.options.clientRetryTicks)
    for (const id of h.ids) h.propose(id, forged)
    h.run(3 * h.options.requestTimeoutTicks)
    expect(views()).toEqual([0, 0, 0, 0])
    expect(h.results.has(`${client}:${seq}`)).toBe(false)
    expect(executedEverywhere()).toBe(true)
    // The primary refuses both attempts; each backup refuses the repeat, which it would have had to forward.
    expect(h.ids.map(id => h.replica(id).dropCounts()['bad-client-signature'])).toEqual([2, 1, 1, 1])
  })

  /** Requests `seq, seq + 1, ...` of different sessions' worth of values, signed together as a live client's turn. */
  function batchSigned(client: number, seq: number, count: number): ClientRequest[] {
    const unsigned = Array.from({ length: count }, (_, i): ClientRequest => ({
      clientId: client, seq: seq + i, readOnly: false, op: encodeKvCommand({ type: 'put', key: `b${i}`, value: String(i) }),
      signature: new Uint8Array(0),
    }))
    const signatures = signBatch(h.signerOf(client), unsigned.map(requestSigningBytes))
    return unsigned.map((r, i) => ({ ...r, signature: signatures[i]! }))
  }

  it('batch-signed requests sent to the primary only execute: the backups check their paths inside the pre-prepare', () => {
    const { client, seq } = quiet()
    // One session per request would be a live client's shape; sequence numbers of one session serve the check as well.
    const batch = batchSigned(client, seq, 5)
    for (const r of batch) h.propose(primary, r)
    expect(h.stepUntil(() => batch.every(r => h.results.has(`${client}:${r.seq}`)) && executedEverywhere(), 1000)).toBe(true)
    expect(views()).toEqual([0, 0, 0, 0])
    expect(h.ids.map(id => h.replica(id).dropCounts()['bad-client-signature'] ?? 0)).toEqual([0, 0, 0, 0])
    expect(h.violations).toEqual([])
  })

  it('a request under another request\'s batch signature, or with its path altered, is ordered by no one', () => {
    const { client, seq } = quiet()
    // b (seq) executes first, so every replica knows the batch's tree when the forgeries of a (seq + 1) come.
    const [b, a] = batchSigned(client, seq, 2)
    for (const id of h.ids) h.propose(id, b!)
    expect(h.stepUntil(() => h.results.has(`${client}:${seq}`) && executedEverywhere(), 1000)).toBe(true)
    const swapped = { ...a!, signature: b!.signature }
    const altered = { ...a!, signature: a!.signature.slice() }
    altered.signature[altered.signature.length - 1]! ^= 1
    for (const id of h.ids) { h.propose(id, swapped); h.propose(id, altered) }
    h.run(h.options.clientRetryTicks)
    for (const id of h.ids) { h.propose(id, swapped); h.propose(id, altered) }
    h.run(3 * h.options.requestTimeoutTicks)
    expect(views()).toEqual([0, 0, 0, 0])
    expect(h.results.has(`${client}:${seq + 1}`)).toBe(false)
    expect(h.ids.map(id => h.replica(id).dropCounts()['bad-client-signature'])).toEqual([4, 2, 2, 2])
  })
})
