/** Shared setup for live libp2p tests: loopback only, free ports, deterministic keys, bounded waits. */
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { nodeCryptoScheme } from '../../core/signers/node-crypto.ts'
import { generatePrivateKey } from '../../core/signers/index.ts'
import { createRng } from '../../core/random.ts'
import type { NodeId } from '../../core/types.ts'
import type { PeerAddress, PeerRole } from '../../net/libp2p/address-book.ts'
import type { Channel } from '../../core/transport.ts'
import { DEFAULT_STACK, listenAddress, portKind } from '../../net/libp2p/stack.ts'
import type { Libp2pStack } from '../../net/libp2p/stack.ts'
import { freeLoopbackPorts } from '../../bench/live/loopback-cluster.ts'

/** Ports the OS just handed out on 127.0.0.1 (all held open together, so they are distinct). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(server))
  })))
  const ports = servers.map(s => (s.address() as AddressInfo).port)
  await Promise.all(servers.map(s => new Promise(resolve => s.close(resolve))))
  return ports
}

/** UDP ports the OS just handed out on 127.0.0.1 (for QUIC): the bench's own helper. */
export function freeUdpPorts(count: number): Promise<number[]> {
  return freeLoopbackPorts(count, 'udp')
}

export interface TestMember {
  readonly id: NodeId
  readonly role: PeerRole
  readonly privateKey: Uint8Array
  readonly address: PeerAddress
}

/** Replicas 0..replicas-1 listening on free ports, then clients 1000.. that only dial out. */
export async function testMembers(replicas: number, clients = 0, seed = 'libp2p-test', stack: Libp2pStack = DEFAULT_STACK):
  Promise<TestMember[]> {
  const rng = createRng(seed)
  const ports = portKind(stack) === 'udp' ? await freeUdpPorts(replicas) : await freePorts(replicas)
  const members: TestMember[] = []
  for (let i = 0; i < replicas + clients; i++) {
    const role: PeerRole = i < replicas ? 'replica' : 'client'
    const id = role === 'replica' ? i : 1000 + i - replicas
    const privateKey = generatePrivateKey(rng)
    const addrs = role === 'replica' ? [listenAddress(stack, '127.0.0.1', ports[i]!)] : []
    members.push({ id, role, privateKey, address: { id, role, publicKey: nodeCryptoScheme.publicKeyOf(privateKey), addrs } })
  }
  return members
}

export interface Received {
  readonly from: NodeId
  readonly channel: Channel
  readonly text: string
}

/** Poll `condition` every 10 ms; fail with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

export const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
export const text = (s: string): Uint8Array => new TextEncoder().encode(s)
export const untext = (b: Uint8Array): string => new TextDecoder().decode(b)
