/**
 * Bare libp2p round trip on loopback: two nodes (TCP + Noise + Yamux, as the live transport uses), one stream, one
 * ping at a time echoed back. The floor under live commit latency: a commit needs at least one such round trip.
 *
 * On any stack (net/libp2p/stack.ts), so each stack's consensus figures sit beside its own floor.
 *
 *   node bench/libp2p-echo.ts [--pings 2000] [--bytes 64] [--warmup 200] [--stack tcp+noise+yamux]
 */
import { createLibp2p } from 'libp2p'
import { DEFAULT_STACK, listenAddress, parseStack, stackModules, stackName, type Libp2pStack } from '../net/libp2p/stack.ts'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const ECHO_PROTOCOL = '/consensus-bench/echo/1.0.0'

export interface EchoOptions {
  readonly pings?: number
  readonly payloadBytes?: number
  readonly warmup?: number
  /** Default tcp+noise+yamux. */
  readonly stack?: Libp2pStack
}

export interface EchoResult {
  readonly pings: number
  readonly payloadBytes: number
  /** Round-trip times in microseconds. */
  readonly p50Us: number
  readonly p99Us: number
  readonly meanUs: number
  readonly maxUs: number
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
}

/**
 * A plain libp2p node on loopback with a stack the consensus transport uses (default TCP + Noise + Yamux) and nothing
 * of ours on top: the floor the bench compares the transport with.
 */
export async function createBareLibp2pNode(stack: Libp2pStack = DEFAULT_STACK): ReturnType<typeof createLibp2p> {
  return createLibp2p({
    addresses: { listen: [listenAddress(stack, '127.0.0.1', 0)] },
    ...await stackModules(stack),
  })
}

export async function measureLibp2pEcho(options: EchoOptions = {}): Promise<EchoResult> {
  const pings = options.pings ?? 2000
  const payloadBytes = options.payloadBytes ?? 64
  const warmup = options.warmup ?? 200
  if (!Number.isInteger(pings) || pings < 1) throw new RangeError(`pings must be a positive integer, got ${pings}`)
  if (!Number.isInteger(payloadBytes) || payloadBytes < 1) throw new RangeError(`payload bytes must be >= 1, got ${payloadBytes}`)
  const server = await createBareLibp2pNode(options.stack)
  const client = await createBareLibp2pNode(options.stack)
  try {
    await server.handle(ECHO_PROTOCOL, stream => {
      stream.addEventListener('message', evt => { stream.send(evt.data) })
    })
    const stream = await client.dialProtocol(server.getMultiaddrs()[0]!, ECHO_PROTOCOL)
    let received = 0
    let wake: (() => void) | null = null
    stream.addEventListener('message', evt => {
      received += evt.data.byteLength
      if (received >= payloadBytes && wake !== null) { const w = wake; wake = null; w() }
    })
    const payload = new Uint8Array(payloadBytes).fill(0x61)
    const samples: number[] = []
    for (let i = 0; i < warmup + pings; i++) {
      received = 0
      const echoed = new Promise<void>(resolve => { wake = resolve })
      const t0 = process.hrtime.bigint()
      stream.send(payload)
      await Promise.race([echoed, new Promise((_, reject) => setTimeout(() => reject(new Error(`ping ${i} got no echo in 5 s`)), 5000).unref())])
      const us = Number(process.hrtime.bigint() - t0) / 1000
      if (i >= warmup) samples.push(us)
    }
    samples.sort((a, b) => a - b)
    return {
      pings, payloadBytes,
      p50Us: percentile(samples, 0.5),
      p99Us: percentile(samples, 0.99),
      meanUs: samples.reduce((s, x) => s + x, 0) / samples.length,
      maxUs: samples[samples.length - 1]!,
    }
  } finally {
    await client.stop()
    await server.stop()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      pings: { type: 'string', default: '2000' },
      bytes: { type: 'string', default: '64' },
      warmup: { type: 'string', default: '200' },
      stack: { type: 'string', default: 'tcp+noise+yamux' },
    },
  })
  const stack = parseStack(values.stack, '--stack')
  const r = await measureLibp2pEcho({ pings: Number(values.pings), payloadBytes: Number(values.bytes), warmup: Number(values.warmup), stack })
  const ms = (us: number): string => (us / 1000).toFixed(3)
  console.log(`libp2p echo (${stackName(stack)}, loopback, ${r.payloadBytes} B, ${r.pings} pings): ` +
    `p50 ${ms(r.p50Us)} ms  p99 ${ms(r.p99Us)} ms  mean ${ms(r.meanUs)} ms  max ${ms(r.maxUs)} ms`)
}
