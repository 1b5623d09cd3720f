/**
 * One benchmark run: build a simulated cluster for a RunSpec, warm it up, apply the fault, drive the load through the
 * measured window, and collect the figures.
 *
 * `figures` come from virtual time and the transport's counters only, so the same spec and seed give the same
 * figures; `host` holds what this machine measured about the run (CPU time, memory, wall-clock speed), kept apart
 * because it varies from run to run.
 */
import { createRng } from '../core/random.ts'
import { HistoryRecorder, type HistoryEvent } from '../core/history.ts'
import { TimelineRecorder, type SimTimeline } from '../net/sim/timeline.ts'
import type { AnyProtocol } from '../core/protocol.ts'
import type { NodeId } from '../core/types.ts'
import { createSimCluster, type SimCluster } from '../net/sim/cluster.ts'
import { parseCpuModel } from '../net/sim/cpu.ts'
import { HostMeter } from './host-meter.ts'
import { snapshotIntervalFor } from './snapshot-interval.ts'
import type { TypeCount } from '../core/message-stats.ts'
import { round3, type LatencyRecorder, type LatencySummary } from './latency.ts'
import { runLoad } from './load.ts'
import type { RunSpec } from './matrix.ts'
import { parseByzantineKind } from './config.ts'
import { simNetworkOptions, WAN_TOPOLOGY } from './networks.ts'
import { predictCommitLatency } from './wan-model.ts'
import type { LiveRunInfo } from './live/run-live.ts'

export interface PerOp {
  readonly total: number
  readonly byType: Readonly<Record<string, number>>
}

export interface FailoverFigures {
  /** Virtual ms since the start of the warm-up at which the faulty replicas were crashed. */
  readonly crashAtMs: number
  readonly crashed: readonly NodeId[]
  /** The replica leading when the fault hit (null if none claimed leadership). */
  readonly leader: NodeId | null
  /**
   * Virtual time from the crash to the first completed operation that a client issued after it: the cluster is
   * committing new work again. null if none completed in the window.
   */
  readonly failoverMs: number | null
  /**
   * Virtual time from the crash to the first commit index beyond the highest committed at the crash on any surviving
   * replica. Earlier than failoverMs for pipelined protocols, where work already in flight can still commit.
   */
  readonly firstCommitMs: number | null
}

export interface RunFigures {
  readonly ops: number
  readonly timeouts: number
  readonly windowMs: number
  /** Operations per virtual second in the measured window. */
  readonly throughput: number
  readonly latencyMs: LatencySummary
  readonly messagesPerOp: PerOp
  readonly bytesPerOp: PerOp
  /** The protocol's steady-state count at batch size 1 (under load batching brings the measured figure below it). */
  readonly theoreticalMessagesPerOp: PerOp
  readonly failover: FailoverFigures | null
  /** Longest stretch of the window with no completed operation (virtual ms). */
  readonly maxGapMs: number
  readonly timeline: { readonly bucketMs: number; readonly windowStartMs: number; readonly ops: readonly number[] }
  readonly wan: { readonly leader: NodeId; readonly predictedMs: number; readonly model: string } | null
  readonly byzantine: readonly { readonly replica: NodeId; readonly strategy: string }[]
  readonly safetyViolations: number
  readonly backlog: number
  /** Open loop: operations that arrived in the window and had not finished when it closed. */
  readonly unfinished: number
  /** Network deliveries in the whole run (warm-up included). */
  readonly deliveries: number
  /** Share of the modelled processing time spent signing and verifying (whole run); null without a CPU model. */
  readonly signatureCpuShare: number | null
  /**
   * Whether the run made progress despite its fault (null: not judged, e.g. live runs): operations completed in the
   * last part of the window, a crashed leader was replaced, few timeouts. A throughput figure from a run that stopped
   * making progress would not mean what it says.
   */
  readonly liveness: { readonly ok: boolean; readonly problems: readonly string[] } | null
}

/** A faulty run must be committing again in its last quarter, and at most this share of its operations may time out. */
const MAX_TIMED_OUT_SHARE = 0.1

