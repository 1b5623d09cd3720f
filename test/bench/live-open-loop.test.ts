/**
 * Open-loop load and throughput-latency curves of `bench live`. The load loop runs against stand-in clients with a
 * known service time (what the loop measures is its own doing: arrivals, queueing, latency from the intended arrival),
 * in wall-clock time with bounds generous enough for a busy machine; the curve's stepping is checked on synthetic
 * steps; the flags are checked as the CLI passes them. A real cluster under open loop runs in live-external.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'
import { createRng } from '../../core/random.ts'
import { buildLiveBenchConfig, LiveBenchConfigError, type LiveBenchFlags } from '../../bench/live/config.ts'
import { runLiveLoad, type LoadClient } from '../../bench/live/live-load.ts'
import { CURVE_MAX_STEPS, departure, stepCurve, type CurveStep } from '../../bench/live/live-curve.ts'
import type { Workload } from '../../bench/workload.ts'

/** A client that answers after `serviceMs` and serves one request at a time (a single-threaded server). */
function serialClient(serviceMs: number): LoadClient {
  let busyUntil = 0
  return {
    run: () => {
      const now = performance.now()
      busyUntil = Math.max(busyUntil, now) + serviceMs
      return new Promise(resolve => setTimeout(resolve, busyUntil - now))
    },
  }
}

const WINDOW: Workload = {
  readRatio: 0, valueSize: 8, keys: 10, keyDistribution: 'uniform', warmupMs: 100, durationMs: 1000,
  maxOps: Number.MAX_SAFE_INTEGER, timelineBucketMs: 100, timeoutMs: 60_000,
}

describe('bench live open loop', () => {
  it('offers the rate whatever the callers could do: far fewer operations than a closed loop on the same clients', async () => {
    const fast = { run: () => new Promise<void>(resolve => setImmediate(resolve)) }
    const rng = createRng(1)
    const open = await runLiveLoad([fast, fast, fast, fast], { ...WINDOW, rng, ratePerSec: 100 })
    // About 100 arrivals in the 1 s window (Poisson: 3 sigma is +-30); a closed loop on 4 instant clients does thousands.
    expect(open.measuredOps).toBeGreaterThan(40)
    expect(open.measuredOps).toBeLessThan(170)
    expect(open.backlog).toBe(0)
    const closed = await runLiveLoad([fast, fast, fast, fast], { ...WINDOW, rng })
    expect(closed.measuredOps).toBeGreaterThan(5 * open.measuredOps)
  })

  it('counts queueing behind a saturated server from each operation\'s intended arrival, and what is left unfinished', async () => {
    // Capacity 50 ops/s (20 ms each, one caller), offered 400 ops/s: the queue grows by about 350 a second.
    const r = await runLiveLoad([serialClient(20)], { ...WINDOW, rng: createRng(2), ratePerSec: 400 })
    expect(r.measuredOps).toBeLessThan(60) // at most capacity (1.1 s at 50/s)
    expect(r.backlog).toBeGreaterThan(150)
    expect(r.unfinished).toBeGreaterThan(150)
    const s = r.latency.summary()
    // Latency from the intended arrival: late arrivals waited hundreds of ms, though each was served in 20 ms.
    expect(s.p50).toBeGreaterThan(100)
    expect(s.max).toBeGreaterThan(400)
  })
})

const step = (offered: number, throughput: number, p99Ms: number): CurveStep => ({ offered, throughput, p50Ms: p99Ms / 2, p99Ms, runId: `r${offered}` })

describe('throughput-latency curves', () => {
  it('doubles the rate until throughput falls behind, and reports the last step that kept up', async () => {
    const asked: number[] = []
    const curve = await stepCurve('raft/n3', 'raft', 16, 100, rate => {
      asked.push(rate)
      return Promise.resolve(step(rate, Math.min(rate, 1000), rate <= 1000 ? 10 : 500))
    })
    expect(asked).toEqual([100, 200, 400, 800, 1600])
    expect(curve.saturation?.offered).toBe(800)
    expect(curve.stoppedBecause).toBe('at 1600 ops/s offered it completed 1000 ops/s (under 90%)')
  })

  it('stops where latency departs even while throughput keeps up, and reports no saturation when the first step fails', async () => {
    const latencyBound = await stepCurve('x', 'raft', 1, 100, rate => Promise.resolve(step(rate, rate, rate >= 400 ? 200 : 10)))
    expect(latencyBound.saturation?.offered).toBe(200)
    expect(latencyBound.stoppedBecause).toMatch(/^at 400 ops\/s p99 200 ms passed 40 ms/)
    const none = await stepCurve('x', 'raft', 1, 100, rate => Promise.resolve(step(rate, rate / 10, 10)))
    expect(none.saturation).toBeNull()
    expect(none.steps).toHaveLength(1)
  })

  it('is bounded: at most CURVE_MAX_STEPS steps, saying the saturation point is beyond them', async () => {
    const curve = await stepCurve('x', 'raft', 1, 1, rate => Promise.resolve(step(rate, rate, 1)))
    expect(curve.steps).toHaveLength(CURVE_MAX_STEPS)
    expect(curve.saturation).toBe(curve.steps[CURVE_MAX_STEPS - 1])
    expect(curve.stoppedBecause).toMatch(/the saturation point is higher$/)
  })

  it('does not call sub-millisecond jitter a departure (a floor above the lowest rate\'s p99)', () => {
    expect(departure(step(200, 200, 15), step(100, 100, 0.5))).toBeNull()
    expect(departure(step(200, 200, 25), step(100, 100, 0.5))).not.toBeNull()
  })
})

describe('bench live open-loop flags', () => {
  const problems = (flags: LiveBenchFlags): readonly string[] => {
    try { buildLiveBenchConfig(flags, protocols) } catch (e) { if (e instanceof LiveBenchConfigError) return e.problems; throw e }
    return []
  }
  it('takes --rates and --curve, and refuses them together, --curve-start alone, bad rates, and the etcd baseline with either', () => {
    expect(buildLiveBenchConfig({ rates: '100,200' }, protocols)).toMatchObject({ rates: [100, 200], curve: false })
    expect(buildLiveBenchConfig({ curve: true, curveStart: '50' }, protocols)).toMatchObject({ rates: null, curve: true, curveStart: 50 })
    expect(problems({ curve: true, rates: '100' })).toEqual(['--curve: steps the rate itself; give --curve or --rates, not both'])
    expect(problems({ curveStart: '50' })).toEqual(['--curve-start: only with --curve'])
    expect(problems({ rates: '100,0' })).toEqual(['--rates[1]: expected an integer from 1 to 10000000, got "0"'])
    expect(problems({ curve: true, baseline: 'etcd' })).toEqual(['--curve: the etcd baseline is measured closed loop only; give --baseline none'])
  })
})
