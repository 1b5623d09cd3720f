/**
 * The network seam between a host and the world. The simulator and libp2p implement it; a host never knows which.
 *
 * Frames are opaque bytes tagged with a channel, so the transport can count every message by channel and type at the
 * one place both implementations share: `send`. Message complexity therefore means the same thing in every mode.
 */
import type { MessageStats } from './message-stats.ts'
import type { Channel, NodeId } from './types.ts'

export type { Channel } from './types.ts'

/** A frame a host hands to `send`: the type name is known there (the sender encoded it) and is what gets counted. */
export interface OutboundFrame {
  readonly channel: Channel
  /** Message type name for counting (e.g. 'AppendEntries', 'ClientRequest'). */
  readonly type: string
  readonly bytes: Uint8Array
  /**
   * The message `bytes` encode (hosts always set it). Networks that cross a process boundary ignore it; the simulator
   * may hand it to the receiver in place of the bytes, for senders it trusts: every codec's round trip is
   * property-tested lossless (test/sim/codec-roundtrip.test.ts), so the receiver gets what decoding would give it.
   */
  readonly message?: unknown
}

/** A frame as it arrives: only the channel travels with the bytes; the receiver's codec finds the type. */
export interface InboundFrame {
  readonly channel: Channel
  readonly bytes: Uint8Array
  /** The decoded message, when the network handed it over (see OutboundFrame.message); else decode `bytes`. */
  readonly message?: unknown
}

export type FrameHandler = (from: NodeId, frame: InboundFrame) => void

export interface Transport {
  readonly id: NodeId
  /**
   * Queue a frame for `to`. Never throws for an unknown or unreachable peer, and never blocks: consensus protocols
   * tolerate loss and retransmit, so a link over its bound drops frames and counts them in `stats.dropped`, as a lossy
   * network would. (Congestion is deliberately not reported back to the host: a replica cannot act on it without
   * breaking determinism, and the protocol's own retransmission already covers what a full queue drops.)
   */
  send(to: NodeId, frame: OutboundFrame): void
  /** The single receiver of frames addressed to this node. `from` is the authenticated sender. */
  onFrame(handler: FrameHandler): void
  readonly stats: MessageStats
}
