/**
 * Gossipsub dissemination at the transport: a broadcast (one frame object to every other replica in one turn) is
 * published once on the cluster topic, each receiver's handler sees it once with the originator's authenticated id
 * however many copies gossip carried, counted as direct frames are; and no one outside the replicas can inject.
 */
import { identify } from '@libp2p/identify'
import { gossipsub, StrictSign } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../../core/errors.ts'
import { generatePrivateKey } from '../../core/signers/index.ts'
import { createRng } from '../../core/random.ts'
import { AddressBook } from '../../net/libp2p/address-book.ts'
import { clusterTopic } from '../../net/libp2p/gossip-dissemination.ts'
import { createLibp2pTransport } from '../../net/libp2p/libp2p-transport.ts'
import type { Libp2pTransport } from '../../net/libp2p/libp2p-transport.ts'
import { libp2pPrivateKey } from '../../net/libp2p/peer-identity.ts'
import type { OutboundFrame } from '../../core/transport.ts'
import type { Received, TestMember } from './helpers.ts'
import { sleep, testMembers, text, untext, waitFor } from './helpers.ts'

const running: Array<{ stop(): void | Promise<void> }> = []
afterEach(async () => {
  await Promise.all(running.splice(0).map(async r => { try { await r.stop() } catch { /* already stopped */ } }))
})

async function start(member: TestMember, members: TestMember[]): Promise<{ transport: Libp2pTransport; inbox: Received[] }> {
  const transport = await createLibp2pTransport({
    id: member.id, privateKey: member.privateKey, peers: members.map(m => m.address), dissemination: 'gossipsub',
  })
  running.push(transport)
  const inbox: Received[] = []
  transport.onFrame((from, frame) => inbox.push({ from, channel: frame.channel, text: untext(frame.bytes) }))
  return { transport, inbox }
}

/**
 * Connect every pair of replicas with direct frames, so gossipsub (which rides those connections) can subscribe.
 * Resent until each pair has heard the other (bounded): two nodes dialling each other at once may lose the first
 * frame with the connection libp2p closes, and a protocol would retransmit it.
 */
async function meshOf(nodes: Array<{ transport: Libp2pTransport; inbox: Received[] }>): Promise<void> {
  const heard = (n: typeof nodes[0], from: number) => n.inbox.some(m => m.from === from && m.text === 'hello')
  const missing = () => nodes.flatMap(a => nodes.filter(b => a !== b && !heard(b, a.transport.id)).map(b => [a, b] as const))
  for (let round = 0; round < 50 && missing().length > 0; round++) {
    for (const [a, b] of missing()) a.transport.send(b.transport.id, { channel: 'protocol', type: 'Hello', bytes: text('hello') })
    await sleep(200)
  }
  expect(missing().map(([a, b]) => `${a.transport.id}->${b.transport.id}`)).toEqual([])
}

function broadcast(from: Libp2pTransport, peers: readonly number[], body: string): void {
  const frame: OutboundFrame = { channel: 'protocol', type: 'Prepare', bytes: text(body) }
  for (const to of peers) from.send(to, frame)
}

