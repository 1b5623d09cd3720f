/**
 * Closed-loop load on a live cluster, in wall-clock time: every client keeps one request outstanding and issues the
 * next as soon as the last completes. Operations issued before the warm-up ends are excluded from the latency figures;
 * throughput counts operations completed inside the measured window, as in the simulated bench (bench/load.ts).
 *
 * Bounded everywhere: no request is issued after the window closes, every request has the client's deadline, and the
 * window closes early once `maxOps` operations were measured.
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
}

/** Anything that runs a command within a deadline: the project's ConsensusClient, or the etcd baseline's (etcd-load.ts). */
export interface LoadClient {
  run(command: KvCommand, options: { timeoutMs: number }): Promise<unknown>
}

export async function runLiveClosedLoop(clients: readonly LoadClient[], o: LiveLoadOptions): Promise<LiveLoadResult> {
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

  const loop = async (client: LoadClient, caller: number): Promise<void> => {
    while (!closed && failure === null) {
      const issuedAt = performance.now()
      if (issuedAt >= windowEnd) return
      try {
        await client.run(nextCommand((o.firstCaller ?? 0) + caller), { timeoutMs: o.timeoutMs })
      } catch (e) {
        if (!(e instanceof RequestTimeoutError)) { failure ??= e as Error; return }
        if (issuedAt >= windowStart && !closed) timeouts++
        continue
      }
      const now = performance.now()
      const bucket = Math.floor((now - start) / o.timelineBucketMs)
      if (bucket >= 0 && bucket < timeline.length) timeline[bucket]!++
      if (now < windowStart || now > windowEnd || closed) continue
      if (!windowStarted) startWindow()
      measuredOps++
      maxGapMs = Math.max(maxGapMs, now - lastCompletion)
      lastCompletion = now
      if (issuedAt >= windowStart) latency.recordMs(now - issuedAt)
      if (measuredOps >= o.maxOps) closeWindow(now)
    }
  }
  try {
    await Promise.all(clients.map((client, caller) => loop(client, caller)))
  } finally {
    clearTimeout(startTimer)
    clearTimeout(endTimer)
  }
  if (failure !== null) throw failure
  closeWindow(windowEnd)
  maxGapMs = Math.max(maxGapMs, windowEnd - lastCompletion)
  return {
    latency, measuredOps, timeouts, windowStartMs: o.warmupMs, windowEndMs: windowEnd - start,
    timeline, maxGapMs,
  }
}
