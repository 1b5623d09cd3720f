/**
 * One measurement on a running loopback cluster: closed-loop load from the first `clients` client nodes, then the
 * figures in the same shape as a simulated run (bench/run-one.ts), but in wall-clock time on this machine.
 *
 * Messages and bytes per operation are counted at the replicas' libp2p transports, the same send point the simulator
 * counts at. CPU time is the whole process: replicas and clients share it, so `cpuUsPerOp` is the cluster's cost.
 */
import { createRng } from '../../core/random.ts'
import type { AnyProtocol } from '../../core/protocol.ts'
import type { TypeCount } from '../../core/message-stats.ts'
import { HostMeter } from '../host-meter.ts'
import type { Workload } from '../workload.ts'
import { windowFigures, type HostFigures, type RunFigures } from '../figures.ts'
import { runLiveLoad } from './live-load.ts'
import type { Agreement, LoopbackCluster } from './loopback-cluster.ts'
import { readProcess, type ProcessReading } from './proc-stat.ts'
import { cpuFigures, messagesBetween, perOpOf, type ProcessFigures } from './process-figures.ts'

export interface LiveWorkload extends Workload {
  /** Seeds the choice of keys and operations only; timing is the machine's. */
  readonly seed: number
}

export interface LiveMeasurement {
  readonly figures: RunFigures
  readonly host: HostFigures
  readonly agreement: Agreement
  /** Per replica (and load generator, or the one shared process): CPU, memory, messages per op in the window. */
  readonly processes: readonly ProcessFigures[]
  /** Log fsyncs of every replica in the window (multi-process form; null: not read). */
  readonly fsyncs?: number | null
  /** Client requests every replica answered busy in the window (admission control; multi-process form). */
  readonly requestsShed?: number | null
}

function replicaCounts(cluster: LoopbackCluster): Map<string, TypeCount> {
  const total = new Map<string, TypeCount>()
  for (const r of cluster.replicas) {
    for (const [type, c] of r.transport.stats.byType('protocol')) {
      const t = total.get(type)
      if (t === undefined) total.set(type, { ...c })
      else { t.messages += c.messages; t.bytes += c.bytes }
    }
  }
  return total
}

const received = (cluster: LoopbackCluster) => cluster.replicas.reduce((s, r) => s + r.transport.received.frames, 0)

/**
 * `clients` closed-loop callers on the first `nodes` client nodes (default: one node each), caller i on node i mod
 * nodes: with fewer nodes than callers, each node pipelines its callers' requests over its connections.
 */
export async function measureLive(cluster: LoopbackCluster, protocol: AnyProtocol, clients: number,
  w: LiveWorkload, nodes = clients): Promise<LiveMeasurement> {
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > cluster.clients.length) {
    throw new RangeError(`client nodes must be an integer from 1 to ${cluster.clients.length} (the cluster's client nodes), got ${nodes}`)
  }
  if (!Number.isInteger(clients) || clients < nodes) {
    throw new RangeError(`clients must be an integer of at least ${nodes} (one per client node), got ${clients}`)
  }
  const meter = new HostMeter()
  const sampler = setInterval(() => meter.sample(), 250)
  const deliveredStart = received(cluster)
  let before = new Map<string, TypeCount>()
  let after = new Map<string, TypeCount>()
  const edges: { at: number; reading: ProcessReading | null; sent: Map<string, TypeCount>[] }[] = []
  const edge = () => edges.push({ at: performance.now(), reading: readProcess(process.pid),
    sent: cluster.replicas.map(r => r.transport.stats.byType('protocol')) })
  let load
  try {
    load = await runLiveLoad(Array.from({ length: clients }, (_, i) => cluster.clients[i % nodes]!), {
      ...w, rng: createRng(w.seed).fork('bench-live-load'),
      onWindowStart: () => { before = replicaCounts(cluster); edge() },
      onWindowEnd: () => { after = replicaCounts(cluster); edge() },
    })
  } finally {
    clearInterval(sampler)
  }
  const agreement = await cluster.checkAgreement()
  const figures: RunFigures = {
    ...windowFigures(load, before, after, protocol.theoreticalMessages(cluster.replicas.length)),
    failover: null,
    timeline: { bucketMs: w.timelineBucketMs, windowStartMs: w.warmupMs, ops: load.timeline },
    wan: null,
    byzantine: [],
    safetyViolations: agreement.verdict === 'diverged' ? 1 : 0,
    backlog: load.backlog,
    unfinished: load.unfinished,
    deliveries: received(cluster) - deliveredStart,
    // Processing time is modelled only in the simulator; here it is real and not split by kind.
    signatureCpuShare: null,
    liveness: null,
  }
  const [start, end] = [edges[0]!, edges[edges.length - 1]!]
  const ops = load.measuredOps
  const whole = cpuFigures(start.reading, end.reading, end.at - start.at, ops)
  // CPU per operation over the measured window only, as the multi-process form and the etcd baseline count it (the
  // meter's figure spans the warm-up too, while the operations are the window's).
  const metered = meter.finish(figures.deliveries, load.measuredOps)
  const host: HostFigures = { ...metered, cpuUsPerOp: whole.cpuUsPerOp ?? metered.cpuUsPerOp }
  // One process holds everything: replicas get their own messages; CPU and memory are the whole process's.
  const processes: ProcessFigures[] = cluster.replicas.map((r, i) => ({
    role: 'replica', id: r.id, pid: process.pid, cpuMs: null, cpuPercent: null, cpuUsPerOp: null, rssBytes: null,
    messagesPerOp: perOpOf(messagesBetween(start.sent[i]!, end.sent[i]!), ops),
  }))
  processes.push({ role: 'whole-process', id: 0, pid: process.pid, ...whole, messagesPerOp: null })
  return { figures, host, agreement, processes }
}
