/**
 * The network seam between a host and the world. The simulator and libp2p implement it; a host never knows which.
 *
 * Frames are opaque bytes tagged with a channel, so the transport can count every message by channel and type at the
 * one place both implementations share: `send`. Message complexity therefore means the same thing in every mode.
 */
import type { NodeId } from '../core/types.ts'
import type { MessageStats } from './stats.ts'

/** Replica-to-replica protocol messages, client requests, and replies to clients. */
export type Channel = 'protocol' | 'request' | 'reply'

export interface Frame {
  readonly channel: Channel
  /** Message type name for counting (e.g. 'AppendEntries', 'ClientRequest'). */
  readonly type: string
  readonly bytes: Uint8Array
}

export type FrameHandler = (from: NodeId, frame: Frame) => void

export interface Transport {
  readonly id: NodeId
  /**
   * Queue a frame for `to`. Returns false when the link is congested (the frame is still accepted up to the link's
   * bound; beyond it frames are dropped and counted, as a lossy network would). Never throws for an unknown or
   * unreachable peer: consensus protocols tolerate loss and retry.
   */
  send(to: NodeId, frame: Frame): boolean
  /** The single receiver of frames addressed to this node. `from` is the authenticated sender. */
  onFrame(handler: FrameHandler): void
  readonly stats: MessageStats
}
