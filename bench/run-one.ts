/**
 * One benchmark run: build a simulated cluster for a RunSpec, warm it up, apply the fault, drive the load through the
 * measured window, and collect the figures.
 *
 * `figures` come from virtual time and the transport's counters only, so the same spec and seed give the same
 * figures; `host` holds what this machine measured about the run (CPU time, memory, wall-clock speed), kept apart
 * because it varies from run to run.
 */
import { ConfigError } from '../core/errors.ts'
import { createRng } from '../core/random.ts'
import { HistoryRecorder, type HistoryEvent } from '../core/history.ts'
import { TimelineRecorder, type SimTimeline } from '../net/sim/timeline.ts'
import type { AnyProtocol } from '../core/protocol.ts'
import type { NodeId } from '../core/types.ts'
import { byzantineClusterOptions, checkByzantinePlacements, placeStrategy, type ByzantinePlacement } from '../net/sim/byzantine.ts'
import { createSimCluster, type SimCluster } from '../net/sim/cluster.ts'
import { parseCpuModel } from '../net/sim/cpu.ts'
import { HostMeter } from './host-meter.ts'
import { collectedHeapUsed, forcedCollector, heapGrowth, heapUsedHolding } from './retained-heap.ts'
import { snapshotIntervalFor } from './snapshot-interval.ts'
import type { TypeCount } from '../core/message-stats.ts'
import { round3, type LatencyRecorder } from './latency.ts'
import { runLoad } from './load.ts'
import { workloadOf } from './workload.ts'
import type { RunSpec } from './matrix.ts'
import { parseByzantineKind } from './config.ts'
import { simNetworkOptions, WAN_TOPOLOGY } from './networks.ts'
import { predictCommitLatency } from './wan-model.ts'
import { judgeRun, windowFigures, type FailoverFigures, type HostFigures, type RunFigures, type RunResult } from './figures.ts'

const FAILOVER_PROBE_MS = 1
/**
 * A crash run measures at least this long after the crash (its window is stretched if needed, and it does not stop at
 * maxOps before): long enough for a PBFT view change to show, not just a Raft election.
 */
const CRASH_RECOVERY_WINDOW_MS = 2000

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

type Recording = { readonly history?: HistoryRecorder; readonly onCluster?: (cluster: SimCluster) => void }

export function runOne(spec: RunSpec, protocol: AnyProtocol, recording: Recording = {}): RunResult {
  const gc = forcedCollector()
  const { result, heapWithCluster } = runCluster(spec, protocol, recording, gc)
  // The cluster is unreachable now (unless a recording holds it): what the heap shrank by is what it held. Measured
  // this way round, caches the run filled that outlive it (the sim signer's, the codec's slabs) are not counted.
  const retainedHeapBytes = heapGrowth(collectedHeapUsed(gc), heapWithCluster)
  return { ...result, host: { ...result.host, retainedHeapBytes } }
}

