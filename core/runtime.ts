/**
 * Time as a host sees it: virtual in the simulator, real in a live node. Hosts only schedule through this.
 */
export interface HostRuntime {
  /** Milliseconds, virtual or wall-clock. */
  now(): number
  /** Run `fn` after `delayMs`; returns a function that cancels it. */
  setTimer(delayMs: number, fn: () => void): () => void
  /**
   * Run `fn` once the I/O callbacks now being handled are done (a live node: after this turn of the event loop, so
   * after every frame that one socket read, or several, carried). With it the host takes one Ready for all the frames
   * of a turn, so one write and one fsync cover them (as etcd's raft: a Ready carries everything since the last one).
   * Absent (the simulator, whose schedule is its own), the host takes a Ready after every frame.
   */
  afterTurn?(fn: () => void): void
}

/** Real time for live nodes. */
export const realRuntime: HostRuntime = {
  now: () => performance.now(),
  setTimer(delayMs, fn) {
    const t = setTimeout(fn, delayMs)
    return () => clearTimeout(t)
  },
  afterTurn: fn => { setImmediate(fn) },
}
