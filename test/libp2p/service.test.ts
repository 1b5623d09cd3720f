import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { consensusService } from '../../net/libp2p/consensus-service.ts'
import { createLibp2pTransport } from '../../net/libp2p/libp2p-transport.ts'
import type { Libp2pTransport } from '../../net/libp2p/libp2p-transport.ts'
import { libp2pPrivateKey } from '../../net/libp2p/peer-identity.ts'
import type { Received } from './helpers.ts'
import { testMembers, text, untext, waitFor } from './helpers.ts'

const stops: Array<() => void | Promise<void>> = []
afterEach(async () => { for (const s of stops.splice(0)) await s() })

describe('libp2p transport mounted as a service on a user-built node', () => {
  it('exchanges frames with a standalone transport and starts and stops with the node', async () => {
    const members = await testMembers(2)
    const peers = members.map(m => m.address)
    const node = await createLibp2p({
      privateKey: libp2pPrivateKey(members[0]!.privateKey),
      addresses: { listen: [...members[0]!.address.addrs] },
      transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
      services: { consensus: consensusService({ id: 0, peers }) },
    })
    stops.push(() => node.stop())
    const mounted: Libp2pTransport = node.services.consensus.transport
    const other = await createLibp2pTransport({ id: 1, privateKey: members[1]!.privateKey, peers })
    stops.push(() => other.stop())
    const inboxMounted: Received[] = []
    const inboxOther: Received[] = []
    mounted.onFrame((from, f) => inboxMounted.push({ from, channel: f.channel, text: untext(f.bytes) }))
    other.onFrame((from, f) => inboxOther.push({ from, channel: f.channel, text: untext(f.bytes) }))
    mounted.send(1, { channel: 'protocol', type: 'Prepare', bytes: text('from the service') })
    other.send(0, { channel: 'protocol', type: 'PrepareOk', bytes: text('to the service') })
    await waitFor(() => inboxMounted.length === 1 && inboxOther.length === 1, 'both frames')
    expect(inboxOther[0]).toEqual({ from: 0, channel: 'protocol', text: 'from the service' })
    expect(inboxMounted[0]).toEqual({ from: 1, channel: 'protocol', text: 'to the service' })
    expect(mounted.node).toBeNull()
    await node.stop()
    expect(() => node.services.consensus.transport).toThrow(/not started/)
  })

  it('refuses to mount on a node whose key is not the address book entry for its id', async () => {
    const members = await testMembers(2)
    const node = await createLibp2p({
      privateKey: libp2pPrivateKey(members[1]!.privateKey),
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
      start: false,
      services: { consensus: consensusService({ id: 0, peers: members.map(m => m.address) }) },
    })
    stops.push(() => node.stop())
    await expect(node.start()).rejects.toThrow(/does not have node 0's key/)
  })
})
