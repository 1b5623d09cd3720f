/**
 * Throughput-latency curves (`bench live --curve`): open-loop load at a rate doubled step by step, until the cluster
 * no longer keeps up. A step keeps up when the cluster completes at least KEEP_UP_SHARE of the offered rate and its p99
 * stays within LATENCY_DEPARTURE times the lowest step's (a floor of DEPARTURE_FLOOR_MS above it, so a sub-millisecond
 * p99 at the lowest rate does not call ordinary jitter a departure). The saturation point is the last step that kept
 * up: the highest rate the cluster sustains at its unloaded latency's order, the figure a throughput-latency plot's
 * knee shows. Bounded: at most CURVE_MAX_STEPS steps.
 */

export const KEEP_UP_SHARE = 0.9
export const LATENCY_DEPARTURE = 4
export const DEPARTURE_FLOOR_MS = 20
export const CURVE_MAX_STEPS = 12

/** One step of a curve: what was offered and what the cluster did (medians over the step's repetitions). */
export interface CurveStep {
  readonly offered: number
  readonly throughput: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** The LiveRun measured at this step. */
  readonly runId: string
}

export interface LiveCurve {
  /** The runs' id without the step's rate: protocol/n/fsync/clients and form, stack, dissemination where not the defaults. */
  readonly id: string
  readonly protocol: string
  readonly clients: number
  readonly steps: readonly CurveStep[]
  /** The last step that kept up (null: not even the first did). */
  readonly saturation: CurveStep | null
  /** Why stepping stopped, in words. */
  readonly stoppedBecause: string
}

/** Why `step` does not keep up, measured against the curve's first step, or null when it does. */
export function departure(step: CurveStep, first: CurveStep): string | null {
  if (step.throughput < KEEP_UP_SHARE * step.offered) {
    return `at ${step.offered} ops/s offered it completed ${Math.round(step.throughput)} ops/s (under ${KEEP_UP_SHARE * 100}%)`
  }
  const bound = Math.max(LATENCY_DEPARTURE * first.p99Ms, first.p99Ms + DEPARTURE_FLOOR_MS)
  if (step.p99Ms > bound) {
    return `at ${step.offered} ops/s p99 ${step.p99Ms} ms passed ${Math.round(bound * 1000) / 1000} ms ` +
      `(${LATENCY_DEPARTURE}x the lowest rate's ${first.p99Ms} ms, at least +${DEPARTURE_FLOOR_MS} ms)`
  }
  return null
}

/**
 * Measure a curve: `measure(rate)` runs one step; rates double from `start`. Stops at the first step that departs, or
 * after CURVE_MAX_STEPS.
 */
export async function stepCurve(id: string, protocol: string, clients: number, start: number,
  measure: (rate: number) => Promise<CurveStep>): Promise<LiveCurve> {
  const steps: CurveStep[] = []
  let rate = start
  for (let i = 0; i < CURVE_MAX_STEPS; i++) {
    const step = await measure(rate)
    steps.push(step)
    const why = departure(step, steps[0]!)
    if (why !== null) {
      return { id, protocol, clients, steps, saturation: steps.length > 1 ? steps[steps.length - 2]! : null, stoppedBecause: why }
    }
    rate *= 2
  }
  return { id, protocol, clients, steps, saturation: steps[steps.length - 1]!,
    stoppedBecause: `kept up through ${CURVE_MAX_STEPS} steps (${steps[steps.length - 1]!.offered} ops/s): the saturation point is higher` }
}