function runCluster(spec: RunSpec, protocol: AnyProtocol, recording: Recording, gc: (() => void) | null):
  { readonly result: RunResult; readonly heapWithCluster: number | null } {
  const meter = new HostMeter()

  const byzantine: ByzantinePlacement[] = []
  if (spec.fault.startsWith('byzantine:')) {
    const { strategy, placement } = parseByzantineKind(spec.fault)
    if (placement === 'invalid') throw new ConfigError('faults', `"${spec.fault}": a strategy is placed @primary or @backup`)
    byzantine.push(...placeStrategy(protocol, strategy, placement, spec.n, spec.f))
    checkByzantinePlacements(protocol, spec.n, byzantine)
  }
  const untrusted = new Set(byzantine.map(b => b.replica))
  const network = simNetworkOptions(spec.network, spec.n, spec.clients)
  const wanRun = network.regions !== undefined
  const cluster = createSimCluster({
    protocol, n: spec.n, seed: spec.seed, clients: spec.clients, protocolOptions: spec.protocolOptions,
    signer: spec.signer, tickMs: spec.tickMs, snapshotInterval: snapshotIntervalFor(protocol, spec.snapshotInterval, spec.protocolOptions, spec.n),
    network, ...(spec.cpu === 'none' ? {} : { cpu: parseCpuModel(spec.cpu, '--cpu', spec.signer) }),
    ...byzantineClusterOptions(protocol, byzantine),
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
  let wanLeader: NodeId | null = null
  const loadStart = sim.now()
  // A leader crash and a leader transfer both take the leader away a quarter into the window; the window lasts long
  // enough after it to show the recovery.
  const transferRun = spec.fault === 'transfer-leader'
  const crashRun = spec.fault === 'crash-leader' || transferRun
  const crashOffsetMs = spec.durationMs * 0.25
  const windowMs = crashRun ? Math.max(spec.durationMs, crashOffsetMs + CRASH_RECOVERY_WINDOW_MS) : spec.durationMs
  const crashAt = loadStart + spec.warmupMs + crashOffsetMs
  if (crashRun) {
    sim.at(crashAt, () => {
      const leader = cluster.leader()
      const threshold = maxCommitIndex(cluster, () => true)
      const victims: NodeId[] = []
      if (transferRun) {
        // Through the contract's admin input, to the next replica; the matrix runs this only for protocols that have it.
        const to = leader === null ? 0 : (leader + 1) % spec.n
        const refusal = leader === null ? 'no leader' : cluster.host(leader).admin({ kind: 'transfer-leadership', to })
        cluster.faultLog.push({ at: sim.now(), description: `transfer-leader ${leader} -> ${to}${refusal === null ? '' : ` refused: ${refusal}`}` })
      } else {
        // The leader first, then the highest-numbered other replicas until f are down.
        if (leader !== null) victims.push(leader)
        for (let id = spec.n - 1; id >= 0 && victims.length < spec.f; id--) if (!victims.includes(id)) victims.push(id)
        for (const id of victims) cluster.crash(id)
        // Logged like a scheduled fault, so a recorded rerun (bench --html-runs) draws it.
        cluster.faultLog.push({ at: sim.now(), description: `crash-leader -> crashed ${victims.join(', ')}` })
      }
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
    ...workloadOf(spec), durationMs: windowMs, mode: spec.mode, rate: spec.rate,
    // A crash run measures at least until well after the failover; others may stop at maxOps.
    minWindowMs: crashRun ? crashOffsetMs + CRASH_RECOVERY_WINDOW_MS : 0,
    onCompleted: (intendedAt, now) => {
      const f = currentFailover()
      if (f !== null && f.failoverMs === null && intendedAt > crashAt) f.failoverMs = round3(now - crashAt)
    },
    rng: createRng(spec.seed).fork('bench-load'),
    ...(recording.history !== undefined ? { history: recording.history } : {}),
    ...(wanRun ? { latencyGroupOf: (client: NodeId) => WAN_TOPOLOGY.names[cluster.regionOf(client)]! } : {}),
    onMeasureStart: () => {
      before = cluster.replicaStats().byType('protocol')
      if (wanRun) wanLeader = protocol.leaderless === true ? null : cluster.leader()
    },
  })
  if (wanRun) wan = wanFigures(protocol, spec, network, wanLeader, load.latencyByGroup)
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
  // After the wall and CPU figures: the collection is not the run's work.
  return { result: { id: spec.id, spec, timebase: 'virtual', figures, host }, heapWithCluster: heapUsedHolding(cluster, gc) }
}

/**
 * Commit latency per client region next to what the RTT matrix predicts for a client there: with a leader, the
 * client's round trip to it plus its quorum round trip; leaderless protocols get no prediction here (their fast path
 * depends on the protocol's own quorums), only the measurement.
 */
function wanFigures(protocol: AnyProtocol, spec: RunSpec, network: ReturnType<typeof simNetworkOptions>, leader: NodeId | null,
  byRegion: ReadonlyMap<string, LatencyRecorder>): NonNullable<RunFigures['wan']> {
  const clientRegions = network.clientRegions ?? Array.from({ length: spec.clients }, () => network.clientRegion ?? 0)
  const predict = (clientRegion: number) => leader === null ? null : predictCommitLatency({
    faultModel: protocol.faultModel, n: spec.n, f: protocol.faultsTolerated(spec.n), leader,
    placement: network.replicaRegions ?? [], clientRegion, topology: WAN_TOPOLOGY,
  })
  const regions = WAN_TOPOLOGY.names.flatMap((name, r) => {
    const clients = clientRegions.filter(x => x === r).length
    if (clients === 0) return []
    const latency = byRegion.get(name)?.summary()
    const p = predict(r)
    return [{ region: name, clients, p50: latency?.p50 ?? null, p99: latency?.p99 ?? null, predictedMs: p === null ? null : round3(p.predictedMs) }]
  })
  const first = predict(network.clientRegion ?? clientRegions[0] ?? 0)
  return {
    leader, predictedMs: first === null ? null : round3(first.predictedMs),
    model: first?.model ?? 'leaderless: no prediction (measured only)', regions,
  }
}

function signatureShare(charged: { readonly messages: number; readonly signatures: number }): number | null {
  const total = charged.messages + charged.signatures
  return total === 0 ? null : Math.round((charged.signatures / total) * 1000) / 1000
}
