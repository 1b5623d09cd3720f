/**
 * What the consensus transport costs per message, next to bare libp2p in the same process and run:
 *
 * - pipelined: node 0 hands `messages` frames of `payloadBytes` to its transport for node 1 in bursts of `burst` per
 *   event-loop turn (as a host does when one Ready holds many messages), pausing only when send() reports the queue
 *   above its high-water mark; the rate is frames delivered to node 1's handler per second.
 * - bare: the same count and size written with one `stream.send()` each on a raw libp2p stream (TCP + Noise + Yamux,
 *   no framing, no queue), in the same bursts, honouring the stream's drain; the rate is messages' bytes received.
 * - one in flight: a frame from 0 to 1 and back through both transports, one at a time (compare with the echo).
 */
import { createRng } from '../../core/random.ts'
import { generatePrivateKey } from '../../core/signers/index.ts'
import { nodeCryptoScheme } from '../../core/signers/node-crypto.ts'
import { createLibp2pTransport, type Libp2pTransport, type PeerAddress } from '../../net/libp2p/index.ts'
import { createBareLibp2pNode } from '../libp2p-echo.ts'
import { freeLoopbackPorts } from './loopback-cluster.ts'

export interface TransportRateOptions {
  readonly messages: number
  readonly payloadBytes?: number
  /** Frames handed over per event-loop turn. Default 64. */
  readonly burst?: number
  /** Round trips for the one-in-flight figure. Default 500. */
  readonly pings?: number
}

export interface TransportRate {
  readonly messages: number
  readonly payloadBytes: number
  readonly burst: number
  /** Frames per second through the consensus transport, pipelined. */
  readonly transportMsgsPerSec: number
  /** Messages per second with one stream.send() each on a bare libp2p stream, pipelined. */
  readonly bareMsgsPerSec: number
  /** Round trip through both transports, one frame in flight. */
  readonly pingP50Ms: number
  readonly pings: number
  /** Writes the sending transport made to its stream during the pipelined run (frames per write = coalescing). */
  readonly streamWrites: number
}

const ECHO_PROTOCOL = '/consensus-bench/rate/1.0.0'
const TIMEOUT_MS = 60_000

const turn = () => new Promise<void>(resolve => setImmediate(resolve))

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not finish in ${TIMEOUT_MS} ms`)), TIMEOUT_MS).unref())])
}

async function transportPair(): Promise<[Libp2pTransport, Libp2pTransport]> {
  const rng = createRng('transport-rate')
  const keys = [generatePrivateKey(rng), generatePrivateKey(rng)]
  const ports = await freeLoopbackPorts(2)
  const peers: PeerAddress[] = keys.map((k, id) => ({
    id, role: 'replica', publicKey: nodeCryptoScheme.publicKeyOf(k), addrs: [`/ip4/127.0.0.1/tcp/${ports[id]}`],
  }))
  const a = await createLibp2pTransport({ id: 0, privateKey: keys[0]!, peers })
  const b = await createLibp2pTransport({ id: 1, privateKey: keys[1]!, peers })
  return [a, b]
}

async function measureTransport(o: Required<TransportRateOptions>): Promise<Pick<TransportRate, 'transportMsgsPerSec' | 'pingP50Ms' | 'streamWrites'>> {
  const [a, b] = await transportPair()
  try {
    const payload = new Uint8Array(o.payloadBytes).fill(0x61)
    const frame = { channel: 'protocol' as const, type: 'Rate', bytes: payload }
    // Connect (and warm up) with one round trip.
    let echoed: (() => void) | null = null
    let received = 0
    let target = Infinity
    let allIn: (() => void) | null = null
    b.onFrame((from, f) => {
      if (f.bytes.length === 1) { b.send(from, { channel: 'protocol', type: 'Pong', bytes: f.bytes }); return }
      if (++received >= target && allIn !== null) allIn()
    })
    a.onFrame(() => { const e = echoed; echoed = null; e?.() })
    const ping = new Uint8Array([1])
    const samples: number[] = []
    for (let i = 0; i < o.pings + 50; i++) {
      const done = new Promise<void>(resolve => { echoed = resolve })
      const t0 = performance.now()
      a.send(1, { channel: 'protocol', type: 'Ping', bytes: ping })
      await withTimeout(done, 'transport ping')
      if (i >= 50) samples.push(performance.now() - t0)
    }
    samples.sort((x, y) => x - y)
    const pingP50Ms = samples[Math.floor(samples.length / 2)]!

    const drained = () => new Promise<void>(resolve => { pendingDrain = resolve })
    let pendingDrain: (() => void) | null = null
    a.onDrain(() => { const d = pendingDrain; pendingDrain = null; d?.() })
    const writesBefore = streamWritesOf(a)
    received = 0
    target = o.messages
    const all = new Promise<void>(resolve => { allIn = resolve })
    const t0 = performance.now()
    let sent = 0
    while (sent < o.messages) {
      let congested = false
      for (let i = 0; i < o.burst && sent < o.messages; i++) { sent++; if (!a.send(1, frame)) congested = true }
      if (congested) await withTimeout(drained(), 'transport drain')
      else await turn()
    }
    await withTimeout(all, 'transport pipelined run')
    const seconds = (performance.now() - t0) / 1000
    const writesAfter = streamWritesOf(a)
    return {
      transportMsgsPerSec: Math.round(o.messages / seconds), pingP50Ms: Math.round(pingP50Ms * 1000) / 1000,
      streamWrites: writesAfter - writesBefore,
    }
  } finally {
    await a.stop()
    await b.stop()
  }
}

const streamWritesOf = (t: Libp2pTransport): number => t.streamWrites

async function measureBare(o: Required<TransportRateOptions>): Promise<number> {
  const server = await createBareLibp2pNode()
  const client = await createBareLibp2pNode()
  try {
    const total = o.messages * o.payloadBytes
    await server.handle(ECHO_PROTOCOL, stream => {
      let got = 0
      stream.addEventListener('message', evt => {
        got += evt.data.byteLength
        if (got >= total) stream.send(new Uint8Array([1]))
      })
    })
    const stream = await client.dialProtocol(server.getMultiaddrs()[0]!, ECHO_PROTOCOL)
    const done = new Promise<void>(resolve => stream.addEventListener('message', () => resolve(), { once: true }))
    const payload = new Uint8Array(o.payloadBytes).fill(0x61)
    const t0 = performance.now()
    let sent = 0
    while (sent < o.messages) {
      for (let i = 0; i < o.burst && sent < o.messages; i++, sent++) stream.send(payload)
      if (stream.writableNeedsDrain) await withTimeout(new Promise<void>(resolve => stream.addEventListener('drain', () => resolve(), { once: true })), 'bare drain')
      else await turn()
    }
    await withTimeout(done, 'bare pipelined run')
    return Math.round(o.messages / ((performance.now() - t0) / 1000))
  } finally {
    await client.stop()
    await server.stop()
  }
}

export async function measureTransportRate(options: TransportRateOptions): Promise<TransportRate> {
  const o: Required<TransportRateOptions> = { payloadBytes: 64, burst: 64, pings: 500, ...options }
  for (const [name, v] of Object.entries(o)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`)
  }
  const t = await measureTransport(o)
  const bareMsgsPerSec = await measureBare(o)
  return { messages: o.messages, payloadBytes: o.payloadBytes, burst: o.burst, pings: o.pings, bareMsgsPerSec, ...t }
}
