/**
 * Message and byte counters by channel and message type, kept at the transport's send point (see transport.ts).
 */
import type { Channel } from './transport.ts'

export interface TypeCount {
  messages: number
  bytes: number
}

export class MessageStats {
  /** key: `${channel}/${type}` */
  private readonly counts = new Map<string, TypeCount>()
  dropped = 0

  record(channel: Channel, type: string, bytes: number): void {
    const key = channel + '/' + type
    const c = this.counts.get(key)
    if (c === undefined) this.counts.set(key, { messages: 1, bytes })
    else { c.messages++; c.bytes += bytes }
  }

  /** Counts for one channel, by type, sorted by type name. */
  byType(channel: Channel): Map<string, TypeCount> {
    const out = new Map<string, TypeCount>()
    const prefix = channel + '/'
    for (const key of [...this.counts.keys()].sort()) {
      if (key.startsWith(prefix)) out.set(key.slice(prefix.length), { ...this.counts.get(key)! })
    }
    return out
  }

  total(channel: Channel): TypeCount {
    let messages = 0
    let bytes = 0
    for (const c of this.byType(channel).values()) { messages += c.messages; bytes += c.bytes }
    return { messages, bytes }
  }

  /** Add another counter's figures into this one (cluster totals). */
  merge(other: MessageStats): void {
    for (const [key, c] of other.counts) {
      const mine = this.counts.get(key)
      if (mine === undefined) this.counts.set(key, { ...c })
      else { mine.messages += c.messages; mine.bytes += c.bytes }
    }
    this.dropped += other.dropped
  }

  snapshot(): Record<string, TypeCount> {
    const out: Record<string, TypeCount> = {}
    for (const key of [...this.counts.keys()].sort()) out[key] = { ...this.counts.get(key)! }
    return out
  }

  reset(): void {
    this.counts.clear()
    this.dropped = 0
  }
}
