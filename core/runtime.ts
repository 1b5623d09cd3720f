/**
 * Time as a host sees it: virtual in the simulator, real in a live node. Hosts only schedule through this.
 */
export interface HostRuntime {
  /** Milliseconds, virtual or wall-clock. */
  now(): number
  /** Run `fn` after `delayMs`; returns a function that cancels it. */
  setTimer(delayMs: number, fn: () => void): () => void
}

/** Real time for live nodes. */
export const realRuntime: HostRuntime = {
  now: () => performance.now(),
  setTimer(delayMs, fn) {
    const t = setTimeout(fn, delayMs)
    return () => clearTimeout(t)
  },
}
