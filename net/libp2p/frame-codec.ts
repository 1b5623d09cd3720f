/**
 * Frames on a consensus stream: `[uvarint length][channel u8][bytes]`, where `length` counts the channel byte and
 * the bytes. The message type name stays off the wire: the sender counts by type (Frame.type) at send(); the receiver
 * only needs the channel and the bytes, which the host decodes with the protocol's codec.
 *
 * The decoder is incremental (a frame may arrive split across many chunks, or many frames in one chunk) and never
 * throws for a bad frame whose extent is known: an oversized frame is skipped byte for byte without buffering it, a
 * frame with an unknown channel is skipped, and both are reported so the transport can count them. Only a broken
 * length prefix loses the frame boundaries; then `push` throws FramingError and the stream must be closed.
 *
 * Sending side: a FrameBatch encodes frames straight into one growing buffer, so the frames queued for a peer in one
 * turn leave as one stream write (one Yamux frame and one Noise message for many consensus messages) and no frame
 * needs a buffer of its own. The wire format is the same whether frames are written one by one or coalesced.
 */
import type { Channel, OutboundFrame } from '../../core/transport.ts'

const CHANNELS: readonly Channel[] = ['protocol', 'request', 'reply']
const CHANNEL_CODE: Readonly<Record<Channel, number>> = { protocol: 0, request: 1, reply: 2 }
/** A length prefix longer than this many bytes cannot be a frame length we accept (2^35 > any limit). */
const MAX_VARINT_BYTES = 5

/** The stream's framing is lost: nothing after this point can be trusted, so the stream must be closed. */
export class FramingError extends Error {
  override readonly name = 'FramingError'
}

export type FrameRejection = 'oversized' | 'malformed'

function varintLength(value: number): number {
  let n = 1
  while (value >= 0x80) { value = Math.floor(value / 0x80); n++ }
  return n
}

/** Bytes a frame takes on the wire (prefix, channel byte, payload). */
export function encodedFrameLength(frame: OutboundFrame): number {
  const length = 1 + frame.bytes.length
  return varintLength(length) + length
}

function checkFrameSize(frame: OutboundFrame, maxFrameBytes: number): void {
  const length = 1 + frame.bytes.length
  if (length > maxFrameBytes) {
    throw new RangeError(`${frame.channel}/${frame.type} frame of ${length} bytes exceeds the ${maxFrameBytes}-byte limit`)
  }
}

/** Write `frame` at `pos` of `out` (which has room); returns the position after it. */
function writeFrame(out: Uint8Array, pos: number, frame: OutboundFrame): number {
  let value = 1 + frame.bytes.length
  while (value >= 0x80) { out[pos++] = (value % 0x80) | 0x80; value = Math.floor(value / 0x80) }
  out[pos++] = value
  out[pos++] = CHANNEL_CODE[frame.channel]
  out.set(frame.bytes, pos)
  return pos + frame.bytes.length
}

/** Encode a frame for the wire. Throws RangeError for a frame over `maxFrameBytes` (the sender's own bug). */
export function encodeFrame(frame: OutboundFrame, maxFrameBytes: number): Uint8Array {
  checkFrameSize(frame, maxFrameBytes)
  const out = new Uint8Array(encodedFrameLength(frame))
  writeFrame(out, 0, frame)
  return out
}

/** The smallest buffer a batch starts with. */
const MIN_BATCH_BYTES = 4096

/**
 * Frames waiting for one stream write, encoded back to back. `take()` hands the bytes over (the stream may keep them
 * until they are on the socket), so a batch never writes into a buffer it gave away; the next batch starts with room
 * for as much as the last one held, so steady traffic costs one allocation per write, not per frame.
 */
export class FrameBatch {
  private readonly maxFrameBytes: number
  private buf: Uint8Array | null = null
  private len = 0
  private frameCount = 0
  private sizeHint = MIN_BATCH_BYTES

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes
  }

  /** Encoded bytes waiting. */
  get bytes(): number {
    return this.len
  }

  /** Frames waiting. */
  get frames(): number {
    return this.frameCount
  }

  /** Encode `frame` at the end; returns its encoded length. Throws RangeError for a frame over the limit. */
  append(frame: OutboundFrame): number {
    checkFrameSize(frame, this.maxFrameBytes)
    const need = encodedFrameLength(frame)
    let buf = this.buf
    if (buf === null || this.len + need > buf.length) {
      const next = new Uint8Array(Math.max(this.sizeHint, this.len + need, buf === null ? 0 : 2 * buf.length))
      if (buf !== null) next.set(buf.subarray(0, this.len))
      this.buf = buf = next
    }
    this.len = writeFrame(buf, this.len, frame)
    this.frameCount++
    return need
  }

  /** Everything appended since the last take, as one buffer; the batch is empty afterwards. */
  take(): Uint8Array {
    const out = this.buf === null ? new Uint8Array(0) : this.buf.subarray(0, this.len)
    this.sizeHint = Math.max(MIN_BATCH_BYTES, this.len)
    this.buf = null
    this.len = 0
    this.frameCount = 0
    return out
  }

  /** Forget what is waiting (the peer is blocked or the transport stopped); returns how many frames that was. */
  clear(): number {
    const n = this.frameCount
    this.buf = null
    this.len = 0
    this.frameCount = 0
    return n
  }
}

