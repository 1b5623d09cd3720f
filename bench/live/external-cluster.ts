/**
 * `bench live --cluster <cluster.json>`: a cluster that is already running, its replicas started by somebody else
 * (`consensus node --config cluster.json --id <i>` on each host, or `consensus cluster up`). The benchmark starts and
 * stops only its own load generators on this machine; it never touches a replica.
 *
 * Each replica is read where it can be:
 * - on this machine (its admin socket answers under the cluster folder's runDir): message counters and state digests
 *   over the socket, CPU and memory from /proc for the PID in its pid file, as for the clusters the bench starts;
 * - elsewhere: its Prometheus endpoint (`metricsPort`, and `metricsHost` so it listens beyond loopback), whose
 *   consensus_* and process_* series carry the same counters, CPU time and memory. Two things stay unread there, and
 *   the figures say so (null): the time spent on signatures, and the state digest (the end-of-run check compares the
 *   applied indexes only, and reports 'unchecked').
 * A replica with neither is refused up front, with what to add to cluster.json.
 */
import { existsSync } from 'node:fs'
import type { TypeCount } from '../../core/message-stats.ts'
import type { NodeId } from '../../core/types.ts'
import { adminRequest } from '../../live/admin.ts'
import { DEFAULT_METRICS_HOST, loadClusterConfig, type ClusterConfig } from '../../live/config.ts'
import { metricValue, parseMetrics, scrapeMetrics, type MetricSample } from '../../live/metrics.ts'
import { adminSocketPath, type StateDigest } from '../../live/node.ts'
import { runningPid } from '../../live/processes.ts'
import type { Agreement } from './loopback-cluster.ts'
import { agreementOf, readAdminCounters, type ProcessCluster, type ReplicaCounters } from './process-cluster.ts'
import { readProcess, type ProcessReading } from './proc-stat.ts'

/** The running cluster cannot be measured (a replica unreadable or not answering): said to the user as it is. */
export class ExternalClusterError extends Error {}

/** How one replica of an external cluster is read. */
type ReplicaAccess =
  | { readonly kind: 'admin'; readonly id: NodeId; readonly socket: string }
  | { readonly kind: 'metrics'; readonly id: NodeId; readonly host: string; readonly port: number }

const SCRAPE_TIMEOUT_MS = 5000

/** Where `bench live --cluster` reads replica `id` of `c`, or why it cannot. */
export function replicaAccess(c: ClusterConfig, id: NodeId): ReplicaAccess | string {
  const socket = adminSocketPath(c, id)
  if (existsSync(socket)) return { kind: 'admin', id, socket }
  const r = c.replicas.find(x => x.id === id)!
  if (r.metricsPort !== undefined) return { kind: 'metrics', id, host: r.metricsHost ?? DEFAULT_METRICS_HOST, port: r.metricsPort }
  return `replica ${id}: no admin socket at ${socket} (it does not run on this machine) and no metricsPort in cluster.json; ` +
    'give it a metricsPort and a metricsHost this machine can reach, so its counters can be read'
}

/** The counters of one replica from its metrics (bench/live/process-cluster.ts ReplicaCounters). */
export function countersFromMetrics(id: NodeId, samples: readonly MetricSample[]): ReplicaCounters {
  const protocolSent = new Map<string, TypeCount>()
  for (const s of samples) {
    if (s.name !== 'consensus_network_messages_sent_total' || s.labels.channel !== 'protocol' || s.labels.type === undefined) continue
    protocolSent.set(s.labels.type, {
      messages: s.value,
      bytes: metricValue(samples, 'consensus_network_sent_bytes_total', { channel: 'protocol', type: s.labels.type }),
    })
  }
  return {
    id, protocolSent,
    framesReceived: metricValue(samples, 'consensus_network_messages_received_total'),
    fsyncs: metricValue(samples, 'consensus_disk_wal_fsync_duration_seconds_count'),
    requestsShed: metricValue(samples, 'consensus_server_requests_shed_total'),
    gossip: null,
    signatureMs: null,
  }
}

/** CPU time and memory of a replica's process from prom-client's default process_* series. */
export function processFromMetrics(samples: readonly MetricSample[]): ProcessReading | null {
  if (!samples.some(s => s.name === 'process_cpu_user_seconds_total')) return null
  const rss = metricValue(samples, 'process_resident_memory_bytes')
  return {
    pid: null,
    userMs: metricValue(samples, 'process_cpu_user_seconds_total') * 1000,
    systemMs: metricValue(samples, 'process_cpu_system_seconds_total') * 1000,
    rssBytes: rss,
    peakRssBytes: rss,
  }
}

async function scrape(a: Extract<ReplicaAccess, { kind: 'metrics' }>): Promise<MetricSample[]> {
  try {
    return parseMetrics(await scrapeMetrics(a.host, a.port, SCRAPE_TIMEOUT_MS))
  } catch (e) {
    throw new Error(`replica ${a.id}: reading its metrics at ${a.host}:${a.port} failed: ${(e as Error).message}`)
  }
}

/** Open the running cluster `configFile` describes; throws, naming every replica that cannot be read. */
export async function openExternalCluster(configFile: string): Promise<ProcessCluster> {
  const c = loadClusterConfig(configFile)
  const found = c.replicas.map(r => replicaAccess(c, r.id))
  const missing = found.filter((a): a is string => typeof a === 'string')
  if (missing.length > 0) throw new ExternalClusterError(`--cluster ${configFile}:\n  ${missing.join('\n  ')}`)
  const access = found as ReplicaAccess[]
  // Each replica answers once before any load, so a cluster that is down is reported now, not as empty figures.
  const status = await Promise.allSettled(access.map(a => a.kind === 'admin' ? readAdminCounters(c, a.id) : scrape(a)))
  const down = status.flatMap((s, i) => s.status === 'rejected' ? [`replica ${access[i]!.id}: ${(s.reason as Error).message}`] : [])
  if (down.length > 0) throw new ExternalClusterError(`--cluster ${configFile}: the cluster does not answer:\n  ${down.join('\n  ')}`)

  const counters = () => Promise.all(access.map(async a => a.kind === 'admin' ? readAdminCounters(c, a.id) : countersFromMetrics(a.id, await scrape(a))))
  const readProcesses = async (): Promise<ReadonlyMap<NodeId, ProcessReading | null>> => new Map(await Promise.all(access.map(async a => {
    if (a.kind === 'admin') {
      const pid = runningPid(c, a.id)
      return [a.id, pid === null ? null : readProcess(pid)] as const
    }
    return [a.id, processFromMetrics(await scrape(a))] as const
  })))
  const digest = async (a: ReplicaAccess): Promise<{ appliedIndex: number; sha256: string | null }> => {
    if (a.kind === 'admin') return await adminRequest(a.socket, { cmd: 'digest' }) as StateDigest
    return { appliedIndex: metricValue(await scrape(a), 'consensus_server_proposals_applied_total'), sha256: null }
  }
  const checkAgreement = (waitMs = 3000): Promise<Agreement> => agreementOf(() => Promise.all(access.map(digest)), waitMs)
  return { config: c, configFile, startMs: 0, counters, readProcesses, checkAgreement, close: () => Promise.resolve() }
}
