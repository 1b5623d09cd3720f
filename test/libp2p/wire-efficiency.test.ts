/**
 * What a consensus message costs on the wire (net/libp2p/coalesced-writes.ts, yamux-window-updates.ts): one socket
 * write per frame sent, none back (js-libp2p-yamux would answer every data frame with a window update, and Noise's
 * frames went out as two writes, so a frame used to cost four writes in all), while large transfers still get the
 * window updates they need, on every stack built from stack.ts.
 */
import { createHash } from 'node:crypto'
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createLibp2pTransport, type Libp2pTransport } from '../../net/libp2p/libp2p-transport.ts'
import { parseStack, type Libp2pStack } from '../../net/libp2p/stack.ts'
import { sleep, testMembers, waitFor } from './helpers.ts'

const running: Libp2pTransport[] = []
afterEach(async () => { await Promise.all(running.splice(0).map(t => t.stop())) })

async function pair(stack?: Libp2pStack) {
  const members = await testMembers(2, 0, 'wire-efficiency', stack)
  const [a, b] = await Promise.all(members.map(m => createLibp2pTransport({
    id: m.id, privateKey: m.privateKey, peers: members.map(x => x.address), maxFrameBytes: 8 * 1024 * 1024, ...(stack !== undefined ? { stack } : {}),
  })))
  running.push(a!, b!)
  const received: Uint8Array[] = []
  b!.onFrame((_from, frame) => { received.push(frame.bytes) })
  return { a: a!, b: b!, received }
}

/** Count socket writes (every TCP connection in this process) while `fn` runs. */
async function countingWrites(fn: () => Promise<void>): Promise<number> {
  const write = net.Socket.prototype.write
  let writes = 0
  net.Socket.prototype.write = function (this: net.Socket, ...args: Parameters<net.Socket['write']>) {
    writes++
    return write.apply(this, args)
  } as net.Socket['write']
  try {
    await fn()
  } finally {
    net.Socket.prototype.write = write
  }
  return writes
}

const frame = (bytes: Uint8Array) => ({ channel: 'protocol' as const, type: 'Test', bytes })

describe('the wire cost of a frame', () => {
  for (const name of ['tcp+noise+yamux']) {
    it(`${name}: one socket write per frame, and no window update coming back`, async () => {
      const { a, received } = await pair(parseStack(name))
      a.send(1, frame(new Uint8Array(10)))
      await waitFor(() => received.length === 1, 'the connection and a first frame', 20_000)
      await sleep(50)
      const FRAMES = 200
      const writes = await countingWrites(async () => {
        for (let i = 0; i < FRAMES; i++) {
          a.send(1, frame(new Uint8Array(10)))
          // One frame per event-loop turn and delivered before the next, so nothing is coalesced by the transport.
          const want = i + 2
          await waitFor(() => received.length === want, `frame ${i}`, 10_000)
        }
      })
      // Before: 4 writes per frame (length prefix, ciphertext, and the same two for the window update back).
      expect(writes / FRAMES).toBeLessThanOrEqual(1.05)
    }, 60_000)
  }

  it('large frames still arrive whole: each crosses many windows, granted at half, so the sender never stalls', async () => {
    const { a, received } = await pair()
    const sent: string[] = []
    for (let i = 0; i < 8; i++) {
      // 3 MiB: twelve of yamux's default 256 KiB windows in one frame (one at a time, within the send queue's bound).
      const bytes = new Uint8Array(3 * 1024 * 1024 + i).map((_, j) => (j * 31 + i) & 0xff)
      sent.push(createHash('sha256').update(bytes).digest('hex'))
      a.send(1, frame(bytes))
      await waitFor(() => received.length === i + 1, `3 MiB frame ${i}`, 30_000)
    }
    expect(received.map(b => createHash('sha256').update(b).digest('hex'))).toEqual(sent)
  }, 120_000)
})