export interface DecodedFrame {
  readonly channel: Channel
  readonly bytes: Uint8Array
}

/** Called with each decoded frame: `bytes` is a view into the stream's buffer, never overwritten afterwards. */
export type DecodedFrameHandler = (channel: Channel, bytes: Uint8Array) => void

export class FrameDecoder {
  private readonly maxFrameBytes: number
  private readonly onFrame: DecodedFrameHandler
  private readonly onReject: (reason: FrameRejection, detail: string) => void
  /** Unparsed bytes: buf[start, end). */
  private buf: Uint8Array = new Uint8Array(0)
  private start = 0
  private end = 0
  /** buf is our own allocation (may be appended to in place), not a chunk handed to push(). */
  private owned = false
  /** Bytes of an oversized frame still to be thrown away. */
  private skipping = 0

  constructor(maxFrameBytes: number, onFrame: DecodedFrameHandler,
    onReject: (reason: FrameRejection, detail: string) => void) {
    this.maxFrameBytes = maxFrameBytes
    this.onFrame = onFrame
    this.onReject = onReject
  }

  /** Bytes held waiting for the rest of a frame (bounded by maxFrameBytes plus the prefix). */
  get buffered(): number {
    return this.end - this.start
  }

  push(chunk: Uint8Array): void {
    let data = chunk
    if (this.skipping > 0) {
      const skip = Math.min(this.skipping, data.length)
      this.skipping -= skip
      data = data.subarray(skip)
      if (data.length === 0) return
    }
    this.append(data)
    this.parse()
  }

  private append(data: Uint8Array): void {
    if (this.start === this.end) {
      // Common case: nothing pending, parse straight from the chunk without copying.
      this.buf = data
      this.owned = false
      this.start = 0
      this.end = data.length
      return
    }
    if (this.owned && this.end + data.length <= this.buf.length) {
      // Room after the pending bytes. Delivered frames lie before `start` and are never written over.
      this.buf.set(data, this.end)
      this.end += data.length
      return
    }
    // Grow geometrically so a large frame arriving in many small chunks costs linear, not quadratic, copying.
    const pending = this.end - this.start
    const next = new Uint8Array(Math.max(pending + data.length, 2 * pending, 4096))
    next.set(this.buf.subarray(this.start, this.end))
    next.set(data, pending)
    this.buf = next
    this.owned = true
    this.start = 0
    this.end = pending + data.length
  }

  private parse(): void {
    for (;;) {
      // Length prefix.
      let length = 0
      let scale = 1
      let pos = this.start
      let complete = false
      while (pos < this.end) {
        const b = this.buf[pos++]!
        length += (b & 0x7f) * scale
        if (b < 0x80) { complete = true; break }
        scale *= 0x80
        if (pos - this.start >= MAX_VARINT_BYTES) throw new FramingError(`frame length prefix longer than ${MAX_VARINT_BYTES} bytes`)
      }
      if (!complete) return this.keepTail()
      if (length === 0) {
        this.onReject('malformed', 'empty frame (no channel byte)')
        this.start = pos
        continue
      }
      if (length > this.maxFrameBytes) {
        this.onReject('oversized', `frame of ${length} bytes exceeds the ${this.maxFrameBytes}-byte limit`)
        const available = this.end - pos
        if (available >= length) { this.start = pos + length; continue }
        this.skipping = length - available
        this.start = this.end
        return this.keepTail()
      }
      if (this.end - pos < length) return this.keepTail()
      const code = this.buf[pos]!
      const channel = CHANNELS[code]
      const bytes = this.buf.subarray(pos + 1, pos + length)
      this.start = pos + length
      if (channel === undefined) this.onReject('malformed', `unknown channel ${code}`)
      else this.onFrame(channel, bytes)
    }
  }

  /** Wait for more bytes; drop the reference to a fully parsed chunk. */
  private keepTail(): void {
    if (this.start === this.end) { this.buf = new Uint8Array(0); this.owned = false; this.start = this.end = 0 }
  }
}
