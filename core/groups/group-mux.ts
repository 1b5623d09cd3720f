/**
 * One node's (or client's) connection to its peers, shared by every consensus group it takes part in. Each group gets
 * a Transport of its own (`transportFor`), so a ReplicaHost or ClientHost runs on it unchanged; underneath, frames
 * carry their group (group-frames.ts) and frames for one peer on one channel queued in the same turn leave as one wire
 * frame: the heartbeats of every group led here reach a follower as one message (coalesced heartbeats, as
 * CockroachDB's), and under load many groups' AppendEntries share the per-message cost.
 *
 * Counting: each group's transport counts its protocol messages by type at `send`, as any transport does, so message
 * complexity per group means what it always meant; the underlying transport counts the wire frames (type
 * 'GroupFrames'). The difference is the saving coalescing buys.
 */
import { CodecError } from '../errors.ts'
import { MessageStats } from '../message-stats.ts'
import type { FrameHandler, InboundFrame, OutboundFrame, Transport } from '../transport.ts'
import type { Channel, NodeId } from '../types.ts'
import { decodeGroupFrames, encodeGroupFrames, GROUP_FRAMES_TYPE, groupedFrameBytes, type GroupedFrame } from './group-frames.ts'
import type { GroupId } from './range-map.ts'

export interface GroupMuxOptions {
  /** The node's one transport (simulated endpoint or libp2p). */
  readonly transport: Transport
  /**
   * Runs `fn` at the end of the current turn (after every event due now: the simulator's setTimer(0), setImmediate
   * live), when queued frames are flushed.
   */
  readonly endOfTurn: (fn: () => void) => void
  /** Coalesce frames per peer and turn (default true); false sends each frame as its own wire frame, for comparison. */
  readonly coalesce?: boolean
  /** Largest wire frame to build (default 1 MiB; a single larger inner frame still goes alone). */
  readonly maxBatchBytes?: number
  /** A frame for a group this node does not host, or a malformed batch: refused and reported. */
  readonly onReject?: (from: NodeId, reason: string) => void
  /**
   * Told of every wire frame sent or received with how many group frames it carries (the simulator's CPU model
   * charges the protocol work of each inner frame beyond the first; the wire frame's own cost it charges as usual).
   */
  readonly onWireFrame?: (direction: 'send' | 'receive', frames: number) => void
  /** The clock `lastHeardFrom` reads (default: none kept). */
  readonly now?: () => number
}

interface GroupEndpoint {
  readonly transport: Transport
  handler: FrameHandler | null
}

const CHANNELS: readonly Channel[] = ['protocol', 'request', 'reply']

export class GroupMux {
  private readonly o: GroupMuxOptions
  private readonly groups = new Map<GroupId, GroupEndpoint>()
  /** Frames queued this turn: by peer, then channel. */
  private readonly queued = new Map<NodeId, Map<Channel, GroupedFrame[]>>()
  private flushScheduled = false
  private readonly coalesce: boolean
  private readonly maxBatchBytes: number
  /** When a wire frame last arrived from each peer (with `now`). */
  private readonly heard = new Map<NodeId, number>()
  /** Inner frames sent, and wire frames they went out in. */
  framesSent = 0
  wireFramesSent = 0

  constructor(options: GroupMuxOptions) {
    this.o = options
    this.coalesce = options.coalesce ?? true
    this.maxBatchBytes = options.maxBatchBytes ?? 1 << 20
    options.transport.onFrame((from, frame) => this.onWireFrame(from, frame))
  }

  /** The transport of group `group` on this node (the same one every time). */
  transportFor(group: GroupId): Transport {
    const existing = this.groups.get(group)
    if (existing !== undefined) return existing.transport
    const stats = new MessageStats()
    const endpoint: GroupEndpoint = {
      handler: null,
      transport: {
        id: this.o.transport.id,
        stats,
        send: (to, frame) => {
          stats.record(frame.channel, frame.type, frame.bytes.length)
          this.enqueue(to, group, frame)
        },
        onFrame: handler => { endpoint.handler = handler },
      },
    }
    this.groups.set(group, endpoint)
    return endpoint.transport
  }

  /** Stop delivering to group `group` (its replica stopped); frames for it are then refused as unknown. */
  remove(group: GroupId): void {
    this.groups.delete(group)
  }

  /** When anything last arrived from `peer` (runtime ms), or null if nothing has (or no clock was given). */
  lastHeardFrom(peer: NodeId): number | null {
    return this.heard.get(peer) ?? null
  }

  /** Every group's protocol-level counters, merged. */
  groupStats(): MessageStats {
    const total = new MessageStats()
    for (const g of this.groups.values()) total.merge(g.transport.stats)
    return total
  }

  private enqueue(to: NodeId, group: GroupId, frame: OutboundFrame): void {
    const inner: GroupedFrame = { group, bytes: frame.bytes, message: frame.message, type: frame.type }
    this.framesSent++
    if (!this.coalesce) { this.sendWire(to, frame.channel, [inner]); return }
    let byChannel = this.queued.get(to)
    if (byChannel === undefined) { byChannel = new Map(); this.queued.set(to, byChannel) }
    const list = byChannel.get(frame.channel)
    if (list === undefined) byChannel.set(frame.channel, [inner])
    else list.push(inner)
    if (!this.flushScheduled) {
      this.flushScheduled = true
      this.o.endOfTurn(() => this.flush())
    }
  }

  /** Send everything queued this turn: one wire frame per peer and channel (split only at the size limit). */
  flush(): void {
    this.flushScheduled = false
    if (this.queued.size === 0) return
    const queued = [...this.queued]
    this.queued.clear()
    for (const [to, byChannel] of queued) {
      for (const channel of CHANNELS) {
        const frames = byChannel.get(channel)
        if (frames === undefined) continue
        let batch: GroupedFrame[] = []
        let bytes = 0
        for (const f of frames) {
          const size = groupedFrameBytes(f)
          if (batch.length > 0 && bytes + size > this.maxBatchBytes) { this.sendWire(to, channel, batch); batch = []; bytes = 0 }
          batch.push(f)
          bytes += size
        }
        this.sendWire(to, channel, batch)
      }
    }
  }

  private sendWire(to: NodeId, channel: Channel, frames: readonly GroupedFrame[]): void {
    this.wireFramesSent++
    this.o.onWireFrame?.('send', frames.length)
    this.o.transport.send(to, { channel, type: GROUP_FRAMES_TYPE, bytes: encodeGroupFrames(frames), message: frames })
  }

  private onWireFrame(from: NodeId, frame: InboundFrame): void {
    if (this.o.now !== undefined) this.heard.set(from, this.o.now())
    let frames: readonly GroupedFrame[]
    try {
      frames = (frame.message as readonly GroupedFrame[] | undefined) ?? decodeGroupFrames(frame.bytes)
    } catch (e) {
      if (!(e instanceof CodecError)) throw e
      this.o.onReject?.(from, e.message)
      return
    }
    this.o.onWireFrame?.('receive', frames.length)
    for (const f of frames) {
      const endpoint = this.groups.get(f.group)
      if (endpoint?.handler == null) {
        this.o.onReject?.(from, `${frame.channel} frame for group ${f.group}, which is not hosted here`)
        continue
      }
      const inner: InboundFrame = f.message !== undefined ? { channel: frame.channel, bytes: f.bytes, message: f.message } : { channel: frame.channel, bytes: f.bytes }
      endpoint.handler(from, inner)
    }
  }
}

export function createGroupMux(options: GroupMuxOptions): GroupMux {
  return new GroupMux(options)
}
