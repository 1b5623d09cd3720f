/**
 * Message and byte counters by channel and message type, kept at the transport's send point (see transport.ts).
 */
import type { Channel } from './types.ts'

export interface TypeCount {
  messages: number
  bytes: number
}

export class MessageStats {
  /** key: `${channel}/${type}` */
  private readonly counts = new Map<string, TypeCount>()
  /** The same counters by channel, then type: `record` runs for every frame sent, so it avoids building the key. */
  private readonly byChannel = new Map<Channel, Map<string, TypeCount>>()
  dropped = 0

  record(channel: Channel, type: string, bytes: number): void {
    this.add(channel, type, 1, bytes)
  }

  private add(channel: Channel, type: string, messages: number, bytes: number): void {
    let types = this.byChannel.get(channel)
    if (types === undefined) { types = new Map(); this.byChannel.set(channel, types) }
    const c = types.get(type)
    if (c !== undefined) { c.messages += messages; c.bytes += bytes; return }
    const fresh = { messages, bytes }
    types.set(type, fresh)
    this.counts.set(channel + '/' + type, fresh)
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
    for (const [channel, types] of other.byChannel) {
      for (const [type, c] of types) this.add(channel, type, c.messages, c.bytes)
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
    this.byChannel.clear()
    this.dropped = 0
  }
}
