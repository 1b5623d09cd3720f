/**
 * Load generation on a simulated cluster. Closed loop: every client keeps one operation outstanding and issues the
 * next as soon as the last completes. Open loop: operations arrive at a target rate whatever the cluster does, queue
 * for a free client, and their latency is measured from the intended send time, so a slow cluster shows its queueing
 * instead of hiding it (no coordinated omission).
 *
 * The measured window starts after the warm-up; operations issued (intended) before it are excluded from every figure.
 */
import type { CommandClient, ClientOutcome } from '../core/client-host.ts'
import { encodeKvCommand, type KvCommand } from '../core/kv.ts'
import type { Rng } from '../core/random.ts'
import type { NodeId } from '../core/types.ts'
import type { SimulatedClients } from '../net/sim/workload.ts'
import { keyChooser, recordInvoke, recordOutcome } from '../core/kv-workload.ts'
import type { HistoryRecorder } from '../core/history.ts'
import { LatencyRecorder } from './latency.ts'
import type { Workload } from './workload.ts'

export interface LoadOptions extends Workload {
  readonly mode: 'closed' | 'open'
  /** Open loop: operations per virtual second. */
  readonly rate: number | null
  /** The window does not close at `maxOps` before this much of it has passed. */
  readonly minWindowMs: number
  readonly rng: Rng
  /** Called at the start of the measured window (snapshot counters there). */
  readonly onMeasureStart?: () => void
  /** Called for every operation completed ok, with its intended start and completion times. */
  readonly onCompleted?: (intendedAt: number, now: number) => void
  /** Latency is also recorded per group of clients (the WAN figures group them by region). */
  readonly latencyGroupOf?: (client: NodeId) => string
  /** Record every operation as a history (bench --html-runs draws it); off by default. */
  readonly history?: HistoryRecorder
}

export interface LoadResult {
  /** With `latencyGroupOf`: the same latency, per group of clients. */
  readonly latencyByGroup: ReadonlyMap<string, LatencyRecorder>
  /** Operations intended at or after the window start; open loop adds those unfinished at its end (at their age). */
  readonly latency: LatencyRecorder
  /** Operations completed ok inside the window (throughput counts these). */
  readonly measuredOps: number
  /** Open loop: operations intended inside the window but not finished at its end (their age is in `latency`). */
  readonly unfinished: number
  readonly timeouts: number
  readonly windowStartMs: number
  readonly windowEndMs: number
  /** Completions per bucket from the start of the warm-up to the end of the window. */
  readonly timeline: number[]
  readonly timelineStartMs: number
  /** Longest stretch of the window with no completed operation. */
  readonly maxGapMs: number
  /** Open loop: operations still queued for a client when the window closed. */
  readonly backlog: number
}

export function runLoad(cluster: SimulatedClients, o: LoadOptions): LoadResult {
  const sim = cluster.sim
  const rng = o.rng
  const pickKey = keyChooser(o.keyDistribution, o.keys)
  const value = 'v'.repeat(o.valueSize)
  const latency = new LatencyRecorder()
  const startMs = sim.now()
  const windowStartMs = startMs + o.warmupMs
  const windowLimitMs = windowStartMs + o.durationMs
  const timeline: number[] = new Array(Math.ceil((o.warmupMs + o.durationMs) / o.timelineBucketMs)).fill(0)
  let measuredOps = 0
  const inFlight = new Map<CommandClient, number>()
  let timeouts = 0
  let lastCompletion = windowStartMs
  let maxGapMs = 0
  let stopped = false

  const nextCommand = (client: NodeId): KvCommand => {
    const key = pickKey(rng, client)
    return rng.chance(o.readRatio) ? { type: 'get', key } : { type: 'put', key, value }
  }

  const latencyByGroup = new Map<string, LatencyRecorder>()
  const completed = (client: NodeId, intendedAt: number, outcome: ClientOutcome): void => {
    const now = sim.now()
    if (outcome.status === 'timeout') {
      if (intendedAt >= windowStartMs && now <= windowLimitMs) timeouts++
      return
    }
    o.onCompleted?.(intendedAt, now)
    const bucket = Math.floor((now - startMs) / o.timelineBucketMs)
    if (bucket >= 0 && bucket < timeline.length) timeline[bucket]!++
    if (now < windowStartMs || now > windowLimitMs || stopped) return
    measuredOps++
    maxGapMs = Math.max(maxGapMs, now - lastCompletion)
    lastCompletion = now
    if (intendedAt < windowStartMs) return
    latency.recordMs(now - intendedAt)
    if (o.latencyGroupOf !== undefined) {
      const group = o.latencyGroupOf(client)
      let recorder = latencyByGroup.get(group)
      if (recorder === undefined) latencyByGroup.set(group, recorder = new LatencyRecorder())
      recorder.recordMs(now - intendedAt)
    }
  }

  const submit = (client: CommandClient, intendedAt: number, then: () => void): void => {
    const c = nextCommand(client.id)
    inFlight.set(client, intendedAt)
    const op = o.history === undefined ? null : recordInvoke(o.history, client.id, c, sim.now())
    client.submit(encodeKvCommand(c), c.type === 'get', o.timeoutMs, outcome => {
      inFlight.delete(client)
      if (op !== null) recordOutcome(op, outcome, sim.now())
      completed(client.id, intendedAt, outcome)
      // Next step from a fresh event, not from inside the completion callback.
      sim.after(0, then)
    })
  }

  const idle: CommandClient[] = []
  const queue: number[] = []
  if (o.mode === 'closed') {
    const loop = (client: CommandClient) => {
      if (stopped) return
      submit(client, sim.now(), () => loop(client))
    }
    for (const client of cluster.clients) loop(client)
  } else {
    const rate = o.rate ?? 1
    const dispatch = () => {
      while (!stopped && idle.length > 0 && queue.length > 0) {
        const client = idle.shift()!
        submit(client, queue.shift()!, () => { idle.push(client); dispatch() })
      }
    }
    idle.push(...cluster.clients)
    // Poisson arrivals from the seeded stream: exponential gaps with mean 1/rate.
    const arrive = () => {
      if (stopped || sim.now() >= windowLimitMs) return
      queue.push(sim.now())
      dispatch()
      sim.setTimer(-Math.log(1 - rng.next()) * 1000 / rate, arrive)
    }
    arrive()
  }

  let measuring = false
  sim.at(windowStartMs, () => {
    measuring = true
    o.onMeasureStart?.()
  })
  const done = () => measuring && measuredOps >= o.maxOps && sim.now() >= windowStartMs + o.minWindowMs
  sim.run(windowLimitMs, done)
  stopped = true
  const windowEndMs = sim.now()
  maxGapMs = Math.max(maxGapMs, windowEndMs - lastCompletion)
  // Open loop: what arrived in the window and is still waiting counts at its age so far (a lower bound), so an
  // overloaded cluster shows growing latency instead of dropping the slowest operations from the figures.
  let unfinished = 0
  if (o.mode === 'open') {
    for (const t of [...queue, ...inFlight.values()]) {
      if (t < windowStartMs) continue
      unfinished++
      latency.recordMs(windowEndMs - t)
    }
  }
  const usedBuckets = Math.ceil((windowEndMs - startMs) / o.timelineBucketMs)
  return {
    latency, latencyByGroup, measuredOps, unfinished, timeouts, windowStartMs, windowEndMs, timeline: timeline.slice(0, usedBuckets),
    timelineStartMs: startMs, maxGapMs, backlog: queue.length,
  }
}