describe('gossipsub dissemination', () => {
  it('delivers each broadcast once per replica, counts it as n-1 messages, and reports the duplicate copies apart', async () => {
    const members = await testMembers(4)
    const nodes = await Promise.all(members.map(m => start(m, members)))
    await meshOf(nodes)
    const [origin, ...receivers] = nodes as [typeof nodes[0], ...typeof nodes]
    // Broadcast until gossipsub has formed its mesh and a receiver has seen a duplicate copy (bounded in count and time).
    let sent = 0
    const deadline = Date.now() + 15_000
    while (!receivers.some(r => r.transport.gossip!.copiesReceived > r.transport.gossip!.delivered) && Date.now() < deadline && sent < 400) {
      broadcast(origin.transport, [1, 2, 3], `prepare ${sent++}`)
      await sleep(50)
    }
    expect(origin.transport.gossip!.published).toBeGreaterThan(0)
    for (let i = 0; i < 20; i++) broadcast(origin.transport, [1, 2, 3], `prepare ${sent++}`)
    const broadcasts = (r: typeof nodes[0]) => r.inbox.filter(m => m.text.startsWith('prepare '))
    await waitFor(() => receivers.every(r => broadcasts(r).length >= sent), 'every broadcast at every receiver', 10_000)
      .catch((e: Error) => { throw new Error(`${e.message}: ${sent} sent, ${JSON.stringify(nodes.map(n => [broadcasts(n).length, n.transport.gossip]))}`) })
    await sleep(300) // late duplicates would show here
    for (const r of receivers) {
      const texts = broadcasts(r).map(m => m.text)
      expect(new Set(texts).size).toBe(sent)
      expect(texts.length).toBe(sent) // each once, though gossip carried more copies
      expect(broadcasts(r).every(m => m.from === 0 && m.channel === 'protocol')).toBe(true)
    }
    expect(receivers.some(r => r.transport.gossip!.copiesReceived > r.transport.gossip!.delivered)).toBe(true)
    // Counted where direct frames are: n-1 protocol messages per broadcast at the sender, whichever way it travelled.
    expect(origin.transport.stats.byType('protocol').get('Prepare')!.messages).toBe(3 * sent)
  }, 40_000)

  it('with a replica down, publishes for the others and writes to it directly, each taking every broadcast once', async () => {
    const members = await testMembers(4)
    const nodes = await Promise.all(members.map(m => start(m, members)))
    await meshOf(nodes)
    const [origin, one, two, down] = nodes as [typeof nodes[0], typeof nodes[0], typeof nodes[0], typeof nodes[0]]
    const pubsub = (t: Libp2pTransport) => (t.node!.services as { pubsub: GossipSub }).pubsub
    const topic = clusterTopic(new AddressBook(members.map(m => m.address)))
    const subscribers = () => pubsub(origin.transport).getSubscribers(topic).map(p => p.toString())
    await waitFor(() => subscribers().length === 3, 'every replica subscribed, seen from the origin', 10_000)
    await down.transport.stop()
    await waitFor(() => !subscribers().includes(down.transport.peerId.toString()), 'the stopped replica gone from the topic', 10_000)
    const published = origin.transport.gossip!.published
    for (let i = 0; i < 10; i++) broadcast(origin.transport, [1, 2, 3], `while down ${i}`)
    const got = (r: typeof nodes[0]) => r.inbox.filter(m => m.text.startsWith('while down ')).map(m => m.text)
    await waitFor(() => got(one).length >= 10 && got(two).length >= 10, 'the broadcasts at the live replicas')
    // Before the fix the topic had to reach every other replica, so one replica down kept every broadcast off it.
    expect(origin.transport.gossip!.published - published).toBe(10)
    // Back on the same address: the frames queued for it arrive on the redialled direct stream, once each (its gossip
    // copies, if a relay offers them, name it as sent directly and are dropped).
    const back = await start(members[3]!, members)
    await waitFor(() => got(back).length >= 10, 'the queued broadcasts at the restarted replica', 15_000)
    await sleep(500) // late copies would show here
    for (const r of [one, two, back]) expect(got(r).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `while down ${i}`).sort())
  }, 40_000)

  it('reopens the gossip streams between two connected replicas whose routers forgot each other (gossipsub does not)', async () => {
    const members = await testMembers(3)
    const nodes = await Promise.all(members.map(m => start(m, members)))
    await meshOf(nodes)
    const [origin, cut] = nodes as [typeof nodes[0], typeof nodes[0]]
    type Internals = { streamsOutbound: Map<string, unknown>; onPeerDisconnected(peer: PeerId): void }
    const internals = (t: Libp2pTransport) => (t.node!.services as { pubsub: unknown }).pubsub as Internals
    const cutPeer = cut.transport.peerId.toString()
    await waitFor(() => internals(origin.transport).streamsOutbound.has(cutPeer), 'the gossip stream to replica 1', 10_000)
    // Both routers forget each other, as when identify never reported the peer or a stream open failed: gossipsub
    // opens streams again only on a new connection, and the libp2p connection (with the direct stream) stays up.
    internals(origin.transport).onPeerDisconnected(cut.transport.peerId)
    internals(cut.transport).onPeerDisconnected(origin.transport.peerId)
    await waitFor(() => !internals(origin.transport).streamsOutbound.has(cutPeer), 'the gossip stream gone')
    expect(origin.transport.node!.getConnections(cut.transport.peerId).length).toBeGreaterThan(0)
    await waitFor(() => internals(origin.transport).streamsOutbound.has(cutPeer), 'the gossip stream reopened', 10_000)
    expect(origin.transport.gossip!.streamRepairs + cut.transport.gossip!.streamRepairs).toBeGreaterThan(0)
    // Broadcasts reach replica 1 over the topic again, not only directly.
    const delivered = cut.transport.gossip!.delivered
    let sent = 0
    const deadline = Date.now() + 10_000
    while (cut.transport.gossip!.delivered === delivered && Date.now() < deadline) {
      broadcast(origin.transport, [1, 2], `after the cut ${sent++}`)
      await sleep(100)
    }
    expect(cut.transport.gossip!.delivered).toBeGreaterThan(delivered)
  }, 40_000)

  it('sends a frame that goes to only some replicas on the direct streams', async () => {
    const members = await testMembers(3)
    const nodes = await Promise.all(members.map(m => start(m, members)))
    await meshOf(nodes)
    const published = nodes[0]!.transport.gossip!.published
    broadcast(nodes[0]!.transport, [1], 'only to one')
    await waitFor(() => nodes[1]!.inbox.some(m => m.text === 'only to one'), 'the unicast')
    expect(nodes[0]!.transport.gossip!.published).toBe(published)
    expect(nodes[2]!.inbox.some(m => m.text === 'only to one')).toBe(false)
  }, 20_000)

  it('refuses messages a client member publishes on the topic, and a stranger cannot even connect', async () => {
    const members = await testMembers(3, 1)
    const replicas = members.filter(m => m.role === 'replica')
    const nodes = await Promise.all(replicas.map(m => start(m, members)))
    await meshOf(nodes)
    const topic = clusterTopic(new AddressBook(members.map(m => m.address)))
    const pubsubNode = async (privateKey: Uint8Array): Promise<Libp2p<{ pubsub: GossipSub }>> => {
      const node = await createLibp2p({
        privateKey: libp2pPrivateKey(privateKey), addresses: { listen: [] },
        transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
        services: { identify: identify(), pubsub: gossipsub({ globalSignaturePolicy: StrictSign, allowPublishToZeroTopicPeers: true }) },
      })
      running.push(node)
      return node
    }
    // The client is allowed to connect (it is in the address book), so only the topic validator stands in its way.
    const client = await pubsubNode(members.find(m => m.role === 'client')!.privateKey)
    client.services.pubsub.subscribe(topic)
    await client.dial(nodes[0]!.transport.node!.getMultiaddrs())
    await waitFor(() => client.services.pubsub.getSubscribers(topic).length > 0, 'the replica subscribed, seen from the client')
    for (let i = 0; i < 5; i++) await client.services.pubsub.publish(topic, text(`forged ${i}`))
    await waitFor(() => nodes[0]!.transport.gossip!.refused >= 5, 'the replica refusing the client\'s messages')
    await sleep(300)
    for (const n of nodes) expect(n.inbox.some(m => m.text.startsWith('forged'))).toBe(false)

    // A stranger is cut off by the connection gater right after the handshake, before gossipsub can run.
    const stranger = await pubsubNode(generatePrivateKey(createRng('stranger')))
    stranger.services.pubsub.subscribe(topic)
    try { await stranger.dial(nodes[0]!.transport.node!.getMultiaddrs(), { signal: AbortSignal.timeout(3000) }) } catch { /* refused */ }
    for (let i = 0; i < 5; i++) {
      try { await stranger.services.pubsub.publish(topic, text(`stranger ${i}`)) } catch { /* no peers to publish to */ }
    }
    await waitFor(() => nodes[0]!.transport.node!.getConnections(stranger.peerId).length === 0, 'the stranger cut off')
    await sleep(300)
    for (const n of nodes) expect(n.inbox.some(m => m.text.startsWith('stranger'))).toBe(false)
  }, 30_000)

  it('refuses gossipsub on a mounted node, naming the field', async () => {
    const members = await testMembers(2)
    const node = await createLibp2p({
      privateKey: libp2pPrivateKey(members[0]!.privateKey), addresses: { listen: [] },
      transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    })
    running.push(node)
    const attempt = createLibp2pTransport({ id: 0, node, peers: members.map(m => m.address), dissemination: 'gossipsub' })
    await expect(attempt).rejects.toThrow(ConfigError)
    await expect(attempt).rejects.toThrow(/dissemination/)
  })
})
