/**
 * Yamux window updates at half the window, as hashicorp/yamux, go-yamux and rust-yamux send them, instead of after
 * every data frame. js-libp2p-yamux (8.x) answers each data frame it receives with a WINDOW_UPDATE frame for the
 * bytes just consumed, so every consensus message crossed the wire twice: the message, then a 12-byte update (plus
 * Noise's length and tag) the other way, each a socket write and a read, a decryption and a frame parse on the
 * other side. With the threshold a stream sends an update once it has consumed half of its receive window (128 KiB of
 * the default 256 KiB): the sender never runs out of window, and small messages cost one frame.
 *
 * The muxer factory is wrapped (not the package patched): each stream the muxer creates gets a `sendWindowUpdate` that
 * skips the update while the stream is established and more than half of its window is still open; stream opening
 * (SYN/ACK flags), a resume after a pause and every other state go through the original unchanged.
 */
import type { StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'

/** js-libp2p-yamux's StreamState.Established (src/stream.ts); the test of this file fails if it moves. */
const ESTABLISHED = 3

/** The fields of a yamux stream the threshold reads (plain properties in js-libp2p-yamux 8). */
interface YamuxStreamFields {
  state: number
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate(): void
}

interface YamuxMuxerInternals {
  _newStream(...args: unknown[]): YamuxStreamFields
}

/** Wrap yamux() so that the streams of every muxer it makes send window updates at half the window. */
export function halfWindowUpdates<C>(factory: (components: C) => StreamMuxerFactory): (components: C) => StreamMuxerFactory {
  return components => {
    const inner = factory(components)
    return {
      protocol: inner.protocol,
      createStreamMuxer: connection => {
        const muxer = inner.createStreamMuxer(connection)
        const internals = muxer as StreamMuxer & Partial<YamuxMuxerInternals>
        const newStream = internals._newStream
        if (typeof newStream !== 'function') return muxer
        internals._newStream = function (this: unknown, ...args: unknown[]) {
          return withThreshold(newStream.apply(this, args))
        }
        return muxer
      },
    }
  }
}

function withThreshold(stream: YamuxStreamFields): YamuxStreamFields {
  const send = stream.sendWindowUpdate
  stream.sendWindowUpdate = function (this: YamuxStreamFields) {
    if (this.state === ESTABLISHED && this.recvWindowCapacity * 2 > this.recvWindow) return
    send.call(this)
  }
  return stream
}
