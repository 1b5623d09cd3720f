/**
 * One seeded simulation, end to end: build the cluster, schedule faults, drive the workload, heal, let the cluster
 * settle, and judge the history with the linearizability checker. Used by `npm run sim`, the soak runner and tests.
 */
import { checkHistory, type CheckResult } from '../../core/checker/index.ts'
import { ConfigError } from '../../core/errors.ts'
import type { HistoryEvent } from '../../core/history.ts'
import type { AnyProtocol, TimingAssumptions } from '../../core/protocol.ts'
import { createRng } from '../../core/random.ts'
import type { SignerName } from '../../core/signer.ts'
import type { TypeCount } from '../../core/message-stats.ts'
import { byzantineClusterOptions, checkByzantinePlacements, placeByzantine, type ByzantinePlacement } from './byzantine.ts'
import { createSimCluster, SimCluster, type InjectedFault, type SimClusterOptions } from './cluster.ts'
import { createSimGroupCluster, SimGroupCluster } from './group-cluster.ts'
import { evenRanges } from '../../core/groups/range-map.ts'
import { kvKeySpace } from '../../core/kv-workload.ts'
import {
  endsHealed, FINAL_HEAL, parseFaultSpec, randomFaultSchedule, randomNemesisSchedule, type RandomFaultOptions,
  type ScheduledFault,
} from './faults.ts'
import { HistoryRecorder } from '../../core/history.ts'
import { judgeLiveness, type LivenessVerdict } from '../../core/liveness.ts'
export { formatLiveness, type LivenessVerdict } from '../../core/liveness.ts'
import { formatCpuModel } from './cpu.ts'
import { TraceHash } from './trace.ts'
import { TimelineRecorder, type SimTimeline } from './timeline.ts'
import { runWorkload, type SimulatedClients, type WorkloadOptions } from './workload.ts'

export interface SimulationOptions {
  readonly protocol: AnyProtocol
  readonly n: number
  readonly seed: number
  readonly ops: number
  readonly clients: number
  /**
   * 'none'; 'random' (crashes, restarts, partitions, loss, duplication, reordering); 'nemesis' (the whole menu: also
   * pauses, clock drift, outages beyond f, bit flips in storage); or a fault spec (see faults.ts). A schedule that does
   * not end with a full heal gets one HEAL_AFTER_LAST_FAULT_MS after its last fault.
   */
  readonly faults?: string
  /** Random faults are injected during this much virtual time (default 10 s). */
  readonly faultWindowMs?: number
  /**
   * Byzantine replicas: either strategies, applied to the highest-numbered replicas (cycled if fewer strategies than
   * replicas), or `id=strategy` items placing each one (`0=equivocate` puts a faulty primary in view 0).
   */
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
  /** Client requests a replica keeps pending at most before answering busy (core/admission.ts; default 4096). */
  readonly maxPendingRequests?: number
  readonly fsyncMs?: number
  readonly network?: SimClusterOptions['network']
  readonly cpu?: SimClusterOptions['cpu']
  /** Decode every frame from its bytes (network.ts); tests compare it with the default hand-over. */
  readonly decodeEveryFrame?: boolean
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
  /** The same for a multi-group run. */
  readonly onGroupCluster?: (cluster: SimGroupCluster) => void
  /**
   * Clock drift: each replica's clock runs at a rate drawn from the seed in [1 - d, 1 + d] (0.2: within 20% of true
   * time). Default 0.
   */
  readonly clockDrift?: number
  /** Liveness: operations invoked after the final heal must complete within this much virtual time (default 15 s). */
  readonly livenessBoundMs?: number
  /** Liveness: at most this share of all operations may time out (outcome unknown); default 0.1. */
  readonly maxTimedOutShare?: number
  /**
   * Multi-group: `n` nodes host `count` groups (ring placement, `replication` replicas each, default n), the
   * workload's keys split evenly over them; faults act on nodes (group-cluster.ts). Not with Byzantine replicas,
   * clock drift or timelines.
   */
  readonly groups?: SimulationGroups
}

export interface SimulationGroups {
  readonly count: number
  readonly replication?: number
  /** Coalesce frames per peer and turn (default true). */
  readonly coalesce?: boolean
  /** Move leaderships to their preferred nodes (default true). */
  readonly balanceLeaders?: boolean
}

