/**
 * One seeded simulation, end to end: build the cluster, schedule faults, drive the workload, heal, let the cluster
 * settle, and judge the history with the linearizability checker. Used by `npm run sim`, the soak runner and tests.
 */
import { checkHistory, type CheckResult } from '../../core/checker/index.ts'
import { ConfigError } from '../../core/errors.ts'
import type { HistoryEvent } from '../../core/history.ts'
import type { AnyProtocol } from '../../core/protocol.ts'
import { createRng } from '../../core/random.ts'
import type { SignerName } from '../../core/signer.ts'
import type { TypeCount } from '../stats.ts'
import { createSimCluster, type InjectedFault, type SimCluster, type SimClusterOptions } from './cluster.ts'
import { parseFaultSpec, randomFaultSchedule, type ScheduledFault } from './faults.ts'
import { formatCpuModel } from './cpu.ts'
import { TraceHash } from './trace.ts'
import { TimelineRecorder, type SimTimeline } from './timeline.ts'
import { runWorkload, type WorkloadOptions } from './workload.ts'

export interface SimulationOptions {
  readonly protocol: AnyProtocol
  readonly n: number
  readonly seed: number
  readonly ops: number
  readonly clients: number
  /** 'none', 'random', or a fault spec (see faults.ts). */
  readonly faults?: string
  /** Random faults are injected during this much virtual time (default 10 s). */
  readonly faultWindowMs?: number
  /** Byzantine strategies, applied to the highest-numbered replicas (cycled if fewer strategies than replicas). */
  readonly byzantine?: readonly string[]
  /**
   * How many replicas are Byzantine when strategies are given (default f, at most f). Fewer than f leaves room in the
   * fault budget for crashes of honest replicas in the same run.
   */
  readonly byzantineCount?: number
  readonly protocolOptions?: Readonly<Record<string, unknown>>
  readonly signer?: SignerName
  readonly tickMs?: number
  readonly snapshotInterval?: number
  readonly fsyncMs?: number
  readonly network?: SimClusterOptions['network']
  readonly cpu?: SimClusterOptions['cpu']
  readonly workload?: Partial<Omit<WorkloadOptions, 'ops' | 'rng'>>
  /** Replace the key-value store (tests inject a faulty one to see a violation reported and drawn). */
  readonly stateMachine?: SimClusterOptions['stateMachine']
  /** Keep a text line per network event (memory-hungry; for diffing traces). */
  readonly traceLines?: boolean
  /** Record every replica-to-replica message, fault and status change for viewing (viz/); off by default. */
  readonly timeline?: boolean
  /** Checker budget. */
  readonly checkTimeLimitMs?: number
  /** Called with the cluster once built (tests use it to look inside). */
  readonly onCluster?: (cluster: SimCluster) => void
}

export interface SimulationReport {
  readonly protocol: string
  readonly n: number
  readonly seed: number
  readonly ops: { readonly requested: number; readonly ok: number; readonly fail: number; readonly info: number }
  /** Every operation completed within the time bound. */
  readonly finished: boolean
  readonly virtualMs: number
  /** Replica-to-replica messages by type. */
  readonly protocolMessages: Record<string, TypeCount>
  readonly clientMessages: { readonly requests: TypeCount; readonly replies: TypeCount }
  readonly faults: readonly InjectedFault[]
  readonly byzantine: readonly { readonly replica: number; readonly strategy: string }[]
  readonly safetyViolations: readonly string[]
  readonly check: CheckResult
  readonly history: readonly HistoryEvent[]
  readonly traceHash: string
  readonly traceEvents: number
  readonly traceLines: readonly string[] | null
  readonly deliveries: number
  /** Present when `timeline` was asked for. */
  readonly timeline?: SimTimeline
}

export function resolveFaults(spec: string | undefined, n: number, windowMs: number, seed: number): ScheduledFault[] {
  if (spec === undefined || spec === 'none' || spec === '') return []
  if (spec === 'random') {
    // Fault schedule from its own stream of the seed, so changing the workload does not change the faults.
    return randomFaultSchedule(createFaultRng(seed), { n, windowMs })
  }
  return parseFaultSpec(spec, n)
}

function createFaultRng(seed: number) {
  return createRng(seed).fork('faults')
}

