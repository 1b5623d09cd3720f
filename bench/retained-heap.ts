/**
 * The JavaScript heap a piece of work keeps alive: heap in use after a forced full collection, with and without it.
 * Peak heap (HostMeter) says more about when the collector last ran than about what a run holds; this is the figure
 * that shows how a cluster's state grows with n or with the number of groups. A host figure: allocation sizes are the
 * same from run to run, but what else the process holds is not. In a worker thread it is the worker's own heap.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** A forced full collection, where V8 allows it; null elsewhere (the figure is then reported as absent). */
export function forcedCollector(): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as unknown
    return typeof gc === 'function' ? gc as () => void : null
  } catch {
    return null
  }
}

/** Heap in use after a forced full collection, in bytes; null without a collector. */
export function collectedHeapUsed(gc: (() => void) | null): number | null {
  if (gc === null) return null
  gc()
  return process.memoryUsage().heapUsed
}

/** What grew between two collectedHeapUsed readings, never negative; null when either is missing. */
export function heapGrowth(before: number | null, after: number | null): number | null {
  return before === null || after === null ? null : Math.max(0, after - before)
}

/**
 * collectedHeapUsed while `held` is certainly reachable: it is passed in so that it sits on this call's stack during
 * the collection (a local its caller no longer reads need not be), and read after it.
 */
export function heapUsedHolding(held: object, gc: (() => void) | null): number | null {
  const used = collectedHeapUsed(gc)
  return held === null ? null : used
}
