/**
 * Run a whole sweep: plan it, measure messages per command at batch size 1 next to the theory, run every
 * combination, and gather everything a report needs (figures, host measurements, environment, configuration).
 * Simulated runs are synchronous; runs on the libp2p network are real (bench/live/) and awaited one at a time.
 */
import type { SweepConfig } from './config.ts'
import { captureEnvironment, type Environment } from './environment.ts'
import { snapshotIntervalFor } from './snapshot-interval.ts'
import { measureMessagesPerCommand, type MessageComplexity } from './message-complexity.ts'
import { checkPlan, planSweep, type Registry, type SkippedRun, type SweepPlan } from './matrix.ts'
import type { EchoFloor, RunResult } from './figures.ts'
import { runOne } from './run-one.ts'
import { isLiveNetwork } from './networks.ts'
import { measureLibp2pEcho } from './libp2p-echo.ts'
import { runLiveOne } from './live/run-live.ts'

export const RESULTS_SCHEMA = 'consensus-bench/results/v1'

export interface SweepResults {
  readonly schema: typeof RESULTS_SCHEMA
  /** Wall-clock start (ISO 8601); not a simulated figure. */
  readonly startedAt: string
  readonly environment: Environment
  readonly preset: string | null
  readonly config: SweepConfig
  readonly skipped: readonly SkippedRun[]
  readonly messageComplexity: readonly MessageComplexity[]
  readonly runs: readonly RunResult[]
  /** Wall-clock duration of the whole sweep. */
  readonly wallMs: number
}

export interface SweepProgress {
  /** Steps finished and total (message-complexity measurements and runs); `label` names the step now running. */
  readonly done: number
  readonly total: number
  readonly label: string
}

export interface SweepHooks {
  readonly onStart?: (plan: SweepPlan, total: number) => void
  readonly onProgress?: (p: SweepProgress) => void
}

export async function runSweep(config: SweepConfig, registry: Registry, hooks: SweepHooks = {}, preset: string | null = null): Promise<SweepResults> {
  const started = performance.now()
  const startedAt = new Date().toISOString()
  const plan = planSweep(config, registry)
  checkPlan(plan)
  const total = plan.complexity.length + plan.runs.length
  hooks.onStart?.(plan, total)
  let done = 0
  // Reported before each step, so the bar names what is running now.
  const starting = (label: string) => hooks.onProgress?.({ done: done++, total, label })
  const complexity: MessageComplexity[] = []
  for (const { protocol, n } of plan.complexity) {
    starting(`messages at batch 1: ${protocol} n=${n}`)
    const p = registry.get(protocol)!
    complexity.push(measureMessagesPerCommand(p, n, {
      seed: config.seed, protocolOptions: { ...(config.protocolOptions[protocol] ?? {}) },
      snapshotInterval: snapshotIntervalFor(p, config.snapshotInterval, config.protocolOptions[protocol] ?? {}, n),
    }))
  }
  const runs: RunResult[] = []
  // The floor under live latency, measured once per sweep, before the first live run.
  let echo: EchoFloor | null = null
  for (const spec of plan.runs) {
    starting(`${spec.protocol} n=${spec.n} f=${spec.f} ${spec.fault} ${spec.network}`)
    const protocol = registry.get(spec.protocol)!
    if (isLiveNetwork(spec.network)) {
      if (echo === null) {
        const e = await measureLibp2pEcho({ pings: 1000, warmup: 200 })
        echo = { p50Ms: e.p50Us / 1000, p99Ms: e.p99Us / 1000, pings: e.pings }
      }
      runs.push(await runLiveOne(spec, protocol, echo))
    } else {
      runs.push(runOne(spec, protocol))
    }
  }
  hooks.onProgress?.({ done, total, label: 'writing results' })
  return {
    schema: RESULTS_SCHEMA, startedAt, environment: captureEnvironment(), preset, config, skipped: plan.skipped,
    messageComplexity: complexity, runs, wallMs: Math.round(performance.now() - started),
  }
}