/** What the run needs of a cluster, single-group (cluster.ts) or multi-group (group-cluster.ts). */
type RunnableCluster = Pick<SimCluster, 'sim' | 'network' | 'schedule' | 'watchCommitsFrom' | 'healAll' |
  'firstCommitSinceWatch' | 'replicaStats' | 'faultLog' | 'safetyViolations' | 'refused' | 'amnesiac'> &
  SimulatedClients & { readonly protocol: AnyProtocol }

/** A hand-written schedule that does not end healed is healed this long after its last fault. */
export const HEAL_AFTER_LAST_FAULT_MS = 1000
export const DEFAULT_LIVENESS_BOUND_MS = 15_000
export const DEFAULT_MAX_TIMED_OUT_SHARE = 0.1
/** A faulty run gives up this long after the final heal (a stalled cluster need not be simulated for minutes). */
const GIVE_UP_AFTER_HEAL_MS = 120_000


export interface SimulationReport {
  readonly protocol: string
  readonly n: number
  /** Multi-group runs: how many groups the n nodes hosted; else null. */
  readonly groups: number | null
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
  readonly liveness: LivenessVerdict
  /** The protocol's timing assumption when this run breaks it on purpose (a violation is then expected), else null. */
  readonly assumptionBroken: string | null
  /** Replicas that refused their storage at start (damage detected), with the reason. */
  readonly refused: readonly { readonly replica: number; readonly reason: string }[]
  /** Replicas that restarted having silently lost acknowledged writes (undetected lying fsync): beyond the model. */
  readonly amnesiac: readonly { readonly replica: number; readonly reason: string }[]
  /** The checker's verdict on the history: required for linearizable protocols, reported for eventual ones. */
  readonly check: CheckResult
  /** What the protocol promises (its descriptor's `consistency`); decides what `runPassed` requires. */
  readonly consistency: 'linearizable' | 'eventual'
  /** Eventually consistent protocols: whether the up replicas' stored state agreed once healed and settled; else null. */
  readonly convergence: ConvergenceVerdict | null
  /**
   * Up honest replicas whose state differs from the most advanced one once healed and settled, with every replica's
   * applied index (null for multi-group runs). Reported, not required: a PBFT replica that started a view change alone
   * may take no part in the old view and waits for the next checkpoint or view change, as the paper has it.
   */
  readonly behind: { readonly replicas: readonly number[]; readonly applied: Readonly<Record<number, number>> } | null
  readonly history: readonly HistoryEvent[]
  readonly traceHash: string
  readonly traceEvents: number
  readonly traceLines: readonly string[] | null
  readonly deliveries: number
  /** Present when `timeline` was asked for. */
  readonly timeline?: SimTimeline
}

export interface ConvergenceVerdict {
  readonly ok: boolean
  /** Replica -> its stateDigest() after the settle period. */
  readonly digests: Readonly<Record<number, string>>
  /** Why not, in words (empty when ok). */
  readonly reason: string
}

export function resolveFaults(spec: string | undefined, n: number, windowMs: number, seed: number,
  limits: Pick<RandomFaultOptions, 'maxClockRateRatio' | 'pauses'> = {}): ScheduledFault[] {
  if (spec === undefined || spec === 'none' || spec === '') return []
  // Fault schedules from their own stream of the seed, so changing the workload does not change the faults.
  if (spec === 'random') return randomFaultSchedule(createFaultRng(seed), { n, windowMs })
  if (spec === 'nemesis') return randomNemesisSchedule(createFaultRng(seed), { n, windowMs, ...limits })
  const faults = parseFaultSpec(spec, n)
  if (endsHealed(faults)) return faults
  const healAt = faults[faults.length - 1]!.at + HEAL_AFTER_LAST_FAULT_MS
  return [...faults, ...FINAL_HEAL.map(action => ({ at: healAt, action }))]
}

function createFaultRng(seed: number) {
  return createRng(seed).fork('faults')
}