export function judgeRun(ops: number, timeouts: number, timeline: readonly number[], failover: FailoverFigures | null,
  crashRun: boolean): { ok: boolean; problems: string[] } {
  const problems: string[] = []
  if (crashRun && failover?.failoverMs == null) problems.push('no operation issued after the crash completed in the window')
  const tail = timeline.slice(Math.floor(timeline.length * 0.75))
  if (tail.length > 0 && tail.every(c => c === 0)) problems.push('no operation completed in the last quarter of the window')
  const attempted = ops + timeouts
  if (attempted > 0 && timeouts / attempted > MAX_TIMED_OUT_SHARE) {
    problems.push(`${timeouts} of ${attempted} operations timed out (more than ${MAX_TIMED_OUT_SHARE * 100}%)`)
  }
  return { ok: problems.length === 0, problems }
}

export interface HostFigures {
  readonly wallMs: number
  readonly cpuUserMs: number
  readonly cpuSystemMs: number
  readonly peakRssBytes: number
  readonly peakHeapBytes: number
  /** Simulator speed: network deliveries and committed operations per wall-clock second. */
  readonly deliveriesPerSec: number
  readonly opsPerSec: number
  /** CPU time of the whole simulated cluster (every replica and client run in this process) per measured operation. */
  readonly cpuUsPerOp: number
}

export interface RunResult {
  readonly id: string
  readonly spec: RunSpec
  /**
   * 'virtual': simulated, reproducible from the seed. 'wall-clock': measured on real sockets (network libp2p), noisy;
   * its figures are in wall-clock time and `live` says how it ran.
   */
  readonly timebase: 'virtual' | 'wall-clock'
  readonly figures: RunFigures
  readonly host: HostFigures
  readonly live?: LiveRunInfo
}

const FAILOVER_PROBE_MS = 1
/**
 * A crash run measures at least this long after the crash (its window is stretched if needed, and it does not stop at
 * maxOps before): long enough for a PBFT view change to show, not just a Raft election.
 */
const CRASH_RECOVERY_WINDOW_MS = 2000

/** What a measured window of load reports, simulated or live. */
export interface MeasuredWindow {
  readonly measuredOps: number
  readonly timeouts: number
  readonly windowStartMs: number
  readonly windowEndMs: number
  readonly latency: LatencyRecorder
  readonly maxGapMs: number
}

/** The figures every run derives the same way from its measured window and message counters. */
export function windowFigures(load: MeasuredWindow, before: ReadonlyMap<string, TypeCount>,
  after: ReadonlyMap<string, TypeCount>, theory: Readonly<Record<string, number>>):
  Pick<RunFigures, 'ops' | 'timeouts' | 'windowMs' | 'throughput' | 'latencyMs' | 'messagesPerOp' | 'bytesPerOp' |
    'theoreticalMessagesPerOp' | 'maxGapMs'> {
  const measuredMs = load.windowEndMs - load.windowStartMs
  return {
    ops: load.measuredOps,
    timeouts: load.timeouts,
    windowMs: round3(measuredMs),
    throughput: round3(measuredMs > 0 ? load.measuredOps / (measuredMs / 1000) : 0),
    latencyMs: load.latency.summary(),
    messagesPerOp: perOp(before, after, load.measuredOps, 'messages'),
    bytesPerOp: perOp(before, after, load.measuredOps, 'bytes'),
    theoreticalMessagesPerOp: { total: Object.values(theory).reduce((a, b) => a + b, 0), byType: { ...theory } },
    maxGapMs: round3(load.maxGapMs),
  }
}

/** Per-operation counts by type between two counter snapshots (shared with the live bench). */
export function perOp(before: ReadonlyMap<string, TypeCount>, after: ReadonlyMap<string, TypeCount>, ops: number,
  field: 'messages' | 'bytes'): PerOp {
  const byType: Record<string, number> = {}
  let total = 0
  for (const [type, c] of after) {
    const delta = c[field] - (before.get(type)?.[field] ?? 0)
    if (delta === 0) continue
    const v = ops > 0 ? delta / ops : 0
    byType[type] = round3(v)
    total += v
  }
  return { total: round3(total), byType }
}

