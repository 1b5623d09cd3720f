/**
 * The PBFT client (paper 4.1), core/clients/quorum-client.ts with PBFT's parameters: signed requests sent to every
 * replica, f+1 matching replies from distinct replicas, broadcast again on timeout.
 */
import { describe, expect, it } from 'vitest'
import { requestSigningBytes } from '../../core/codec/client-messages.ts'
import { createRng } from '../../core/random.ts'
import { generatePrivateKey, signatureScheme } from '../../core/signers/index.ts'
import type { ClientReply, ClientRequest } from '../../core/types.ts'
import type { ClientProtocol } from '../../core/protocol.ts'
import { pbft } from '../../protocols/pbft/descriptor.ts'
import { parsePbftOptions } from '../../protocols/pbft/options.ts'

const scheme = signatureScheme('node')
const key = generatePrivateKey(createRng('client-key'))
const replicas = [0, 1, 2, 3, 4, 5, 6] // n = 7, f = 2
const RETRY = 5

function client(): ClientProtocol {
  return pbft.createClient({
    id: 1000, replicas, preferredReplica: 0, options: parsePbftOptions({ clientRetryTicks: RETRY }), rng: createRng('c'), signer: scheme.signer(key),
  })
}
const request = (seq: number): ClientRequest => ({ clientId: 1000, seq, readOnly: false, op: new Uint8Array([seq]), signature: new Uint8Array(0) })
const reply = (seq: number, result: number, epoch = 0, status: ClientReply['status'] = 'ok'): ClientReply =>
  ({ clientId: 1000, seq, status, result: new Uint8Array([result]), leaderHint: -1, epoch, error: '' })

describe('PBFT client', () => {
  it('signs the request and sends it to every replica at once (separate request transmission)', () => {
    const c = client()
    c.submit(request(1))
    const out = c.ready()
    expect(out.messages.map(m => m.to)).toEqual(replicas)
    const sent = out.messages[0]!.message
    expect(scheme.verifier.verify(scheme.publicKeyOf(key), requestSigningBytes(sent), sent.signature)).toBe(true)
  })

  it('accepts only f+1 matching results from distinct replicas', () => {
    const c = client()
    c.submit(request(1))
    c.ready()
    c.receive(0, reply(1, 7))
    c.receive(0, reply(1, 7)) // the same replica twice counts once
    c.receive(1, reply(1, 9)) // a different result does not match
    c.receive(2, reply(1, 9))
    c.receive(99, reply(1, 7)) // not a replica
    c.receive(3, reply(2, 7)) // another request
    c.receive(4, reply(1, 7, 0, 'error'))
    expect(c.ready().completed).toBeNull()
    c.receive(5, reply(1, 7))
    c.receive(6, reply(1, 7))
    expect(c.ready().completed).toEqual({ seq: 1, result: new Uint8Array([7]) })
  })

  it('f lying replicas cannot make it accept their result', () => {
    const c = client()
    c.submit(request(1))
    c.receive(5, reply(1, 66))
    c.receive(6, reply(1, 66))
    c.receive(0, reply(1, 1))
    c.receive(1, reply(1, 1))
    expect(c.ready().completed).toBeNull()
    c.receive(2, reply(1, 1))
    expect(c.ready().completed?.result).toEqual(new Uint8Array([1]))
  })

  it('broadcasts the request to every replica when the quorum does not come in time, and again after that', () => {
    const c = client()
    c.submit(request(1))
    c.ready()
    for (let i = 0; i < RETRY - 1; i++) c.tick()
    expect(c.ready().messages).toEqual([])
    c.tick()
    const first = c.ready().messages
    expect(first.map(m => m.to)).toEqual(replicas)
    for (let i = 0; i < RETRY; i++) c.tick()
    expect(c.ready().messages.length).toBe(replicas.length)
  })

  it('sends the next request to every replica too, whichever view the replies named, and stops retrying once done', () => {
    const c = client()
    c.submit(request(1))
    c.ready()
    for (const id of [1, 2, 3]) c.receive(id, reply(1, 1, 3))
    expect(c.ready().completed).not.toBeNull()
    c.submit(request(2))
    expect(c.ready().messages.map(m => m.to)).toEqual(replicas)
    // Stops retrying once done.
    for (let i = 0; i < 3 * RETRY; i++) c.tick()
    c.receive(4, reply(2, 1, 3)); c.receive(5, reply(2, 1, 3)); c.receive(6, reply(2, 1, 3))
    expect(c.ready().completed?.seq).toBe(2)
    for (let i = 0; i < 3 * RETRY; i++) c.tick()
    expect(c.ready().messages).toEqual([])
  })
})