export function runSimulation(o: SimulationOptions): SimulationReport {
  const protocol = o.protocol
  const f = protocol.faultsTolerated(o.n)
  const byzantine: ByzantinePlacement[] = []
  if (o.byzantine !== undefined && o.byzantine.length > 0) {
    if (protocol.adversary === undefined) throw new ConfigError('byzantine', `${protocol.name} has no Byzantine strategies (it tolerates crashes only)`)
    const count = o.byzantineCount ?? f
    if (!Number.isInteger(count) || count < 0 || count > f) {
      throw new ConfigError('byzantineCount', `must be an integer from 0 to f = ${f} for n = ${o.n}, got ${count}`)
    }
    byzantine.push(...placeByzantine(o.byzantine, o.n, count))
    checkByzantinePlacements(protocol, o.n, byzantine)
  }
  const drift = o.clockDrift ?? 0
  if (!(drift >= 0 && drift < 1)) throw new ConfigError('clockDrift', `must be at least 0 and below 1, got ${drift}`)
  const clockRng = createRng(o.seed).fork('clocks')
  const clockRates = drift === 0 ? undefined : Array.from({ length: o.n }, () => Math.round((1 + drift * (2 * clockRng.next() - 1)) * 1000) / 1000)
  const boundMs = o.livenessBoundMs ?? DEFAULT_LIVENESS_BOUND_MS
  const maxTimedOutShare = o.maxTimedOutShare ?? DEFAULT_MAX_TIMED_OUT_SHARE
  const windowMs = o.faultWindowMs ?? 10_000
  // A protocol's timing assumption (leases): random schedules stay inside it; a run that breaks it says so.
  const timing = protocol.timingAssumptions?.(protocol.parseOptions(o.protocolOptions ?? {}, o.n))
  const baseRatio = drift === 0 ? 1 : (1 + drift) / (1 - drift)
  const limits = timing === undefined ? {} : { maxClockRateRatio: Math.max(1, timing.maxClockRateRatio / baseRatio * 0.95), pauses: timing.pauseSafe }
  const faults = resolveFaults(o.faults, o.n, windowMs, o.seed, limits)
  const assumptionBroken = timing === undefined ? null : brokenTimingAssumption(timing, baseRatio, faults)
  if (o.groups !== undefined) {
    const refused = byzantine.length > 0 ? 'Byzantine replicas' : drift > 0 ? 'clock drift' : o.timeline === true ? 'timelines'
      : o.network !== undefined ? 'network topologies' : protocol.consistency === 'eventual' ? 'eventually consistent protocols' : null
    if (refused !== null) throw new ConfigError('groups', `multi-group runs do not support ${refused} yet`)
  }
  const cluster: RunnableCluster = o.groups !== undefined ? createSimGroupCluster({
    protocol, nodes: o.n, seed: o.seed, clients: o.clients,
    ranges: evenRanges(kvKeySpace(o.workload ?? {}), o.groups.count),
    ...(o.groups.replication !== undefined ? { replication: o.groups.replication } : {}),
    ...(o.groups.coalesce !== undefined ? { coalesce: o.groups.coalesce } : {}),
    ...(o.groups.balanceLeaders !== undefined ? { balanceLeaders: o.groups.balanceLeaders } : {}),
    ...(o.protocolOptions !== undefined ? { protocolOptions: o.protocolOptions } : {}),
    ...(o.signer !== undefined ? { signer: o.signer } : {}),
    ...(o.tickMs !== undefined ? { tickMs: o.tickMs } : {}),
    ...(o.snapshotInterval !== undefined ? { snapshotInterval: o.snapshotInterval } : {}),
    ...(o.fsyncMs !== undefined ? { fsyncMs: o.fsyncMs } : {}),
    ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
    ...(o.decodeEveryFrame === true ? { decodeEveryFrame: true } : {}),
    ...(o.stateMachine !== undefined ? { stateMachine: o.stateMachine } : {}),
  }) : createSimCluster({
    protocol,
    n: o.n,
    seed: o.seed,
    clients: o.clients,
    ...(o.protocolOptions !== undefined ? { protocolOptions: o.protocolOptions } : {}),
    ...(o.signer !== undefined ? { signer: o.signer } : {}),
    ...(o.tickMs !== undefined ? { tickMs: o.tickMs } : {}),
    ...(o.snapshotInterval !== undefined ? { snapshotInterval: o.snapshotInterval } : {}),
    ...(o.maxPendingRequests !== undefined ? { maxPendingRequests: o.maxPendingRequests } : {}),
    ...(o.fsyncMs !== undefined ? { fsyncMs: o.fsyncMs } : {}),
    ...(o.network !== undefined ? { network: o.network } : {}),
    ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
    ...(o.decodeEveryFrame === true ? { decodeEveryFrame: true } : {}),
    ...(clockRates !== undefined ? { clockRates } : {}),
    ...(o.stateMachine !== undefined ? { stateMachine: o.stateMachine } : {}),
    // Byzantine replicas count against f; crashes then target the honest rest only up to what remains.
    maxCrashed: Math.max(byzantine.length > 0 ? f - byzantine.length : f, protocol.faultModel === 'crash' ? 1 : 0),
    ...byzantineClusterOptions(protocol, byzantine),
  })
  const trace = new TraceHash()
  if (o.traceLines === true) trace.lines = []
  cluster.network.trace = trace.record
  const single = cluster instanceof SimCluster ? cluster : null
  const timeline = o.timeline === true && single !== null ? new TimelineRecorder(single).attach() : null
  if (single !== null) o.onCluster?.(single)
  if (cluster instanceof SimGroupCluster) o.onGroupCluster?.(cluster)
  cluster.schedule(faults)
  const healAt = faults.length === 0 ? null : faults[faults.length - 1]!.at
  if (healAt !== null) cluster.sim.at(healAt, () => cluster.watchCommitsFrom(healAt))
  // With random faults, spread the operations over the fault window so the faults hit a running workload.
  const randomFaults = o.faults === 'random' || o.faults === 'nemesis'
  const thinkMs = o.workload?.thinkMs ?? (randomFaults && o.ops > 0 ? (windowMs * o.clients) / o.ops : 0)
  const recorder = new HistoryRecorder()
  const workload = runWorkload(cluster, {
    ...o.workload,
    thinkMs,
    ops: o.ops,
    rng: createRng(o.seed).fork('workload'),
    recorder,
    ...(healAt !== null && o.workload?.maxDurationMs === undefined ? { maxDurationMs: healAt + GIVE_UP_AFTER_HEAL_MS } : {}),
  })
  // The probe: once healed, every client writes and reads again, and each must be answered within the bound.
  let probe: ReturnType<typeof runWorkload> | null = null
  const probeOps = Math.max(2 * o.clients, 10)
  if (workload.finished) {
    if (healAt !== null && cluster.sim.now() < healAt) cluster.sim.run(healAt)
    probe = runWorkload(cluster, {
      ...o.workload, thinkMs: 0, ops: probeOps, timeoutMs: boundMs, maxDurationMs: boundMs + 1000,
      rng: createRng(o.seed).fork('probe'), recorder, valuePrefix: 'probe-',
    })
  }
  // Whatever the schedule did, end healed so the cluster can settle before the final checks.
  timeline?.noteFinalHeal()
  cluster.healAll()
  cluster.sim.run(cluster.sim.now() + 2000)
  const history = recorder.events
  const liveness = judgeLiveness(history, {
    finished: workload.finished && (probe?.finished ?? false), healAt, boundMs, maxTimedOutShare,
    firstCommit: cluster.firstCommitSinceWatch,
  })
  // Protocol messages as each group's transport counted them (a multi-group cluster's wire frames carry many).
  const replicaStats = cluster instanceof SimGroupCluster ? cluster.groupStats() : cluster.replicaStats()
  const clientStats = cluster.network.totals()
  const check = checkHistory(history, { timeLimitMs: o.checkTimeLimitMs ?? 60_000 })
  const protocolMessages: Record<string, TypeCount> = {}
  for (const [type, c] of replicaStats.byType('protocol')) protocolMessages[type] = c
  return {
    protocol: protocol.name,
    n: o.n,
    groups: o.groups?.count ?? null,
    seed: o.seed,
    ops: {
      requested: o.ops + (probe === null ? 0 : probeOps),
      ok: workload.ok + (probe?.ok ?? 0), fail: workload.fail + (probe?.fail ?? 0), info: workload.info + (probe?.info ?? 0),
    },
    finished: workload.finished && (probe?.finished ?? false),
    virtualMs: (probe ?? workload).endMs - workload.startMs,
    protocolMessages,
    clientMessages: { requests: clientStats.total('request'), replies: clientStats.total('reply') },
    faults: cluster.faultLog,
    byzantine,
    safetyViolations: cluster.safetyViolations,
    liveness,
    assumptionBroken,
    refused: [...cluster.refused].map(([replica, reason]) => ({ replica, reason })),
    amnesiac: [...cluster.amnesiac].map(([replica, reason]) => ({ replica, reason })),
    check,
    consistency: protocol.consistency ?? 'linearizable',
    convergence: protocol.consistency === 'eventual' && single !== null ? judgeConvergence(single) : null,
    behind: single === null ? null : single.replicasBehind(),
    history,
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
  if ((o.faults === 'random' || o.faults === 'nemesis') && o.faultWindowMs !== undefined) cmd += ` --fault-window ${o.faultWindowMs}`
  if (o.byzantine !== undefined && o.byzantine.length > 0) cmd += ` --byzantine ${o.byzantine.join(',')}`
  if (o.byzantineCount !== undefined) cmd += ` --byzantine-count ${o.byzantineCount}`
  if (o.signer !== undefined) cmd += ` --signer ${o.signer}`
  if (o.tickMs !== undefined) cmd += ` --tick-ms ${o.tickMs}`
  if (o.snapshotInterval !== undefined) cmd += ` --snapshot-interval ${o.snapshotInterval}`
  if (o.maxPendingRequests !== undefined) cmd += ` --max-pending ${o.maxPendingRequests}`
  if (o.fsyncMs !== undefined) cmd += ` --fsync-ms ${o.fsyncMs}`
  if (o.workload?.keys !== undefined) cmd += ` --keys ${o.workload.keys}`
  if (o.workload?.writersPerKey === 'single') cmd += ' --writers-per-key single'
  if (o.cpu !== undefined) cmd += ` --cpu ${formatCpuModel(o.cpu, o.signer)}`
  if (o.clockDrift !== undefined && o.clockDrift > 0) cmd += ` --clock-drift ${o.clockDrift}`
  if (o.livenessBoundMs !== undefined) cmd += ` --liveness-bound ${o.livenessBoundMs}`
  if (o.groups !== undefined) {
    cmd += ` --groups ${o.groups.count}`
    if (o.groups.replication !== undefined) cmd += ` --replication ${o.groups.replication}`
    if (o.groups.coalesce === false) cmd += ' --no-coalesce'
    if (o.groups.balanceLeaders === false) cmd += ' --no-balance-leaders'
  }
  if (o.maxTimedOutShare !== undefined) cmd += ` --max-timed-out ${o.maxTimedOutShare}`
  for (const [k, v] of Object.entries(o.protocolOptions ?? {})) cmd += ` --option ${k}=${String(v)}`
  const other = [o.network !== undefined ? 'network' : '', o.workload !== undefined && Object.keys(o.workload).some(k => k !== 'keys' && k !== 'writersPerKey') ? 'workload' : '']
    .filter(x => x !== '')
  if (other.length > 0) cmd += ` # plus the test's ${other.join(' and ')} settings`
  return cmd
}

/**
 * Safe and live (see LivenessVerdict). Safe means linearizable with replicas in agreement; for an eventually
 * consistent protocol (quorum-kv), whose histories may well fail the checker, it means its replicas converged.
 */
export function runPassed(r: SimulationReport): boolean {
  const consistent = r.consistency === 'eventual' ? r.convergence?.ok === true : r.check.ok
  return consistent && r.safetyViolations.length === 0 && r.liveness.ok
}

/** "replica 0 at applied index 384, the most advanced at 510", or null when every up honest replica agrees. */
export function describeBehind(b: SimulationReport['behind']): string | null {
  if (b === null || b.replicas.length === 0) return null
  const most = Math.max(...Object.values(b.applied))
  const which = b.replicas.map(id => `${id} at applied index ${b.applied[id]}`).join(', ')
  return `replica${b.replicas.length > 1 ? 's' : ''} ${which}, the most advanced at ${most}`
}

/** Eventual consistency's promise: once healed and settled, every up honest replica stores the same state. */
function judgeConvergence(cluster: SimCluster): ConvergenceVerdict {
  const digests = cluster.stateDigests()
  const ids = Object.keys(digests)
  if (ids.length === 0) return { ok: false, digests, reason: `${cluster.protocol.name} replicas report no stateDigest()` }
  const distinct = new Set(Object.values(digests))
  return distinct.size === 1
    ? { ok: true, digests, reason: '' }
    : { ok: false, digests, reason: `${distinct.size} different states among replicas ${ids.join(', ')} after the final heal` }
}


/** Whether base drift or the schedule's clock and pause faults go beyond the protocol's timing assumption. */
function brokenTimingAssumption(timing: TimingAssumptions, baseRatio: number, faults: readonly ScheduledFault[]): string | null {
  let low = 1
  let high = 1
  let paused = false
  for (const f of faults) {
    if (f.action.kind === 'clock' && f.action.node !== 'all') { low = Math.min(low, f.action.rate); high = Math.max(high, f.action.rate) }
    if (f.action.kind === 'pause') paused = true
  }
  const ratio = baseRatio * (high / low)
  if (ratio < timing.maxClockRateRatio && (timing.pauseSafe || !paused)) return null
  return `${timing.statement} (this run: clock rates up to ${ratio.toFixed(3)}x apart${paused ? ', pauses' : ''})`
}