export function runSimulation(o: SimulationOptions): SimulationReport {
  const protocol = o.protocol
  const f = protocol.faultsTolerated(o.n)
  const byzantine: { replica: number; strategy: string }[] = []
  if (o.byzantine !== undefined && o.byzantine.length > 0) {
    const adversary = protocol.adversary
    if (adversary === undefined) throw new ConfigError('byzantine', `${protocol.name} has no Byzantine strategies (it tolerates crashes only)`)
    for (const s of o.byzantine) {
      if (!adversary.strategies.includes(s)) throw new ConfigError('byzantine', `unknown strategy "${s}" (known: ${adversary.strategies.join(', ')})`)
    }
    const count = o.byzantineCount ?? f
    if (!Number.isInteger(count) || count < 0 || count > f) {
      throw new ConfigError('byzantineCount', `must be an integer from 0 to f = ${f} for n = ${o.n}, got ${count}`)
    }
    for (let i = 0; i < count; i++) byzantine.push({ replica: o.n - 1 - i, strategy: o.byzantine[i % o.byzantine.length]! })
  }
  const windowMs = o.faultWindowMs ?? 10_000
  const faults = resolveFaults(o.faults, o.n, windowMs, o.seed)
  const cluster = createSimCluster({
    protocol,
    n: o.n,
    seed: o.seed,
    clients: o.clients,
    ...(o.protocolOptions !== undefined ? { protocolOptions: o.protocolOptions } : {}),
    ...(o.signer !== undefined ? { signer: o.signer } : {}),
    ...(o.tickMs !== undefined ? { tickMs: o.tickMs } : {}),
    ...(o.snapshotInterval !== undefined ? { snapshotInterval: o.snapshotInterval } : {}),
    ...(o.fsyncMs !== undefined ? { fsyncMs: o.fsyncMs } : {}),
    ...(o.network !== undefined ? { network: o.network } : {}),
    ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
    ...(o.stateMachine !== undefined ? { stateMachine: o.stateMachine } : {}),
    // Byzantine replicas count against f; crashes then target the honest rest only up to what remains.
    maxCrashed: Math.max(byzantine.length > 0 ? f - byzantine.length : f, protocol.faultModel === 'crash' ? 1 : 0),
    untrusted: byzantine.map(b => b.replica),
    replicaFactory: id => {
      const b = byzantine.find(x => x.replica === id)
      return b === undefined ? undefined : ctx => protocol.adversary!.createReplica(b.strategy, ctx)
    },
  })
  const trace = new TraceHash()
  if (o.traceLines === true) trace.lines = []
  cluster.network.trace = trace.record
  const timeline = o.timeline === true ? new TimelineRecorder(cluster).attach() : null
  o.onCluster?.(cluster)
  cluster.schedule(faults)
  // With random faults, spread the operations over the fault window so the faults hit a running workload.
  const thinkMs = o.workload?.thinkMs ?? (o.faults === 'random' && o.ops > 0 ? (windowMs * o.clients) / o.ops : 0)
  const workload = runWorkload(cluster, {
    ...o.workload,
    thinkMs,
    ops: o.ops,
    rng: createRng(o.seed).fork('workload'),
  })
  // Whatever the schedule did, end healed so the cluster can settle before the final checks.
  timeline?.noteFinalHeal()
  cluster.healAll()
  cluster.sim.run(cluster.sim.now() + 2000)
  const replicaStats = cluster.replicaStats()
  const clientStats = cluster.network.totals()
  const check = checkHistory(workload.history, { timeLimitMs: o.checkTimeLimitMs ?? 60_000 })
  const protocolMessages: Record<string, TypeCount> = {}
  for (const [type, c] of replicaStats.byType('protocol')) protocolMessages[type] = c
  return {
    protocol: protocol.name,
    n: o.n,
    seed: o.seed,
    ops: { requested: o.ops, ok: workload.ok, fail: workload.fail, info: workload.info },
    finished: workload.finished,
    virtualMs: workload.endMs - workload.startMs,
    protocolMessages,
    clientMessages: { requests: clientStats.total('request'), replies: clientStats.total('reply') },
    faults: cluster.faultLog,
    byzantine,
    safetyViolations: cluster.safetyViolations,
    check,
    history: workload.history,
    traceHash: trace.hex,
    traceEvents: trace.events,
    traceLines: trace.lines,
    deliveries: cluster.network.delivered,
    ...(timeline !== null ? { timeline: timeline.finish() } : {}),
  }
}

/** One line to rerun exactly this simulation (options the CLI cannot express are named in a trailing comment). */
export function replayCommand(o: SimulationOptions): string {
  let cmd = `npm run sim -- --protocol ${o.protocol.name} --n ${o.n} --seed ${o.seed} --ops ${o.ops} --clients ${o.clients}`
  if (o.faults !== undefined && o.faults !== 'none') cmd += ` --faults '${o.faults}'`
  if (o.faults === 'random' && o.faultWindowMs !== undefined) cmd += ` --fault-window ${o.faultWindowMs}`
  if (o.byzantine !== undefined && o.byzantine.length > 0) cmd += ` --byzantine ${o.byzantine.join(',')}`
  if (o.byzantineCount !== undefined) cmd += ` --byzantine-count ${o.byzantineCount}`
  if (o.signer !== undefined) cmd += ` --signer ${o.signer}`
  if (o.tickMs !== undefined) cmd += ` --tick-ms ${o.tickMs}`
  if (o.snapshotInterval !== undefined) cmd += ` --snapshot-interval ${o.snapshotInterval}`
  if (o.fsyncMs !== undefined) cmd += ` --fsync-ms ${o.fsyncMs}`
  if (o.workload?.keys !== undefined) cmd += ` --keys ${o.workload.keys}`
  if (o.cpu !== undefined) cmd += ` --cpu ${formatCpuModel(o.cpu, o.signer)}`
  for (const [k, v] of Object.entries(o.protocolOptions ?? {})) cmd += ` --option ${k}=${String(v)}`
  const other = [o.network !== undefined ? 'network' : '', o.workload !== undefined && Object.keys(o.workload).some(k => k !== 'keys') ? 'workload' : '']
    .filter(x => x !== '')
  if (other.length > 0) cmd += ` # plus the test's ${other.join(' and ')} settings`
  return cmd
}
