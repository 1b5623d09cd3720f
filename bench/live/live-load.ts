/**
 * Load on a live cluster, in wall-clock time, in the two shapes of the simulated bench (bench/load.ts):
 * - closed loop: every caller keeps one request outstanding and issues the next as soon as the last completes;
 * - open loop (`ratePerSec`): operations arrive at that rate whatever the cluster does (Poisson arrivals from the seeded
 *   stream), wait for an idle caller (the callers bound what is outstanding, as client connections do), and their
 *   latency runs from the intended arrival time, not from when a caller took them, so a saturated cluster shows its
 *   queueing instead of hiding it (coordinated omission). What arrived in the window and is unfinished at its end is
 *   recorded at its age so far (`unfinished`), and what still waits for a caller is the `backlog`.
 * Operations intended before the warm-up ends are excluded from the latency figures; throughput counts operations
 * completed inside the measured window.
 *
 * Bounded everywhere: nothing is issued or arrives after the window closes, every request has the client's deadline,
 * and the window closes early once `maxOps` operations were measured.
 */
import { encodeKvCommand, type KvCommand } from '../../core/kv.ts'
import { keyChooser } from '../../core/kv-workload.ts'
import type { Rng } from '../../core/random.ts'
import { LatencyRecorder } from '../latency.ts'
import { RequestTimeoutError } from '../../core/client-host.ts'
import type { Workload } from '../workload.ts'

export interface LiveLoadOptions extends Workload {
  /** Picks keys and reads vs writes (not timing, which is the machine's). */
  readonly rng: Rng
  /** At the start and at the close of the measured window (snapshot counters there). */
  readonly onWindowStart?: () => void
  readonly onWindowEnd?: () => void
  /** Number of this loop's first caller (callers of several load processes must not share a hot-key workload's own keys). */
  readonly firstCaller?: number
  /** Open loop: operations arriving per wall-clock second (null or absent: closed loop). */
  readonly ratePerSec?: number | null
}

export interface LiveLoadResult {
  readonly latency: LatencyRecorder
  readonly measuredOps: number
  readonly timeouts: number
  /** Wall-clock ms from the start of the warm-up. */
  readonly windowStartMs: number
  readonly windowEndMs: number
  /** Completions per bucket from the start of the warm-up to the end of the window. */
  readonly timeline: number[]
  readonly maxGapMs: number
  /** Open loop: operations that arrived in the window and had not completed at its end (recorded at their age). */
  readonly unfinished: number
  /** Open loop: operations still waiting for a caller at the window's end. */
  readonly backlog: number
}

/** Anything that runs a command within a deadline: the project's ConsensusClient, or the etcd baseline's (etcd-load.ts). */
export interface LoadClient {
  run(command: KvCommand, options: { timeoutMs: number }): Promise<unknown>
}

