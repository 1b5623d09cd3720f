import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../../core/errors.ts'
import { generatePrivateKey } from '../../core/signers/index.ts'
import { createLibp2pTransport, DEFAULT_PROTOCOL_ID } from '../../net/libp2p/libp2p-transport.ts'
import type { Libp2pTransport, Libp2pTransportOptions } from '../../net/libp2p/libp2p-transport.ts'
import { libp2pPrivateKey } from '../../net/libp2p/peer-identity.ts'
import type { Channel } from '../../core/transport.ts'
import type { Received, TestMember } from './helpers.ts'
import { sleep, testMembers, text, untext, waitFor } from './helpers.ts'

const running: Array<{ stop(): void | Promise<void> }> = []
afterEach(async () => {
  await Promise.all(running.splice(0).map(async r => { try { await r.stop() } catch { /* already stopped */ } }))
})

async function start(member: TestMember, members: TestMember[], extra: Partial<Libp2pTransportOptions> = {}):
  Promise<{ transport: Libp2pTransport; inbox: Received[] }> {
  const transport = await createLibp2pTransport({
    id: member.id, privateKey: member.privateKey, peers: members.map(m => m.address), ...extra,
  })
  running.push(transport)
  const inbox: Received[] = []
  transport.onFrame((from, frame) => inbox.push({ from, channel: frame.channel, text: untext(frame.bytes) }))
  return { transport, inbox }
}

/** A bare libp2p node with a member's (or a stranger's) key, to misbehave at the wire level. */
async function rawNode(privateKey: Uint8Array, listen: string[] = []): Promise<Libp2p> {
  const node = await createLibp2p({
    privateKey: libp2pPrivateKey(privateKey),
    addresses: { listen },
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
  })
  running.push(node)
  return node
}

const frame = (channel: Channel, type: string, body: string) => ({ channel, type, bytes: text(body) })

