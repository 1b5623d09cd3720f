/**
 * A running fingerprint of every network event (time, endpoints, type, bytes, fate). Two runs with the same seed and
 * configuration must end with the same fingerprint: that is the simulator's determinism guarantee, checked in tests.
 */
import type { NodeId } from '../../core/types.ts'
import type { OutboundFrame } from '../../core/transport.ts'
import type { DeliveryTrace } from './network.ts'

/** Frames at least this long are digested once however many receivers they reach. */
const SHARED_FRAME_BYTES = 1024

export class TraceHash {
  private h1 = 0x811c9dc5
  private h2 = 0x01000193
  /** Digests of the large frames seen, by their byte array (weak: a frame's bytes are shared, never rewritten). */
  private readonly digests = new WeakMap<Uint8Array, [number, number]>()
  events = 0
  /** When set, every event is also kept as a text line (for diffing two runs). */
  lines: string[] | null = null

  readonly record: DeliveryTrace = (time: number, from: NodeId, to: NodeId, frame: OutboundFrame, delivered: boolean) => {
    this.events++
    this.mix(Math.round(time * 1000))
    this.mix(from)
    this.mix(to)
    this.mix(delivered ? 1 : 0)
    for (let i = 0; i < frame.type.length; i++) this.mix(frame.type.charCodeAt(i))
    const b = frame.bytes
    if (b.length < SHARED_FRAME_BYTES) {
      // Small frames (votes, most of the traffic) are mixed in byte by byte: cheaper than any lookup.
      this.mixBytes(b)
    } else {
      // Large frames (PBFT view changes carry tens to hundreds of kilobytes) go out as one byte array to every peer of
      // a broadcast: their bytes are digested once and each event mixes in the digest.
      let digest = this.digests.get(b)
      if (digest === undefined) {
        digest = TraceHash.digestOf(b)
        this.digests.set(b, digest)
      }
      this.mix(b.length)
      this.mix(digest[0]!)
      this.mix(digest[1]!)
    }
    if (this.lines !== null) {
      this.lines.push(`${time.toFixed(3)} ${from}->${to} ${frame.channel}/${frame.type} ${b.length}B ${delivered ? 'delivered' : 'lost'}`)
    }
  }

  /** Two 32-bit words of a byte array's digest: the trace's own mixing, from a fresh state. */
  private static digestOf(b: Uint8Array): [number, number] {
    const t = new TraceHash()
    t.mixBytes(b)
    return [t.h1, t.h2]
  }

  /** The same mixing as mix(), once per byte, with the state in locals rather than written back per byte. */
  private mixBytes(b: Uint8Array): void {
    let h1 = this.h1
    let h2 = this.h2
    for (let i = 0; i < b.length; i++) {
      const v = b[i]!
      h1 = Math.imul(h1 ^ v, 0x01000193) >>> 0
      h2 = Math.imul(h2 ^ (v + 0x9e3779b9), 0x85ebca6b) >>> 0
    }
    this.h1 = h1
    this.h2 = h2
  }

  private mix(v: number): void {
    this.h1 = Math.imul(this.h1 ^ v, 0x01000193) >>> 0
    this.h2 = Math.imul(this.h2 ^ (v + 0x9e3779b9), 0x85ebca6b) >>> 0
  }

  get hex(): string {
    return this.h1.toString(16).padStart(8, '0') + this.h2.toString(16).padStart(8, '0')
  }
}
