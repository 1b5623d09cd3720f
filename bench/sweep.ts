/**
 * Run a whole sweep: plan it, measure messages per command at batch size 1 next to the theory, run every
 * combination, and gather everything a report needs (figures, host measurements, environment, configuration).
 * Simulated runs are synchronous; runs on the libp2p network are real (bench/live/) and awaited one at a time.
 */
import type { SweepConfig } from './config.ts'
import { captureEnvironment, type Environment } from './environment.ts'
import { snapshotIntervalFor } from './snapshot-interval.ts'
import { measureMessagesPerCommand, type MessageComplexity } from './message-complexity.ts'
import { checkPlan, planSweep, type Registry, type RunSpec, type SkippedRun, type SweepPlan } from './matrix.ts'
import { runTasks, type Task } from './parallel.ts'
import { ConfigError } from '../core/errors.ts'
import { protocols as builtInRegistry } from '../protocols/index.ts'
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

/**
 * Commands measured at batch size 1 for a cluster of n: 200 up to n = 10 (every default sweep), then fewer, as each
 * costs O(n) or O(n^2) messages; the count per command is exact in steady state, so a few dozen suffice.
 */
export function complexityCommands(n: number): number {
  return Math.min(200, Math.max(20, Math.round(2000 / n)))
}

/** A sweep task in this thread, against the caller's registry (which may hold protocols workers cannot load). */
function runHere(task: Task, registry: Registry): MessageComplexity | RunResult {
  if (task.kind === 'complexity') return measureMessagesPerCommand(registry.get(task.protocol)!, task.n, task.options)
  if (task.kind === 'run') return runOne(task.spec, registry.get(task.spec.protocol)!)
  throw new Error(`a sweep has no ${task.kind} tasks`)
}

export interface SweepExecution {
  /** Simulated runs (and batch-size-1 measurements) at once, on worker threads; default 1: all in this thread. */
  readonly jobs?: number
}

export async function runSweep(config: SweepConfig, registry: Registry, hooks: SweepHooks = {}, preset: string | null = null,
  execution: SweepExecution = {}): Promise<SweepResults> {
  const started = performance.now()
  const startedAt = new Date().toISOString()
  const plan = planSweep(config, registry)
  checkPlan(plan)
  const total = plan.complexity.length + plan.runs.length
  hooks.onStart?.(plan, total)
  let done = 0
  const jobs = execution.jobs ?? 1
  // Serially the bar names the step starting now; in parallel, the step that just finished.
  const starting = (label: string) => { if (jobs <= 1) hooks.onProgress?.({ done: done++, total, label }) }
  const finished = (label: string) => { if (jobs > 1) hooks.onProgress?.({ done: ++done, total, label }) }
  const complexityLabel = (protocol: string, n: number) => `messages at batch 1: ${protocol} n=${n}`
  const runLabel = (spec: RunSpec) => `${spec.protocol} n=${spec.n} f=${spec.f} ${spec.fault} ${spec.network}`
  for (const { protocol } of plan.complexity) if (registry.get(protocol) === undefined) throw new ConfigError('protocols', `protocol "${protocol}" is not registered`)
  const simulated = plan.runs.filter(spec => !isLiveNetwork(spec.network))
  // Tasks name protocols, so they can cross to a worker; the worker's registry is the built-in one.
  const tasks: Task[] = [
    ...plan.complexity.map(({ protocol, n }): Task => {
      const p = registry.get(protocol)!
      return {
        kind: 'complexity', protocol, n, options: {
          seed: config.seed, commands: complexityCommands(n), protocolOptions: { ...(config.protocolOptions[protocol] ?? {}) },
          snapshotInterval: snapshotIntervalFor(p, config.snapshotInterval, config.protocolOptions[protocol] ?? {}, n),
        },
      }
    }),
    ...simulated.map((spec): Task => ({ kind: 'run', spec })),
  ]
  const label = (task: Task) => task.kind === 'complexity' ? complexityLabel(task.protocol, task.n) : task.kind === 'run' ? runLabel(task.spec) : ''
  const outcomes = jobs > 1 && registry === builtInRegistry
    ? await runTasks(tasks, jobs, i => finished(label(tasks[i]!)))
    : tasks.map(task => {
      starting(label(task))
      return runHere(task, registry)
    })
  const complexity = outcomes.slice(0, plan.complexity.length) as MessageComplexity[]
  const bySpec = new Map(simulated.map((spec, i) => [spec, outcomes[plan.complexity.length + i] as RunResult]))
  const runs: RunResult[] = []
  // The floor under live latency, measured once per sweep, before the first live run. Live runs are wall-clock
  // measurements of this machine: one at a time, never beside simulated runs.
  let echo: EchoFloor | null = null
  for (const spec of plan.runs) {
    const ran = bySpec.get(spec)
    if (ran !== undefined) { runs.push(ran); continue }
    starting(runLabel(spec))
    const protocol = registry.get(spec.protocol)!
    if (echo === null) {
      const e = await measureLibp2pEcho({ pings: 1000, warmup: 200 })
      echo = { p50Ms: e.p50Us / 1000, p99Ms: e.p99Us / 1000, pings: e.pings }
    }
    runs.push(await runLiveOne(spec, protocol, echo))
    finished(runLabel(spec))
  }
  hooks.onProgress?.({ done, total, label: 'writing results' })
  return {
    schema: RESULTS_SCHEMA, startedAt, environment: captureEnvironment(), preset, config, skipped: plan.skipped,
    messageComplexity: complexity, runs, wallMs: Math.round(performance.now() - started),
  }
}
