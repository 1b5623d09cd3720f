/**
 * The parts of a replica's gossip channel, on a stand-in for gossipsub: the envelope (net/libp2p/gossip-envelope.ts)
 * and the rule it carries (a replica the sender wrote a broadcast to directly drops the gossip copy, so the protocol
 * takes it once); the stream keeper (gossip-stream-keeper.ts); the topic validator (only replicas' messages, relayed
 * only by replicas).
 */
import { fc, test } from '@fast-check/vitest'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { Connection, PeerId } from '@libp2p/interface'
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/logger.ts'
import { createRng } from '../../core/random.ts'
import { generatePrivateKey } from '../../core/signers/index.ts'
import { AddressBook } from '../../net/libp2p/address-book.ts'
import { newGossipCounters } from '../../net/libp2p/dissemination.ts'
import { GossipChannel } from '../../net/libp2p/gossip-dissemination.ts'
import { GossipStreamKeeper } from '../../net/libp2p/gossip-stream-keeper.ts'
import { peerIdOfPrivateKey } from '../../net/libp2p/peer-identity.ts'
import { decodeEnvelope, encodeEnvelope, envelopeOverhead, EnvelopeError } from '../../net/libp2p/gossip-envelope.ts'
import { testMembers, text, untext } from './helpers.ts'

describe('gossip envelope', () => {
  test.prop([fc.array(fc.integer({ min: 0, max: 0xffff_ffff }), { maxLength: 40 }), fc.uint8Array({ maxLength: 300 })])(
    'round-trips the direct recipients and the bytes, with the overhead it announces',
    (sentDirect, bytes) => {
      const data = encodeEnvelope(sentDirect, bytes)
      expect(data.length).toBe(envelopeOverhead(sentDirect) + bytes.length)
      const envelope = decodeEnvelope(data)
      expect(envelope.sentDirect).toEqual(sentDirect)
      expect(envelope.bytes).toEqual(bytes)
    })

  it('refuses a truncated or out-of-range header with EnvelopeError', () => {
    expect(() => decodeEnvelope(new Uint8Array([]))).toThrow(EnvelopeError)
    expect(() => decodeEnvelope(new Uint8Array([3, 1, 2]))).toThrow(/truncated/) // three ids announced, two present
    expect(() => decodeEnvelope(new Uint8Array([1, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(/out of range/)
    expect(() => encodeEnvelope([-1], new Uint8Array())).toThrow(RangeError)
  })
})

/** Just enough of gossipsub for a GossipChannel: a validator table, the 'message' event, subscribe. */
function fakePubsub(): { pubsub: GossipSub; deliver(from: PeerId, data: Uint8Array): void } {
  const events = new EventTarget()
  const pubsub = {
    topicValidators: new Map(),
    addEventListener: (type: string, l: (evt: Event) => void) => events.addEventListener(type, l),
    removeEventListener: (type: string, l: (evt: Event) => void) => events.removeEventListener(type, l),
    subscribe: () => undefined,
    getSubscribers: () => [],
  }
  let topic = ''
  return {
    pubsub: pubsub as unknown as GossipSub,
    deliver(from, data) {
      topic ||= [...pubsub.topicValidators.keys()][0] as string
      events.dispatchEvent(new CustomEvent('message', { detail: { type: 'signed', from, topic, data, sequenceNumber: 1n } }))
    },
  }
}

describe('a gossip channel receiving an envelope', () => {
  it('drops the copy of a broadcast that names it as sent directly, hands on the others once, counts each', async () => {
    const members = await testMembers(4)
    const book = new AddressBook(members.map(m => m.address))
    const counters = newGossipCounters()
    const { pubsub, deliver } = fakePubsub()
    const handed: Array<[number, string]> = []
    const channel = new GossipChannel({
      pubsub, book, self: 2, counters, log: silentLogger, connectionsTo: () => [],
      onMessage: (from, data) => handed.push([from, untext(data)]),
    })
    channel.start()
    const origin = book.get(0)!.peerId
    deliver(origin, encodeEnvelope([], text('to everyone over the topic')))
    deliver(origin, encodeEnvelope([3], text('replica 3 got it directly')))
    deliver(origin, encodeEnvelope([2, 3], text('replica 2 got it directly')))
    deliver(origin, new Uint8Array([5, 1])) // a member's bug: the header announces five ids
    expect(handed).toEqual([[0, 'to everyone over the topic'], [0, 'replica 3 got it directly']])
    expect(counters).toMatchObject({ delivered: 2, sentDirect: 1, malformed: 1 })
    channel.stop()
  })
})

describe('the gossip stream keeper', () => {
  it('opens the outbound stream gossipsub did not, to a connected replica, once it is missing at two checks', async () => {
    const members = await testMembers(3, 1)
    const book = new AddressBook(members.map(m => m.address))
    const streamsOutbound = new Map<string, unknown>([[book.get(2)!.peerId.toString(), {}]])
    const opened: string[] = []
    let finish = (): void => undefined
    const pubsub = {
      streamsOutbound,
      onPeerConnected: () => undefined,
      createOutboundStream: (peer: PeerId) => { opened.push(peer.toString()); return new Promise<void>(resolve => { finish = resolve }) },
    } as unknown as GossipSub
    const open = { status: 'open' } as unknown as Connection
    const repaired: number[] = []
    // Connected to replica 1 (no stream), replica 2 (has one) and the client (not a replica): only 1 needs a stream.
    const keeper = new GossipStreamKeeper({ pubsub, book, self: 0, connectionsTo: () => [open], onRepair: id => repaired.push(id) })
    keeper.check()
    expect(opened).toEqual([]) // missing once: gossipsub may still be opening it
    keeper.check()
    expect(repaired).toEqual([1])
    keeper.check() // the open is under way: not a second one
    expect(opened).toEqual([book.get(1)!.peerId.toString()])
    finish()
    streamsOutbound.set(book.get(1)!.peerId.toString(), {})
    await Promise.resolve()
    keeper.check()
    keeper.check()
    expect(repaired).toEqual([1])
  })
})

describe("a gossip channel's topic validator", () => {
  it('accepts a replica\'s message relayed by a replica, refuses one relayed by a client member or a stranger, or from a client', async () => {
    const members = await testMembers(3, 1)
    const book = new AddressBook(members.map(m => m.address))
    const counters = newGossipCounters()
    const { pubsub } = fakePubsub()
    const channel = new GossipChannel({ pubsub, book, self: 0, counters, log: silentLogger, connectionsTo: () => [], onMessage: () => undefined })
    channel.start()
    const validate = pubsub.topicValidators.get(channel.topic)!
    const replica = book.get(1)!.peerId
    const client = book.get(1000)!.peerId
    const stranger = peerIdOfPrivateKey(generatePrivateKey(createRng('stranger')))
    const signed = (from: PeerId) => ({ type: 'signed', from, topic: channel.topic, data: new Uint8Array([0]), sequenceNumber: 1n, signature: new Uint8Array(), key: from.publicKey }) as unknown as Message
    expect(await validate(book.get(2)!.peerId, signed(replica))).toBe(TopicValidatorResult.Accept)
    expect(await validate(client, signed(replica))).toBe(TopicValidatorResult.Reject) // a replay through a client
    expect(await validate(stranger, signed(replica))).toBe(TopicValidatorResult.Reject)
    expect(await validate(replica, signed(client))).toBe(TopicValidatorResult.Reject)
    expect(counters.refused).toBe(3)
    channel.stop()
  })
})
