/**
 * What a benchmark run reports, simulated or live, in one place: the result types every reader of results uses
 * (tables, charts, compare, the HTML views) and the figures every runner derives the same way from its measured
 * window. Runners (run-one.ts for the simulator, live/ for real sockets) import from here; nothing here imports a
 * runner.
 */
import type { TypeCount } from '../core/message-stats.ts'
import type { FsyncPolicy } from '../core/storage/file-storage.ts'
import type { NodeId } from '../core/types.ts'
import { round3, type LatencyRecorder, type LatencySummary } from './latency.ts'
import type { RunSpec } from './matrix.ts'

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

export interface WanRegionFigures {
  readonly region: string
  readonly clients: number
  readonly p50: number | null
  readonly p99: number | null
  readonly predictedMs: number | null
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
  /** WAN networks: the leader (null for leaderless protocols), the prediction for the first client region, and per region. */
  readonly wan: {
    readonly leader: NodeId | null
    readonly predictedMs: number | null
    readonly model: string
    /** Per client region: clients there, measured p50/p99 of their operations (null: none completed) and the prediction. */
    readonly regions: readonly WanRegionFigures[]
  } | null
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
  /**
   * JavaScript heap the simulated cluster still held at the end of the run: heap in use after a forced collection
   * with the cluster, less the same once it is dropped (its replicas' logs, certificates and client state).
   * Null for live runs (replicas are other processes: their RSS is per process) and where no collection can be forced;
   * absent from results written before it existed.
   */
  readonly retainedHeapBytes?: number | null
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

/** Echo round trip measured in the same process and session, in ms (the floor under a commit's latency). */
export interface EchoFloor {
  readonly p50Ms: number
  readonly p99Ms: number
  readonly pings: number
}

/** How a live run ran, beside its figures. */
export interface LiveRunInfo {
  readonly fsync: FsyncPolicy
  /** Client identities, each its own libp2p node (there is no multiplexing of ids over one node). */
  readonly clientNodes: number
  /** Wall-clock ms to start the replicas and client nodes, and for every client's first write (excluded from figures). */
  readonly startMs: number
  readonly connectMs: number
  /** End-state check: every replica applied the same index and holds byte-identical state. */
  readonly agreement: 'agreed' | 'diverged' | 'unchecked'
  readonly echo: EchoFloor | null
  /** os.loadavg() when the run started: how busy the machine was. */
  readonly loadAverage: readonly number[]
  /** Replicas and load in separate OS processes, or all in one (absent in results written before the choice existed). */
  readonly form?: 'multi-process' | 'in-process' | 'external'
  /** Per process: CPU in the window, RSS at its end, messages per op (bench/live/process-figures.ts). */
  readonly processes?: readonly LiveProcessFigures[]
}

/**
 * One process of a live run: CPU time it spent in the measured window, its resident memory at the window's end and,
 * for replicas, the replica-to-replica messages it sent per completed operation. Multi-process runs have every figure;
 * in-process runs share one process, so replicas get only their messages and one 'whole-process' row carries the CPU
 * and memory of everything together.
 */
export interface LiveProcessFigures {
  /** 'whole-process': the in-process form's single process (replicas and clients together). */
  readonly role: 'replica' | 'load-generator' | 'whole-process'
  /** Replica id, or load generator index (0 for the whole process). */
  readonly id: number
  /** null: a replica on another host (`bench live --cluster`), read through its metrics endpoint. */
  readonly pid: number | null
  /** User + system CPU ms in the measured window (from /proc/<pid>/stat); null when not separable or not on Linux. */
  readonly cpuMs: number | null
  /** cpuMs over the window's wall time, in percent of one core. */
  readonly cpuPercent: number | null
  readonly cpuUsPerOp: number | null
  /** Resident set size at the window's end (VmRSS). */
  readonly rssBytes: number | null
  /** Replica-to-replica messages this replica sent in the window per completed operation (replicas only). */
  readonly messagesPerOp: number | null
  /** Share of cpuMs spent signing and verifying (0..1; replicas of the multi-process form only, else null). */
  readonly signatureCpuShare?: number | null
}