describe('libp2p transport: delivery', () => {
  it('two nodes exchange frames both ways with the authenticated sender id and counted stats', async () => {
    const members = await testMembers(2)
    const a = await start(members[0]!, members)
    const b = await start(members[1]!, members)
    expect(a.transport.send(1, frame('protocol', 'AppendEntries', 'hello b'))).toBe(true)
    expect(b.transport.send(0, frame('protocol', 'AppendEntriesReply', 'hello a'))).toBe(true)
    a.transport.send(1, frame('protocol', 'AppendEntries', 'again'))
    await waitFor(() => b.inbox.length === 2 && a.inbox.length === 1, 'both directions')
    expect(b.inbox).toEqual([
      { from: 0, channel: 'protocol', text: 'hello b' },
      { from: 0, channel: 'protocol', text: 'again' },
    ])
    expect(a.inbox).toEqual([{ from: 1, channel: 'protocol', text: 'hello a' }])
    expect(a.transport.stats.byType('protocol')).toEqual(new Map([['AppendEntries', { messages: 2, bytes: 12 }]]))
    expect(b.transport.stats.total('protocol')).toEqual({ messages: 1, bytes: 7 })
    expect(b.transport.received).toEqual({ frames: 2, bytes: 12 })
    expect(a.transport.stats.dropped).toBe(0)
  })

  it('frames queued for a peer in one turn leave as one stream write, in order', async () => {
    const members = await testMembers(2)
    const a = await start(members[0]!, members)
    const b = await start(members[1]!, members)
    a.transport.send(1, frame('protocol', 'Hello', 'connect'))
    await waitFor(() => b.inbox.length === 1, 'the connection')
    const before = a.transport.streamWrites
    for (let i = 0; i < 200; i++) a.transport.send(1, frame(i % 2 === 0 ? 'protocol' : 'reply', 'Burst', `m${i}`))
    expect(a.transport.queuedBytes(1)).toBeGreaterThan(0) // held for the end of the turn
    await waitFor(() => b.inbox.length === 201, 'the burst')
    expect(a.transport.streamWrites - before).toBe(1)
    expect(b.inbox.slice(1).map(m => m.text)).toEqual(Array.from({ length: 200 }, (_, i) => `m${i}`))
    expect(b.inbox.slice(1).map(m => m.channel)).toEqual(Array.from({ length: 200 }, (_, i) => i % 2 === 0 ? 'protocol' : 'reply'))
    expect(a.transport.stats.total('protocol').messages).toBe(101)
    expect(b.transport.received.frames).toBe(201)
  })

  it('three nodes: every pair, in order per sender', async () => {
    const members = await testMembers(3)
    const nodes = await Promise.all(members.map(m => start(m, members)))
    for (let round = 0; round < 20; round++) {
      for (const [i, n] of nodes.entries()) {
        for (const j of [0, 1, 2]) if (j !== i) n.transport.send(j, frame('protocol', 'Prepare', `${i}->${j}#${round}`))
      }
    }
    await waitFor(() => nodes.every(n => n.inbox.length === 40), 'all 120 frames')
    for (const [j, n] of nodes.entries()) {
      for (const i of [0, 1, 2]) {
        if (i === j) continue
        const fromI = n.inbox.filter(r => r.from === i).map(r => r.text)
        expect(fromI).toEqual(Array.from({ length: 20 }, (_, round) => `${i}->${j}#${round}`))
      }
    }
  })

  it('a dial-only client sends requests and gets replies on its own stream; it may not speak the protocol channel', async () => {
    const members = await testMembers(1, 1)
    const replica = await start(members[0]!, members)
    const client = await start(members[1]!, members)
    replica.transport.onFrame((from, f) => {
      replica.inbox.push({ from, channel: f.channel, text: untext(f.bytes) })
      if (f.channel === 'request') replica.transport.send(from, frame('reply', 'ClientReply', 'ok:' + untext(f.bytes)))
    })
    client.transport.send(0, frame('request', 'ClientRequest', 'put x 1'))
    await waitFor(() => client.inbox.length === 1, 'the reply')
    expect(client.inbox[0]).toEqual({ from: 0, channel: 'reply', text: 'ok:put x 1' })
    client.transport.send(0, frame('protocol', 'RequestVote', 'I am a replica, honest'))
    await waitFor(() => replica.transport.rejected.unauthorized === 1, 'the protocol frame from a client to be refused')
    expect(replica.inbox.map(r => r.channel)).toEqual(['request'])
  })

  it('sending to an unknown node is a counted drop, not an error', async () => {
    const members = await testMembers(1)
    const a = await start(members[0]!, members)
    expect(a.transport.send(42, frame('protocol', 'Commit', 'x'))).toBe(true)
    expect(a.transport.stats.dropped).toBe(1)
    expect(a.transport.stats.total('protocol').messages).toBe(1)
  })
})

describe('libp2p transport: admission', () => {
  it('refuses a peer that is not in the address book', async () => {
    const members = await testMembers(1)
    const a = await start(members[0]!, members)
    const stranger = await rawNode(generatePrivateKey())
    await expect(stranger.dialProtocol(multiaddr(a.transport.multiaddrs()[0]!), DEFAULT_PROTOCOL_ID,
      { signal: AbortSignal.timeout(3000) })).rejects.toThrow()
    await sleep(50)
    expect(a.inbox).toEqual([])
  })

  it('mounted on a user node (no gater of ours), a stranger’s stream is refused at the protocol', async () => {
    const members = await testMembers(1)
    const userNode = await rawNode(members[0]!.privateKey, members[0]!.address.addrs as string[])
    const a = await start(members[0]!, members, { node: userNode })
    const stranger = await rawNode(generatePrivateKey())
    const stream = await stranger.dialProtocol(multiaddr(a.transport.multiaddrs()[0]!), DEFAULT_PROTOCOL_ID)
    try { stream.send(new Uint8Array([8, 0, ...text('sneaky!')])) } catch { /* the stream may already be reset */ }
    await waitFor(() => a.transport.rejected.unauthorized === 1, 'the stranger to be refused')
    await sleep(50)
    expect(a.inbox).toEqual([])
    await a.transport.stop()
    expect(userNode.status).toBe('started') // we do not stop a node we did not create
  })

  it('rejects a key that does not match the address book', async () => {
    const members = await testMembers(2)
    await expect(createLibp2pTransport({ id: 0, privateKey: members[1]!.privateKey, peers: members.map(m => m.address) }))
      .rejects.toThrow(ConfigError)
    await expect(createLibp2pTransport({ id: 7, privateKey: members[0]!.privateKey, peers: members.map(m => m.address) }))
      .rejects.toThrow(/not in the address book/)
  })
})

