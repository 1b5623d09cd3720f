/**
 * One measurement on a multi-process cluster: closed-loop load from the load-generator processes, and at each edge of
 * the measured window one reading of every process (CPU time and RSS from /proc) and of every replica's message
 * counters (its admin socket). The figures have the same shape as the in-process form's (measure.ts), plus the
 * per-process ones.
 *
 * The window's edges are timed here, from the moment every load process was handed its share; each load process
 * times its own window from its receipt of that message, which is the same moment up to the IPC latency. Counters are
 * read over the admin sockets after the /proc readings, so on a busy replica they lag the edge by its event loop's
 * delay (the same small skew at both edges).
 */
import type { AnyProtocol } from '../../core/protocol.ts'
import type { TypeCount } from '../../core/message-stats.ts'
import { windowFigures, type HostFigures, type RunFigures } from '../figures.ts'
import type { LoadGenerators } from './load-generator.ts'
import type { LiveMeasurement, LiveWorkload } from './measure.ts'
import type { ProcessCluster, ReplicaCounters } from './process-cluster.ts'
import { cpuFigures, messagesBetween, perOpOf, signatureShareOf, type ProcessFigures } from './process-figures.ts'
import { readProcess, type ProcessReading } from './proc-stat.ts'

interface Edge {
  readonly at: number
  readonly replicas: ReadonlyMap<number, ProcessReading | null>
  readonly loaders: readonly (ProcessReading | null)[]
  readonly counters: readonly ReplicaCounters[]
}

function totals(counters: readonly ReplicaCounters[]): Map<string, TypeCount> {
  const total = new Map<string, TypeCount>()
  for (const r of counters) {
    for (const [type, c] of r.protocolSent) {
      const t = total.get(type)
      if (t === undefined) total.set(type, { ...c })
      else { t.messages += c.messages; t.bytes += c.bytes }
    }
  }
  return total
}

export async function measureProcessCluster(cluster: ProcessCluster, load: LoadGenerators, protocol: AnyProtocol,
  clients: number, nodes: number, w: LiveWorkload): Promise<LiveMeasurement> {
  const readEdge = (): Promise<Edge> => {
    const at = performance.now()
    const readings = cluster.readProcesses()
    const loaders = load.pids.map(readProcess)
    const edge = Promise.all([readings, cluster.counters()]).then(([replicas, counters]) => ({ at, replicas, loaders, counters }))
    // Awaited below, unless the load failed first: then its error is the one to report, not this one.
    edge.catch(() => {})
    return edge
  }
  let startEdge: Promise<Edge> | null = null
  let endEdge: Promise<Edge> | null = null
  const timers: NodeJS.Timeout[] = []
  const result = await (async () => {
    try {
      return await load.measure(clients, nodes, w, w.seed, () => {
        timers.push(setTimeout(() => { startEdge ??= readEdge() }, w.warmupMs))
        timers.push(setTimeout(() => { endEdge ??= readEdge() }, w.warmupMs + w.durationMs))
      })
    } finally {
      for (const t of timers) clearTimeout(t)
    }
  })()
  // A window closed early (maxOps) or timers delayed by a busy loop: read the edges now, in order.
  startEdge ??= readEdge()
  const before = await startEdge
  endEdge ??= readEdge()
  const after = await endEdge
  const agreement = await cluster.checkAgreement()
  const ops = result.measuredOps
  const windowMs = after.at - before.at
  const processes: ProcessFigures[] = []
  let replicaCpuMs = 0
  let replicaSignatureMs = 0
  for (const r of after.counters) {
    const earlier = before.counters.find(x => x.id === r.id)
    const sentBefore = earlier?.protocolSent ?? new Map<string, TypeCount>()
    const cpu = cpuFigures(before.replicas.get(r.id) ?? null, after.replicas.get(r.id) ?? null, windowMs, ops)
    const signatureMs = earlier?.signatureMs == null || r.signatureMs === null ? null : r.signatureMs - earlier.signatureMs
    if (cpu.cpuMs !== null && signatureMs !== null) {
      replicaCpuMs += cpu.cpuMs
      replicaSignatureMs += signatureMs
    }
    processes.push({
      role: 'replica', id: r.id, pid: after.replicas.get(r.id)?.pid ?? before.replicas.get(r.id)?.pid ?? null, ...cpu,
      messagesPerOp: perOpOf(messagesBetween(sentBefore, r.protocolSent), ops),
      signatureCpuShare: signatureShareOf(signatureMs, cpu.cpuMs),
    })
  }
  const figures: RunFigures = {
    ...windowFigures(result, totals(before.counters), totals(after.counters), protocol.theoreticalMessages(cluster.config.replicas.length)),
    failover: null,
    timeline: { bucketMs: w.timelineBucketMs, windowStartMs: w.warmupMs, ops: result.timeline },
    wan: null,
    byzantine: [],
    safetyViolations: agreement.verdict === 'diverged' ? 1 : 0,
    backlog: result.backlog,
    unfinished: result.unfinished,
    deliveries: after.counters.reduce((s, r) => s + r.framesReceived, 0) - before.counters.reduce((s, r) => s + r.framesReceived, 0),
    // The replicas' signature time over their CPU time together (the load generators' signing is not counted).
    signatureCpuShare: signatureShareOf(replicaSignatureMs, replicaCpuMs),
    liveness: null,
  }
  load.pids.forEach((pid, i) => {
    processes.push({ role: 'load-generator', id: i, pid, ...cpuFigures(before.loaders[i] ?? null, after.loaders[i] ?? null, windowMs, ops),
      messagesPerOp: null, signatureCpuShare: null })
  })
  const sum = (get: (r: ProcessReading) => number) => [...after.replicas.keys()].reduce((s, id) => {
    const a = after.replicas.get(id)
    const b = before.replicas.get(id)
    return a != null && b != null ? s + get(a) - get(b) : s
  }, 0) + load.pids.reduce((s, _, i) => {
    const a = after.loaders[i]
    const b = before.loaders[i]
    return a != null && b != null ? s + get(a) - get(b) : s
  }, 0)
  const userMs = sum(r => r.userMs)
  const systemMs = sum(r => r.systemMs)
  const rss = [...after.replicas.values(), ...after.loaders].reduce((s, r) => s + (r?.rssBytes ?? 0), 0)
  const host: HostFigures = {
    wallMs: Math.round(windowMs),
    cpuUserMs: Math.round(userMs),
    cpuSystemMs: Math.round(systemMs),
    // The processes' resident memory together at the window's end (no one process's peak describes a cluster).
    peakRssBytes: rss,
    peakHeapBytes: 0,
    deliveriesPerSec: windowMs > 0 ? Math.round(figures.deliveries / (windowMs / 1000)) : 0,
    opsPerSec: windowMs > 0 ? Math.round(ops / (windowMs / 1000)) : 0,
    // Every process of the run (replicas and load generators), as the in-process figure is its one process.
    cpuUsPerOp: ops > 0 ? Math.round((userMs + systemMs) * 1000 / ops) : 0,
  }
  const total = (side: typeof before, field: 'fsyncs' | 'requestsShed') => side.counters.reduce((s, r) => s + r[field], 0)
  const fsyncs = total(after, 'fsyncs') - total(before, 'fsyncs')
  return { figures, host, agreement, processes, fsyncs, requestsShed: total(after, 'requestsShed') - total(before, 'requestsShed') }
}
