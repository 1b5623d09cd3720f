/**
 * Frames of many groups in one wire frame. A multi-group node sends every group's traffic over one connection per
 * peer; each inner frame carries its group, and frames queued for one peer in one turn travel together (CockroachDB
 * coalesces the heartbeats of its ranges the same way), so a node with 64 groups pays one message's overhead, not 64.
 *
 * Layout: `[uvarint count] count × ([uvarint group][uvarint length][bytes])`. The wire frame's channel is its inner
 * frames' channel (a batch never mixes channels), so the transport's rules per channel (clients send requests only)
 * hold for grouped traffic unchanged.
 */
import { BinaryReader, BinaryWriter } from '../codec/binary.ts'
import { CodecError } from '../errors.ts'
import { MAX_GROUPS, type GroupId } from './range-map.ts'

/** The message type the transport counts a wire frame of grouped frames as. */
export const GROUP_FRAMES_TYPE = 'GroupFrames'

export interface GroupedFrame {
  readonly group: GroupId
  readonly bytes: Uint8Array
  /** The decoded message, for networks that hand messages over (transport.ts OutboundFrame.message). */
  readonly message?: unknown
  /** Its message type, for counting at the group's own transport. */
  readonly type?: string
}

export function encodeGroupFrames(frames: readonly GroupedFrame[]): Uint8Array {
  let size = 5
  for (const f of frames) size += 8 + f.bytes.length
  const w = new BinaryWriter(size).uvarint(frames.length)
  for (const f of frames) w.uvarint(f.group).bytes(f.bytes)
  return w.finish()
}

export function decodeGroupFrames(bytes: Uint8Array): GroupedFrame[] {
  const r = new BinaryReader(bytes, GROUP_FRAMES_TYPE)
  const count = r.count()
  if (count === 0) throw new CodecError(`${GROUP_FRAMES_TYPE}: empty batch`)
  const out: GroupedFrame[] = []
  for (let i = 0; i < count; i++) {
    const group = r.uvarint()
    if (group >= MAX_GROUPS) throw new CodecError(`${GROUP_FRAMES_TYPE}: group ${group} out of range (at most ${MAX_GROUPS - 1})`)
    out.push({ group, bytes: r.bytes() })
  }
  r.end()
  return out
}

/** Bytes one inner frame adds to a batch (for splitting batches under a frame size limit). */
export function groupedFrameBytes(frame: GroupedFrame): number {
  return 3 + 5 + frame.bytes.length
}