describe('libp2p transport: bad frames', () => {
  it('skips oversized and malformed frames, closes a stream whose framing is lost, and keeps serving', async () => {
    const members = await testMembers(2)
    const a = await start(members[0]!, members, { maxFrameBytes: 1024 })
    // Node 1 is a member, but misbehaving: it writes raw bytes.
    const rogue = await rawNode(members[1]!.privateKey)
    const target = multiaddr(a.transport.multiaddrs()[0]!)
    const stream: Stream = await rogue.dialProtocol(target, DEFAULT_PROTOCOL_ID)
    const good = (s: string): number[] => [1 + s.length, 0, ...text(s)]
    const oversized = [0x88, 0x27, 0, ...new Uint8Array(5000 - 1)] // length 5000 (varint 0x88 0x27), channel 0
    stream.send(new Uint8Array([...good('first'), ...oversized.slice(0, 2000)]))
    stream.send(new Uint8Array([...oversized.slice(2000), 2, 9, 0x55, 0, ...good('second')]))
    await waitFor(() => a.inbox.length === 2, 'the two good frames around the bad ones')
    expect(a.inbox.map(r => r.text)).toEqual(['first', 'second'])
    expect(a.transport.rejected).toMatchObject({ oversized: 1, malformed: 2 })
    // A length prefix that never ends: framing is lost, the stream is closed, the node is fine.
    stream.send(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
    await waitFor(() => a.transport.rejected.malformed === 3, 'the broken prefix')
    await waitFor(() => stream.status !== 'open', 'the stream to be closed')
    const again = await rogue.dialProtocol(target, DEFAULT_PROTOCOL_ID)
    again.send(new Uint8Array(good('third')))
    await waitFor(() => a.inbox.length === 3, 'a frame on a fresh stream')
    expect(a.inbox[2]).toEqual({ from: 1, channel: 'protocol', text: 'third' })
  })

  it('does not send a frame over the limit (counted as dropped)', async () => {
    const members = await testMembers(2)
    const a = await start(members[0]!, members, { maxFrameBytes: 100 })
    expect(a.transport.send(1, { channel: 'protocol', type: 'Huge', bytes: new Uint8Array(500) })).toBe(true)
    expect(a.transport.stats.dropped).toBe(1)
    expect(a.transport.queuedBytes(1)).toBe(0)
  })
})

describe('libp2p transport: failures', () => {
  it('reconnects to a peer that restarted', async () => {
    const members = await testMembers(2)
    const a = await start(members[0]!, members, { reconnectInitialMs: 20, reconnectMaxMs: 200 })
    let b = await start(members[1]!, members)
    a.transport.send(1, frame('protocol', 'Ping', 'before'))
    await waitFor(() => b.inbox.length === 1, 'the first frame')
    await b.transport.stop()
    await sleep(100)
    // While b is down, sends queue (bounded) and dials fail with backoff.
    a.transport.send(1, frame('protocol', 'Ping', 'while down'))
    await sleep(300)
    b = await start(members[1]!, members)
    for (let i = 0; i < 100 && b.inbox.length === 0; i++) {
      a.transport.send(1, frame('protocol', 'Ping', `after ${i}`))
      await sleep(50)
    }
    await waitFor(() => b.inbox.length > 0, 'a frame after the restart')
    expect(b.inbox[0]!.from).toBe(0)
    // And the other way, over the new connection.
    b.transport.send(0, frame('protocol', 'Pong', 'back'))
    await waitFor(() => a.inbox.some(r => r.text === 'back'), 'the reply after the restart')
  })

  it('bounds the queue for a peer that stops reading: send() says false, then drops, then drains', async () => {
    const members = await testMembers(2)
    const highWaterBytes = 64 * 1024
    const queueLimitBytes = 256 * 1024
    const a = await start(members[0]!, members, { highWaterBytes, queueLimitBytes })
    // Node 1 accepts the stream but pauses reading, so yamux's window fills and the stream asks us to wait.
    const slow = await rawNode(members[1]!.privateKey, members[1]!.address.addrs as string[])
    let inbound: Stream | null = null
    let receivedBytes = 0
    await slow.handle(DEFAULT_PROTOCOL_ID, stream => {
      inbound = stream
      stream.pause()
      stream.addEventListener('message', e => { receivedBytes += e.data.byteLength })
    })
    const drained: number[] = []
    a.transport.onDrain(peer => drained.push(peer))
    const payload = new Uint8Array(1024)
    let refused = 0
    let maxQueued = 0
    for (let i = 0; i < 3000; i++) {
      if (!a.transport.send(1, { channel: 'protocol', type: 'Bulk', bytes: payload })) refused++
      maxQueued = Math.max(maxQueued, a.transport.queuedBytes(1))
      if (i % 100 === 0) await sleep(5) // let the stream open and fill
    }
    expect(refused).toBeGreaterThan(0)
    expect(maxQueued).toBeLessThanOrEqual(queueLimitBytes)
    expect(a.transport.stats.dropped).toBeGreaterThan(0)
    expect(a.transport.stats.total('protocol').messages).toBe(3000)
    expect(inbound).not.toBeNull()
    inbound!.resume()
    await waitFor(() => drained.includes(1), 'the drain callback', 10_000)
    await waitFor(() => a.transport.queuedBytes(1) === 0, 'the queue to empty', 10_000)
    const delivered = 3000 - a.transport.stats.dropped
    await waitFor(() => receivedBytes >= delivered * 1027, 'every accepted frame to arrive', 10_000)
    expect(receivedBytes).toBe(delivered * 1027) // 2-byte length prefix + channel byte + 1024
  })

  it('setBlocked drops traffic both ways and unblocking restores it', async () => {
    const members = await testMembers(3)
    const [a, b, c] = await Promise.all(members.map(m => start(m, members)))
    a!.transport.send(1, frame('protocol', 'Ping', 'open'))
    await waitFor(() => b!.inbox.length === 1, 'traffic before the partition')
    a!.transport.setBlocked(new Set([1]))
    a!.transport.send(1, frame('protocol', 'Ping', 'lost a->b'))
    b!.transport.send(0, frame('protocol', 'Ping', 'lost b->a'))
    a!.transport.send(2, frame('protocol', 'Ping', 'a->c still fine'))
    await waitFor(() => c!.inbox.length === 1, 'traffic to an unblocked peer')
    await sleep(100)
    expect(b!.inbox.map(r => r.text)).toEqual(['open'])
    expect(a!.inbox).toEqual([])
    expect(a!.transport.stats.dropped).toBe(2) // one sent, one received
    a!.transport.setBlocked(new Set())
    a!.transport.send(1, frame('protocol', 'Ping', 'healed a->b'))
    b!.transport.send(0, frame('protocol', 'Ping', 'healed b->a'))
    await waitFor(() => b!.inbox.length === 2 && a!.inbox.length === 1, 'traffic after healing')
    expect(a!.inbox[0]).toEqual({ from: 1, channel: 'protocol', text: 'healed b->a' })
  })

  it('stop() is clean and idempotent, and later sends are counted drops', async () => {
    const members = await testMembers(2)
    const a = await start(members[0]!, members)
    const b = await start(members[1]!, members)
    a.transport.send(1, frame('protocol', 'Ping', 'x'))
    await waitFor(() => b.inbox.length === 1, 'a frame')
    await a.transport.stop()
    await a.transport.stop()
    expect(a.transport.node?.status).toBe('stopped')
    expect(a.transport.send(1, frame('protocol', 'Ping', 'y'))).toBe(true)
    expect(a.transport.stats.dropped).toBe(1)
  })
})
