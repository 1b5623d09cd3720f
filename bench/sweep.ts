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
import { measureLinearizabilityCost, type CapReport } from './cap.ts'

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
  /** The "what linearizability costs" experiment, when the config asked for it (bench/cap.ts). */
  readonly linearizabilityCost?: CapReport
  /** Wall-clock duration of the whole sweep (merged shards: their durations summed). */
  readonly wallMs: number
  /** Present on one shard's results only (`bench --shard i/k`); `bench merge` combines all k into a whole sweep. */
  readonly shard?: Shard
}

/** Shard `index` of `count` (1-based): the steps of the plan whose position modulo `count` is `index - 1`. */
export interface Shard {
  readonly index: number
  readonly count: number
}

export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim())
  const index = m === null ? NaN : Number(m[1])
  const count = m === null ? NaN : Number(m[2])
  if (!(count >= 1 && index >= 1 && index <= count)) throw new ConfigError('--shard', `expected i/k with 1 <= i <= k (e.g. 3/16), got "${text}"`)
  return { index, count }
}

/**
 * Which steps of a plan (batch-size-1 measurements first, then runs, in plan order) a shard takes: every count-th,
 * round robin, so each shard gets its share of the expensive large-n steps.
 */
export function shardSteps<T>(steps: readonly T[], offset: number, shard: Shard | undefined): T[] {
  return shard === undefined ? [...steps] : steps.filter((_, i) => (offset + i) % shard.count === shard.index - 1)
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
  /** Run only this shard's steps of the plan. */
  readonly shard?: Shard
}

export async function runSweep(config: SweepConfig, registry: Registry, hooks: SweepHooks = {}, preset: string | null = null,
  execution: SweepExecution = {}): Promise<SweepResults> {
  const started = performance.now()
  const startedAt = new Date().toISOString()
  const whole = planSweep(config, registry)
  checkPlan(whole)
  const shard = execution.shard
  const plan: SweepPlan = {
    ...whole,
    complexity: shardSteps(whole.complexity, 0, shard),
    runs: shardSteps(whole.runs, whole.complexity.length, shard),
  }
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
  // The partition experiment is one step, run by the first shard only (merge keeps it from there).
  let linearizabilityCost: CapReport | undefined
  if (config.linearizabilityCost && (shard === undefined || shard.index === 1)) {
    hooks.onProgress?.({ done, total, label: 'what linearizability costs: partition runs' })
    linearizabilityCost = measureLinearizabilityCost(registry, { firstSeed: config.seed })
  }
  hooks.onProgress?.({ done, total, label: 'writing results' })
  return {
    schema: RESULTS_SCHEMA, startedAt, environment: captureEnvironment(), preset, config, skipped: plan.skipped,
    messageComplexity: complexity, runs, ...(linearizabilityCost !== undefined ? { linearizabilityCost } : {}),
    wallMs: Math.round(performance.now() - started),
    ...(shard !== undefined ? { shard } : {}),
  }
}

/**
 * The shards of one sweep combined into the results an unsharded run gives: every shard of the same configuration
 * exactly once, runs and batch-size-1 measurements put back in plan order. Host-side fields cannot be one run's: the
 * start is the earliest shard's, the environment the first shard's, and wallMs the shards' durations summed.
 */
export function mergeShards(parts: readonly SweepResults[], registry: Registry): SweepResults {
  const first = parts[0]
  if (first === undefined) throw new ConfigError('merge', 'no results to merge')
  const count = first.shard?.count
  const problems: string[] = []
  const seen = new Set<number>()
  for (const [i, p] of parts.entries()) {
    if (p.shard === undefined) problems.push(`part ${i + 1} is not a shard (run with --shard i/k)`)
    else {
      if (p.shard.count !== count) problems.push(`part ${i + 1} is shard ${p.shard.index}/${p.shard.count}, others are of ${count}`)
      if (seen.has(p.shard.index)) problems.push(`shard ${p.shard.index}/${p.shard.count} is given twice`)
      seen.add(p.shard.index)
    }
    if (JSON.stringify(p.config) !== JSON.stringify(first.config) || p.preset !== first.preset) {
      problems.push(`part ${i + 1} was run with another configuration than part 1`)
    }
  }
  if (count !== undefined) {
    const missing = Array.from({ length: count }, (_, i) => i + 1).filter(i => !seen.has(i))
    if (missing.length > 0) problems.push(`missing shard${missing.length === 1 ? '' : 's'} ${missing.map(i => `${i}/${count}`).join(', ')}`)
  }
  if (problems.length > 0) throw new ConfigError('merge', problems.join('; '))
  const plan = planSweep(first.config, registry)
  const runs = new Map(parts.flatMap(p => p.runs).map(r => [r.id, r]))
  const complexity = new Map(parts.flatMap(p => p.messageComplexity).map(m => [`${m.protocol}/${m.n}`, m]))
  const pick = <T>(found: T | undefined, what: string): T => {
    if (found === undefined) throw new ConfigError('merge', `no shard holds ${what}: were the shards run from another version?`)
    return found
  }
  return {
    schema: RESULTS_SCHEMA,
    startedAt: parts.map(p => p.startedAt).sort()[0]!,
    environment: first.environment,
    preset: first.preset,
    config: first.config,
    skipped: plan.skipped,
    messageComplexity: plan.complexity.map(c => pick(complexity.get(`${c.protocol}/${c.n}`), `the batch-size-1 measurement of ${c.protocol} n=${c.n}`)),
    runs: plan.runs.map(spec => pick(runs.get(spec.id), `run ${spec.id}`)),
    ...(() => {
      const cap = parts.find(p => p.linearizabilityCost !== undefined)?.linearizabilityCost
      return cap !== undefined ? { linearizabilityCost: cap } : {}
    })(),
    wallMs: parts.reduce((sum, p) => sum + p.wallMs, 0),
  }
}
