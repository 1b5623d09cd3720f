/**
 * Virtual time and the event queue. Events run in (time, insertion order), so two runs with the same seed and the
 * same inputs execute the same events in the same order: the basis of byte-for-byte replay.
 */
import type { HostRuntime } from '../../core/runtime.ts'

/** What an event runs: `fn(arg)` (a shared handler and its record, so a hot caller needs no closure per event). */
type EventFn = (arg: never) => void

/**
 * A binary min-heap on (time, order), hand-rolled because it sits on the simulator's hottest path. Events live in
 * slots (typed arrays for their time and order, parallel arrays for what they run) that are reused once run, and the
 * heap orders slot numbers: scheduling an event allocates nothing.
 */
class EventQueue {
  private heap = new Int32Array(1024)
  private count = 0
  private time = new Float64Array(1024)
  private order = new Float64Array(1024)
  private fn: (EventFn | null)[] = []
  private arg: unknown[] = []
  /** Slots not in use, as a stack. */
  private free = new Int32Array(1024)
  private freeCount = 0
  private slots = 0

  get size(): number {
    return this.count
  }

  /** Returns the event's slot; `order` (unique, increasing) tells a later cancel whether the slot still holds it. */
  push(time: number, order: number, fn: EventFn, arg: unknown): number {
    const slot = this.allocate()
    this.time[slot] = time
    this.order[slot] = order
    this.fn[slot] = fn
    this.arg[slot] = arg
    if (this.count === this.heap.length) this.heap = grown(this.heap)
    const heap = this.heap
    let i = this.count++
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.before(slot, heap[p]!)) break
      heap[i] = heap[p]!
      i = p
    }
    heap[i] = slot
    return slot
  }

  /** The slot of the earliest event, or -1. */
  peek(): number {
    return this.count === 0 ? -1 : this.heap[0]!
  }

  timeOf(slot: number): number {
    return this.time[slot]!
  }

  /** Cancel the event of `order` if `slot` still holds it (it may have run and the slot been reused since). */
  cancel(slot: number, order: number): void {
    if (this.order[slot] === order) {
      this.fn[slot] = null
      this.arg[slot] = undefined
    }
  }

  /** Remove the earliest event; returns its slot, whose fn and arg stay readable until the next push. */
  pop(): number {
    const heap = this.heap
    const top = heap[0]!
    const last = heap[--this.count]!
    const n = this.count
    if (n > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && this.before(heap[r]!, heap[l]!) ? r : l
        if (!this.before(heap[c]!, last)) break
        heap[i] = heap[c]!
        i = c
      }
      heap[i] = last
    }
    this.release(top)
    return top
  }

  fnOf(slot: number): EventFn | null {
    return this.fn[slot] ?? null
  }

  argOf(slot: number): unknown {
    return this.arg[slot]
  }

  clear(slot: number): void {
    this.fn[slot] = null
    this.arg[slot] = undefined
    // A run event can no longer be cancelled: its cancel function compares orders.
    this.order[slot] = -1
  }

  private before(a: number, b: number): boolean {
    const ta = this.time[a]!
    const tb = this.time[b]!
    return ta < tb || (ta === tb && this.order[a]! < this.order[b]!)
  }

  private allocate(): number {
    if (this.freeCount > 0) return this.free[--this.freeCount]!
    const slot = this.slots++
    if (slot === this.time.length) {
      this.time = grownFloat(this.time)
      this.order = grownFloat(this.order)
    }
    return slot
  }

  private release(slot: number): void {
    if (this.freeCount === this.free.length) this.free = grown(this.free)
    this.free[this.freeCount++] = slot
  }
}

function grown(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const next = new Int32Array(a.length * 2)
  next.set(a)
  return next
}

function grownFloat(a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const next = new Float64Array(a.length * 2)
  next.set(a)
  return next
}

function runClosure(fn: () => void): void {
  fn()
}

export class Simulator implements HostRuntime {
  private readonly queue = new EventQueue()
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

  /** Run `fn` at now + delay, with no cancel function to allocate (for callers that never cancel). */
  after(delayMs: number, fn: () => void): void {
    this.queue.push(this.clock + Math.max(0, delayMs), this.nextOrder++, runClosure as EventFn, fn)
  }

  at(time: number, fn: () => void): () => void {
    const order = this.nextOrder++
    const slot = this.queue.push(Math.max(time, this.clock), order, runClosure as EventFn, fn)
    return () => this.queue.cancel(slot, order)
  }

  /**
   * Run `fn(arg)` at `time` (not before now), with no way to cancel it: the network's deliveries, which are the most
   * frequent events, pass one shared handler and a record instead of allocating a closure and a cancel function each.
   * Ordered with every other event exactly as `at` orders them.
   */
  post<A>(time: number, fn: (arg: A) => void, arg: A): void {
    this.queue.push(Math.max(time, this.clock), this.nextOrder++, fn as EventFn, arg)
  }

  /** Run events until virtual time `until` (inclusive) or until `stop()` returns true after an event. */
  run(until: number, stop?: () => boolean): void {
    const queue = this.queue
    for (;;) {
      const slot = queue.peek()
      if (slot < 0 || queue.timeOf(slot) > until) break
      queue.pop()
      const fn = queue.fnOf(slot) as ((arg: unknown) => void) | null
      if (fn === null) continue
      const arg = queue.argOf(slot)
      this.clock = queue.timeOf(slot)
      queue.clear(slot)
      this.eventsRun++
      fn(arg)
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
    return this.queue.size
  }
}
