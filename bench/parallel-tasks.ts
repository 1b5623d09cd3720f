/**
 * The work bench/parallel.ts farms out: plain data in (protocols by registry name, so a task can cross a thread),
 * plain data out. The same function runs a task in a worker or, with one job, in the calling thread.
 */
import { protocols } from '../protocols/index.ts'
import { measureMessagesPerCommand, type MessageComplexity } from './message-complexity.ts'
import type { RunResult } from './figures.ts'
import type { RunSpec } from './matrix.ts'
import { runOne } from './run-one.ts'
import { describeBehind, formatLiveness, runSimulation, type SimulationOptions } from '../net/sim/run.ts'
import { ConfigError } from '../core/errors.ts'

/** A soak seed's outcome: what bin/soak.ts prints and counts. */
export interface SoakOutcome {
  readonly byzantineReplicas: number
  /** Names of the faults carried out (skipped ones and procedure progress left out). */
  readonly faults: readonly string[]
  readonly kind: 'safety' | 'checker' | 'liveness' | 'crash' | null
  readonly problem: string | null
  /** Up honest replicas still behind the most advanced one at the end, in words (reported, not a failure), else null. */
  readonly behind: string | null
  /** Set when the options themselves were invalid (soak exits 2). */
  readonly configError?: string
}

export type Task =
  | { readonly kind: 'run'; readonly spec: RunSpec }
  | { readonly kind: 'complexity'; readonly protocol: string; readonly n: number; readonly options: Parameters<typeof measureMessagesPerCommand>[2] }
  | { readonly kind: 'soak'; readonly protocol: string; readonly options: Omit<SimulationOptions, 'protocol'> }

export type TaskResult<T extends Task> =
  T extends { kind: 'run' } ? RunResult : T extends { kind: 'complexity' } ? MessageComplexity : SoakOutcome

function protocolNamed(name: string) {
  const p = protocols.get(name)
  if (p === undefined) throw new Error(`protocol "${name}" is not registered`)
  return p
}

export function runTask(task: Task): RunResult | MessageComplexity | SoakOutcome {
  switch (task.kind) {
    case 'run': return runOne(task.spec, protocolNamed(task.spec.protocol))
    case 'complexity': return measureMessagesPerCommand(protocolNamed(task.protocol), task.n, task.options)
    case 'soak': return soakOne({ ...task.options, protocol: protocolNamed(task.protocol) })
  }
}

/** One soak seed, judged: unsafe, not linearizable, not live, or the simulation threw. */
export function soakOne(options: SimulationOptions): SoakOutcome {
  let byzantineReplicas = 0
  let behind: string | null = null
  const faults: string[] = []
  try {
    const r = runSimulation(options)
    byzantineReplicas = r.byzantine.length
    behind = describeBehind(r.behind)
    for (const fault of r.faults) {
      if (fault.skipped !== undefined) continue
      const m = /^([a-z-]+)@/.exec(fault.description)
      if (m === null) continue // progress of a procedure (a replacement), not a fault of its own
      faults.push(m[1]!)
    }
    if (r.safetyViolations.length > 0) return { byzantineReplicas, faults, behind, kind: 'safety', problem: `safety: ${r.safetyViolations[0]}` }
    if (r.convergence !== null && !r.convergence.ok) return { byzantineReplicas, faults, behind, kind: 'safety', problem: `convergence: ${r.convergence.reason}` }
    // An eventually consistent protocol's histories are judged and reported, not required to be linearizable.
    if (!r.check.ok && r.consistency === 'linearizable') return { byzantineReplicas, faults, behind, kind: 'checker', problem: `checker: ${r.check.verdict}: ${r.check.explanation.split('\n')[0]}` }
    if (!r.liveness.ok) return { byzantineReplicas, faults, behind, kind: 'liveness', problem: `${formatLiveness(r.liveness)}: ${r.liveness.problems.join('; ')}` }
    return { byzantineReplicas, faults, behind, kind: null, problem: null }
  } catch (e) {
    if (e instanceof ConfigError) return { byzantineReplicas, faults, behind: null, kind: null, problem: null, configError: e.message }
    return { byzantineReplicas, faults, behind: null, kind: 'crash', problem: `crash: ${(e as Error).stack?.split('\n').slice(0, 3).join(' | ')}` }
  }
}
