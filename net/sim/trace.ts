/**
 * A running fingerprint of every network event (time, endpoints, type, bytes, fate). Two runs with the same seed and
 * configuration must end with the same fingerprint: that is the simulator's determinism guarantee, checked in tests.
 */
import type { NodeId } from '../../core/types.ts'
import type { OutboundFrame } from '../../core/transport.ts'
import type { DeliveryTrace } from './network.ts'

export class TraceHash {
  private h1 = 0x811c9dc5
  private h2 = 0x01000193
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
    // The bytes are most of the work (PBFT view changes carry hundreds of kilobytes): the same mixing as mix(), with
    // the state in locals rather than written back to the object once per byte.
    let h1 = this.h1
    let h2 = this.h2
    for (let i = 0; i < b.length; i++) {
      const v = b[i]!
      h1 = Math.imul(h1 ^ v, 0x01000193) >>> 0
      h2 = Math.imul(h2 ^ (v + 0x9e3779b9), 0x85ebca6b) >>> 0
    }
    this.h1 = h1
    this.h2 = h2
    if (this.lines !== null) {
      this.lines.push(`${time.toFixed(3)} ${from}->${to} ${frame.channel}/${frame.type} ${b.length}B ${delivered ? 'delivered' : 'lost'}`)
    }
  }

  private mix(v: number): void {
    this.h1 = Math.imul(this.h1 ^ v, 0x01000193) >>> 0
    this.h2 = Math.imul(this.h2 ^ (v + 0x9e3779b9), 0x85ebca6b) >>> 0
  }

  get hex(): string {
    return this.h1.toString(16).padStart(8, '0') + this.h2.toString(16).padStart(8, '0')
  }
}
