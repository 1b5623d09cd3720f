/**
 * Virtual time and the event queue. Events run in (time, insertion order), so two runs with the same seed and the
 * same inputs execute the same events in the same order: the basis of byte-for-byte replay.
 */
import type { HostRuntime } from '../../core/runtime.ts'

interface SimEvent {
  time: number
  order: number
  fn: (() => void) | null // null once cancelled
}

/** A binary min-heap on (time, order). Hand-rolled because it sits on the simulator's hottest path. */
class EventHeap {
  private items: SimEvent[] = []

  get size(): number {
    return this.items.length
  }

  push(e: SimEvent): void {
    const a = this.items
    a.push(e)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(e, a[p]!)) break
      a[i] = a[p]!
      i = p
    }
    a[i] = e
  }

  peek(): SimEvent | undefined {
    return this.items[0]
  }

  pop(): SimEvent | undefined {
    const a = this.items
    const top = a[0]
    const last = a.pop()
    if (a.length > 0 && last !== undefined) {
      let i = 0
      const n = a.length
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && before(a[r]!, a[l]!) ? r : l
        if (!before(a[c]!, last)) break
        a[i] = a[c]!
        i = c
      }
      a[i] = last
    }
    return top
  }
}

function before(x: SimEvent, y: SimEvent): boolean {
  return x.time < y.time || (x.time === y.time && x.order < y.order)
}

export class Simulator implements HostRuntime {
  private readonly heap = new EventHeap()
  private clock = 0
  private nextOrder = 0
  /** Events executed so far (the bench reports deliveries per wall-clock second from the network's own count). */
  eventsRun = 0

  now(): number {
    return this.clock
  }

  /** Run `fn` at now + delay. Returns a cancel function. */
  setTimer(delayMs: number, fn: () => void): () => void {
    return this.at(this.clock + Math.max(0, delayMs), fn)
  }

  at(time: number, fn: () => void): () => void {
    const e: SimEvent = { time: Math.max(time, this.clock), order: this.nextOrder++, fn }
    this.heap.push(e)
    return () => { e.fn = null }
  }

  /** Run events until virtual time `until` (inclusive) or until `stop()` returns true after an event. */
  run(until: number, stop?: () => boolean): void {
    for (;;) {
      const e = this.heap.peek()
      if (e === undefined || e.time > until) break
      this.heap.pop()
      if (e.fn === null) continue
      this.clock = e.time
      const fn = e.fn
      e.fn = null
      this.eventsRun++
      fn()
      if (stop !== undefined && stop()) return
    }
    if (this.clock < until && (stop === undefined || !stop())) this.clock = until
  }

  /** Run until `done()` holds, checking after every event; false if `limitMs` of virtual time passed first. */
  runUntil(done: () => boolean, limitMs: number): boolean {
    if (done()) return true
    const until = this.clock + limitMs
    this.run(until, done)
    return done()
  }

  get pending(): number {
    return this.heap.size
  }
}