export async function runLiveLoad(clients: readonly LoadClient[], o: LiveLoadOptions): Promise<LiveLoadResult> {
  const pickKey = keyChooser(o.keyDistribution, o.keys)
  const value = 'v'.repeat(o.valueSize)
  const latency = new LatencyRecorder()
  const start = performance.now()
  const windowStart = start + o.warmupMs
  let windowEnd = windowStart + o.durationMs
  const timeline: number[] = new Array(Math.ceil((o.warmupMs + o.durationMs) / o.timelineBucketMs)).fill(0)
  let measuredOps = 0
  let timeouts = 0
  let lastCompletion = windowStart
  let maxGapMs = 0
  let closed = false
  let failure: Error | null = null

  /** Run when the window closes (the open loop stops its arrivals). */
  const endHooks: Array<() => void> = []
  let windowStarted = false
  const startWindow = () => {
    if (windowStarted) return
    windowStarted = true
    o.onWindowStart?.()
  }
  const closeWindow = (at: number) => {
    if (closed) return
    closed = true
    windowEnd = at
    startWindow()
    o.onWindowEnd?.()
    for (const hook of endHooks) hook()
  }
  // Timers mark the window's edges even when no operation completes near them.
  const startTimer = setTimeout(startWindow, o.warmupMs)
  const endTimer = setTimeout(() => closeWindow(windowStart + o.durationMs), o.warmupMs + o.durationMs)

  // Callers number from 0: a hot-key workload gives each its own keys.
  const nextCommand = (caller: number): KvCommand => {
    const key = pickKey(o.rng, caller)
    return o.rng.chance(o.readRatio) ? { type: 'get', key } : { type: 'put', key, value }
  }
  // encodeKvCommand is checked once here so a bad workload fails before any load.
  encodeKvCommand(nextCommand(0))

  /** One operation intended at `intendedAt`; resolves false when the loop must stop (the window closed, or a failure). */
  const runOne = async (client: LoadClient, caller: number, intendedAt: number): Promise<boolean> => {
    try {
      await client.run(nextCommand((o.firstCaller ?? 0) + caller), { timeoutMs: o.timeoutMs })
    } catch (e) {
      if (!(e instanceof RequestTimeoutError)) { failure ??= e as Error; return false }
      if (intendedAt >= windowStart && !closed) timeouts++
      return true
    } finally {
      outstanding.delete(intendedAt)
    }
    const now = performance.now()
    const bucket = Math.floor((now - start) / o.timelineBucketMs)
    if (bucket >= 0 && bucket < timeline.length) timeline[bucket]!++
    if (now < windowStart || now > windowEnd || closed) return true
    if (!windowStarted) startWindow()
    measuredOps++
    maxGapMs = Math.max(maxGapMs, now - lastCompletion)
    lastCompletion = now
    if (intendedAt >= windowStart) latency.recordMs(now - intendedAt)
    if (measuredOps >= o.maxOps) closeWindow(now)
    return true
  }
  // Intended times of the operations in flight (a multiset: two arrivals may share a timestamp).
  const outstanding = new Counts()
  const closedLoop = async (client: LoadClient, caller: number): Promise<void> => {
    while (!closed && failure === null) {
      const issuedAt = performance.now()
      if (issuedAt >= windowEnd) return
      outstanding.add(issuedAt)
      if (!await runOne(client, caller, issuedAt)) return
    }
  }
  // Open loop: arrivals queue here until a caller is idle.
  const arrivals: number[] = []
  let arrivalTimer: NodeJS.Timeout | null = null
  const openLoop = (rate: number): Promise<void> => new Promise(resolve => {
    const idle = clients.map((client, caller) => ({ client, caller }))
    let running = 0
    const finishIfDone = () => { if ((closed || failure !== null) && running === 0) resolve() }
    const dispatch = () => {
      while (!closed && failure === null && idle.length > 0 && arrivals.length > 0) {
        const c = idle.pop()!
        const intendedAt = arrivals.shift()!
        outstanding.add(intendedAt)
        running++
        void runOne(c.client, c.caller, intendedAt).then(() => {
          running--
          idle.push(c)
          dispatch()
          finishIfDone()
        })
      }
      finishIfDone()
    }
    // Exponential gaps with mean 1/rate from the seeded stream; a timer that fires late delivers every arrival due by
    // then at its own intended time, so a busy event loop delays operations but never thins the offered load.
    let next = start
    const arrive = () => {
      arrivalTimer = null
      const now = performance.now()
      while (next <= now && next < windowEnd && !closed) {
        arrivals.push(next)
        next += -Math.log(1 - o.rng.next()) * 1000 / rate
      }
      dispatch()
      if (closed || failure !== null || next >= windowEnd) { finishIfDone(); return }
      arrivalTimer = setTimeout(arrive, Math.max(0, next - performance.now()))
    }
    endHooks.push(() => { if (arrivalTimer !== null) { clearTimeout(arrivalTimer); arrivalTimer = null } finishIfDone() })
    arrive()
  })
  try {
    const rate = o.ratePerSec ?? null
    if (rate === null) await Promise.all(clients.map((client, caller) => closedLoop(client, caller)))
    else await openLoop(rate)
  } finally {
    clearTimeout(startTimer)
    clearTimeout(endTimer)
    if (arrivalTimer !== null) clearTimeout(arrivalTimer)
  }
  if (failure !== null) throw failure
  closeWindow(windowEnd)
  maxGapMs = Math.max(maxGapMs, windowEnd - lastCompletion)
  let unfinished = 0
  if (o.ratePerSec != null) {
    for (const t of [...arrivals, ...outstanding.values()]) {
      if (t < windowStart || t >= windowEnd) continue
      unfinished++
      latency.recordMs(windowEnd - t)
    }
  }
  return {
    latency, measuredOps, timeouts, windowStartMs: o.warmupMs, windowEndMs: windowEnd - start,
    timeline, maxGapMs, unfinished, backlog: arrivals.length,
  }
}

/** A multiset of numbers (the intended times of operations in flight). */
class Counts {
  private readonly counts = new Map<number, number>()
  add(x: number): void { this.counts.set(x, (this.counts.get(x) ?? 0) + 1) }
  delete(x: number): void {
    const c = this.counts.get(x) ?? 0
    if (c <= 1) this.counts.delete(x)
    else this.counts.set(x, c - 1)
  }
  *values(): Generator<number> { for (const [x, c] of this.counts) for (let i = 0; i < c; i++) yield x }
}
