/**
 * The simulator hands a trusted sender's message to the receiver instead of decoding the bytes it just encoded
 * (net/sim/network.ts). That is only sound if every codec is lossless: decode(encode(m)) deep-equals m, for every
 * message type of every registered protocol and for client requests and replies. These properties check it on the
 * messages protocols really send, over seeds, cluster sizes and random faults drawn by fast-check (with Byzantine
 * replicas where the protocol has them, whose frames the simulator always decodes), and check that handing messages
 * over changes nothing: the same seed gives the same trace and history as decoding every frame.
 */
import { isDeepStrictEqual } from 'node:util'
import { fc, test } from '@fast-check/vitest'
import { describe, expect, it } from 'vitest'
import { decodeReply, decodeRequest, encodeReply, encodeRequest } from '../../core/codec/client-messages.ts'
import { toJsonLines } from '../../core/history.ts'
import type { AnyProtocol } from '../../core/protocol.ts'
import type { ClientReply, ClientRequest } from '../../core/types.ts'
import type { OutboundFrame } from '../../core/transport.ts'
import { runSimulation } from '../../net/sim/run.ts'
import { protocols } from '../../protocols/index.ts'

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex')

/**
 * `expect(actual).toEqual(expected)`, taken only when a cheap strict comparison finds a difference (then the matcher
 * decides, with its diff): the property runs check every frame of whole runs, and the matcher's own cost dominated.
 */
function expectEqual(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual, what).toEqual(expected)
}

/** The same bytes (as hex on a mismatch, for a readable failure). */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (Buffer.compare(actual, expected) !== 0) expect(hex(actual), what).toBe(hex(expected))
}

/** Checks one frame: the bytes decode to a deep copy of the message, and re-encode to the same bytes. */
function checkFrame(protocol: AnyProtocol, frame: OutboundFrame, seen: Set<string>): void {
  expect(frame.message, `${frame.channel}/${frame.type}: a host sends the message with its bytes`).toBeDefined()
  if (frame.channel === 'protocol') {
    const decoded: unknown = protocol.codec.decode(frame.bytes)
    expectEqual(decoded, frame.message, `${protocol.name} ${frame.type}`)
    const type = protocol.codec.typeName(decoded)
    if (type !== frame.type) expect(type, `${protocol.name} ${frame.type}`).toBe(frame.type)
    expectSameBytes(protocol.codec.encode(decoded), frame.bytes, `${protocol.name} ${frame.type} re-encoded`)
  } else if (frame.channel === 'request') {
    const decoded = decodeRequest(frame.bytes)
    expectEqual(decoded, frame.message, 'ClientRequest')
    expectSameBytes(encodeRequest(decoded), frame.bytes, 'ClientRequest re-encoded')
    expectSameBytes(encodeRequest(frame.message as ClientRequest), frame.bytes, 'ClientRequest encoded')
  } else {
    const decoded = decodeReply(frame.bytes)
    expectEqual(decoded, frame.message, 'ClientReply')
    expectSameBytes(encodeReply(decoded), frame.bytes, 'ClientReply re-encoded')
    expectSameBytes(encodeReply(frame.message as ClientReply), frame.bytes, 'ClientReply encoded')
  }
  seen.add(`${frame.channel}/${frame.type}`)
}

/** Frequent snapshots (compaction, snapshot transfer) where the host chooses; protocols that fix it keep theirs. */
function snapshots(protocol: AnyProtocol): { snapshotInterval?: number } {
  return protocol.requiredSnapshotInterval === undefined ? { snapshotInterval: 16 } : {}
}

function sizesOf(protocol: AnyProtocol): number[] {
  if (protocol.name === 'unreplicated') return [1]
  return [1, 2].map(f => protocol.replicasFor(f))
}

describe('codecs are lossless on every message the simulator carries', () => {
  for (const protocol of protocols.values()) {
    const seen = new Set<string>()
    const sizes = sizesOf(protocol)
    const strategies = protocol.adversary?.strategies ?? []
    test.prop([
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.constantFrom(...sizes),
      fc.constantFrom('random', 'nemesis'),
      fc.option(fc.constantFrom(...(strategies.length > 0 ? strategies : ['none'])), { nil: undefined }),
    ], { numRuns: 6 })(`${protocol.name}: decode(encode(m)) deep-equals m for every frame of a seeded run`, (seed, n, faults, strategy) => {
      const byzantine = strategy !== undefined && strategy !== 'none' && protocol.faultsTolerated(n) > 0 ? [strategy] : undefined
      runSimulation({
        protocol, n, seed, ops: 60, clients: 3, faults, faultWindowMs: 1500, ...snapshots(protocol),
        ...(byzantine !== undefined ? { byzantine } : {}),
        onCluster: cluster => {
          cluster.network.observer = {
            sent: (_time, _from, _to, frame) => { checkFrame(protocol, frame, seen); return -1 },
            fate: () => {},
          }
        },
      })
    })

    it(`${protocol.name}: the runs above sent every message type of the steady state, requests and replies`, () => {
      for (const type of Object.keys(protocol.theoreticalMessages(sizes[0]!))) expect(seen, type).toContain(`protocol/${type}`)
      expect(seen).toContain('request/ClientRequest')
      expect(seen).toContain('reply/ClientReply')
    })
  }
})

describe('handing messages over changes nothing', () => {
  for (const protocol of protocols.values()) {
    it(`${protocol.name}: same seed, same trace and history whether frames are handed over or decoded`, () => {
      const n = sizesOf(protocol)[0]!
      const byzantine = protocol.adversary !== undefined ? { byzantine: [protocol.adversary.strategies[0]!] } : {}
      const options = { protocol, n, seed: 7, ops: 150, clients: 4, faults: 'nemesis', faultWindowMs: 2000, ...snapshots(protocol), ...byzantine }
      const handed = runSimulation(options)
      const decoded = runSimulation({ ...options, decodeEveryFrame: true })
      expect(handed.traceEvents).toBeGreaterThan(0)
      expect(handed.traceHash).toBe(decoded.traceHash)
      expect(toJsonLines(handed.history)).toBe(toJsonLines(decoded.history))
      expect(handed.protocolMessages).toEqual(decoded.protocolMessages)
    })
  }
})