function maxCommitIndex(cluster: SimCluster, trusted: (id: NodeId) => boolean): number {
  let max = 0
  for (const id of cluster.upReplicas) if (trusted(id)) max = Math.max(max, cluster.host(id).status().commitIndex)
  return max
}

/** What a recorded rerun of a run gives besides its figures (bench --html-runs). */
export interface RunRecording {
  readonly history: readonly HistoryEvent[]
  readonly timeline: SimTimeline
}

/**
 * Run `spec` again with its history and message timeline recorded, for the run's HTML view. The figures are the
 * same (same spec, same seed); the host measurements are not meaningful (recording costs time), so they are dropped.
 */
export function recordRun(spec: RunSpec, protocol: AnyProtocol, maxMessages?: number): RunRecording & { readonly figures: RunFigures } {
  const history = new HistoryRecorder()
  let recorder: TimelineRecorder | undefined
  const result = runOne(spec, protocol, {
    history,
    onCluster: cluster => { recorder = new TimelineRecorder(cluster, maxMessages !== undefined ? { maxMessages } : {}).attach() },
  })
  return { history: history.events, timeline: recorder!.finish(), figures: result.figures }
}

export function runOne(spec: RunSpec, protocol: AnyProtocol,
  recording: { readonly history?: HistoryRecorder; readonly onCluster?: (cluster: SimCluster) => void } = {}): RunResult {
  const meter = new HostMeter()

  const byzantine: { replica: NodeId; strategy: string }[] = []
  if (spec.fault.startsWith('byzantine:')) {
    const { strategy, placement } = parseByzantineKind(spec.fault)
    const atPrimary = placement === 'primary' || (placement === 'default' && protocol.adversary?.primaryOnly?.includes(strategy) === true)
    // The primaries of views 0..f-1 are replicas 0..f-1; backups in view 0 are the highest ids.
    for (let i = 0; i < spec.f; i++) byzantine.push({ replica: atPrimary ? i : spec.n - 1 - i, strategy })
  }
  const untrusted = new Set(byzantine.map(b => b.replica))
  const network = simNetworkOptions(spec.network, spec.n)
  const cluster = createSimCluster({
    protocol, n: spec.n, seed: spec.seed, clients: spec.clients, protocolOptions: spec.protocolOptions,
    signer: spec.signer, tickMs: spec.tickMs, snapshotInterval: snapshotIntervalFor(protocol, spec.snapshotInterval, spec.protocolOptions, spec.n),
    network, ...(spec.cpu === 'none' ? {} : { cpu: parseCpuModel(spec.cpu, '--cpu', spec.signer) }),
    untrusted: [...untrusted],
    replicaFactory: id => {
      const b = byzantine.find(x => x.replica === id)
      return b === undefined ? undefined : ctx => protocol.adversary!.createReplica(b.strategy, ctx)
    },
  })
  recording.onCluster?.(cluster)
  const sim = cluster.sim
  const sampleMemory = () => {
    meter.sample()
    sim.setTimer(250, sampleMemory)
  }
  sim.setTimer(250, sampleMemory)

  let before = new Map<string, TypeCount>()
  // Filled in by simulator events during the run (hence mutable and read through a getter).
  let failover: { -readonly [K in keyof FailoverFigures]: FailoverFigures[K] } | null = null
  const currentFailover = () => failover
  let wan: RunFigures['wan'] = null
  const loadStart = sim.now()
  const crashRun = spec.fault === 'crash-leader'
  // The crash comes a quarter into the window; the window lasts long enough after it to show the recovery.
  const crashOffsetMs = spec.durationMs * 0.25
  const windowMs = crashRun ? Math.max(spec.durationMs, crashOffsetMs + CRASH_RECOVERY_WINDOW_MS) : spec.durationMs
  const crashAt = loadStart + spec.warmupMs + crashOffsetMs
  if (crashRun) {
    sim.at(crashAt, () => {
      const leader = cluster.leader()
      const threshold = maxCommitIndex(cluster, () => true)
      // The leader first, then the highest-numbered other replicas until f are down.
      const victims: NodeId[] = leader === null ? [] : [leader]
      for (let id = spec.n - 1; id >= 0 && victims.length < spec.f; id--) if (!victims.includes(id)) victims.push(id)
      for (const id of victims) cluster.crash(id)
      // Logged like a scheduled fault, so a recorded rerun (bench --html-runs) draws it.
      cluster.faultLog.push({ at: sim.now(), description: `crash-leader -> crashed ${victims.join(', ')}` })
      const record: NonNullable<typeof failover> = { crashAtMs: sim.now() - loadStart, crashed: victims, leader, failoverMs: null, firstCommitMs: null }
      failover = record
      const probe = () => {
        if (maxCommitIndex(cluster, id => !untrusted.has(id)) > threshold) {
          record.firstCommitMs = round3(sim.now() - crashAt)
          return
        }
        sim.setTimer(FAILOVER_PROBE_MS, probe)
      }
      probe()
    })
  }

  const load = runLoad(cluster, {
    mode: spec.mode, rate: spec.rate, readRatio: spec.readRatio, valueSize: spec.valueSize, keys: spec.keys,
    keyDistribution: spec.keyDistribution, warmupMs: spec.warmupMs, durationMs: windowMs, maxOps: spec.maxOps,
    // A crash run measures at least until well after the failover; others may stop at maxOps.
    minWindowMs: crashRun ? crashOffsetMs + CRASH_RECOVERY_WINDOW_MS : 0,
    timelineBucketMs: spec.timelineBucketMs,
    onCompleted: (intendedAt, now) => {
      const f = currentFailover()
      if (f !== null && f.failoverMs === null && intendedAt > crashAt) f.failoverMs = round3(now - crashAt)
    },
    // Long enough that a failover completes inside it; the client protocol retries other replicas meanwhile.
    timeoutMs: Math.max(5000, spec.durationMs),
    rng: createRng(spec.seed).fork('bench-load'),
    ...(recording.history !== undefined ? { history: recording.history } : {}),
    onMeasureStart: () => {
      before = cluster.replicaStats().byType('protocol')
      if (spec.network === 'wan') {
        const leader = cluster.leader()
        if (leader !== null) {
          const p = predictCommitLatency({
            faultModel: protocol.faultModel, n: spec.n, f: protocol.faultsTolerated(spec.n), leader,
            placement: network.replicaRegions ?? [], clientRegion: network.clientRegion ?? 0, topology: WAN_TOPOLOGY,
          })
          wan = { leader, predictedMs: round3(p.predictedMs), model: p.model }
        }
      }
    },
  })
  const after = cluster.replicaStats().byType('protocol')
  const figures: RunFigures = {
    ...windowFigures(load, before, after, protocol.theoreticalMessages(spec.n)),
    failover,
    timeline: { bucketMs: spec.timelineBucketMs, windowStartMs: spec.warmupMs, ops: load.timeline },
    wan,
    byzantine,
    safetyViolations: cluster.safetyViolations.length,
    backlog: load.backlog,
    unfinished: load.unfinished,
    deliveries: cluster.network.delivered,
    signatureCpuShare: signatureShare(cluster.network.cpuCharged),
    liveness: judgeRun(load.measuredOps, load.timeouts, load.timeline.slice(Math.floor(spec.warmupMs / spec.timelineBucketMs)), failover, crashRun),
  }
  const host: HostFigures = meter.finish(cluster.network.delivered, load.measuredOps)
  return { id: spec.id, spec, timebase: 'virtual', figures, host }
}

function signatureShare(charged: { readonly messages: number; readonly signatures: number }): number | null {
  const total = charged.messages + charged.signatures
  return total === 0 ? null : Math.round((charged.signatures / total) * 1000) / 1000
}
