/**
 * Prometheus metrics of a live replica (prom-client), named in etcd's style so dashboards built for etcd read
 * naturally: `consensus_server_*` for consensus state, `consensus_disk_*` for the write-ahead log,
 * `consensus_network_*` for the transport. Served as text on http://<metricsHost>:<metricsPort>/metrics when the
 * replica's entry in cluster.json has a `metricsPort`.
 *
 * Most figures are read from the host, transport and storage at scrape time (a collect callback), so the hot path pays
 * only for what must be counted as it happens: fsync durations (histogram observations), messages received by type
 * (a map increment), and leader changes (sampled every SAMPLE_MS, so a change and its reversal within one sample
 * interval is missed; etcd counts at the state machine, which a pure protocol does not expose to the host).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { ReplicaHost } from '../core/host.ts'
import type { TypeCount } from '../core/message-stats.ts'
import type { FileStorage } from '../core/storage/file-storage.ts'
import type { NodeId } from '../core/types.ts'
import type { Libp2pTransport } from '../net/libp2p/index.ts'
import { gossipStatus, type GossipStatus } from './gossip-status.ts'

/** The gossip counters behind consensus_network_gossip_messages_total, by its `event` label. */
const GOSSIP_EVENTS: Readonly<Record<string, keyof GossipStatus>> = {
  published: 'published', copies_received: 'copiesReceived', delivered: 'delivered', duplicates_dropped: 'duplicatesDropped',
  sent_direct: 'sentDirect', refused: 'refused', malformed: 'malformed', stream_repairs: 'streamRepairs',
}

/** How often leadership is sampled for consensus_server_leader_changes_seen_total. */
const SAMPLE_MS = 50

/** etcd's WAL fsync buckets: 1 ms doubling to about 8 s. */
const FSYNC_BUCKETS = Array.from({ length: 14 }, (_, i) => 0.001 * 2 ** i)

export interface NodeMetrics {
  readonly registry: Registry
  /** Hooks for createNode to wire in (storage's onFsync, the host observer's received). */
  observeFsync(seconds: number): void
  observeReceived(type: string, bytes: number): void
  /** Start sampling (once host, transport and storage exist). */
  attach(source: MetricsSource): void
  close(): void
}

export interface MetricsSource {
  readonly id: NodeId
  readonly protocol: string
  readonly host: ReplicaHost
  readonly transport: Libp2pTransport
  readonly storage: FileStorage
}

export function createNodeMetrics(): NodeMetrics {
  const registry = new Registry()
  let source: MetricsSource | null = null
  let sampler: NodeJS.Timeout | null = null
  const received = new Map<string, TypeCount>()
  let leaderChanges = 0
  let lastLeader: NodeId | null | undefined = undefined
  const sampleLeader = () => {
    if (source === null) return
    const leader = source.host.status().leader
    const known = leader !== null && leader >= 0 ? leader : null
    if (lastLeader !== undefined && known !== null && known !== lastLeader) leaderChanges++
    if (known !== null || lastLeader === undefined) lastLeader = known
  }
  const status = () => source?.host.status()

  new Gauge({
    name: 'consensus_server_has_leader', help: 'Whether a leader (or primary) is known to this replica: 1 yes, 0 no.', registers: [registry],
    collect() { const s = status(); this.set(s !== undefined && s.leader !== null && s.leader >= 0 ? 1 : 0) },
  })
  new Gauge({
    name: 'consensus_server_is_leader', help: 'Whether this replica is the leader (or primary): 1 yes, 0 no.', registers: [registry],
    collect() { const s = status(); this.set(s !== undefined && s.leader === source?.id ? 1 : 0) },
  })
  new Counter({
    name: 'consensus_server_leader_changes_seen_total', help: 'Leader changes this replica has seen since it started.', registers: [registry],
    collect() { sampleLeader(); this.reset(); this.inc(leaderChanges) },
  })
  new Gauge({
    name: 'consensus_server_term', help: 'Current term, ballot round or view.', registers: [registry],
    collect() { this.set(status()?.epoch ?? 0) },
  })
  new Gauge({
    name: 'consensus_server_proposals_committed_total', help: 'The index of the last committed log position (as etcd: a gauge).', registers: [registry],
    collect() { this.set(status()?.commitIndex ?? 0) },
  })
  new Gauge({
    name: 'consensus_server_proposals_applied_total', help: 'The index of the last log position applied to the state machine.', registers: [registry],
    collect() { this.set(status()?.appliedIndex ?? 0) },
  })
  new Counter({
    name: 'consensus_server_commands_applied_total', help: 'Client commands applied to the state machine by this process.', registers: [registry],
    collect() { this.reset(); this.inc(status()?.commandsApplied ?? 0) },
  })
  new Counter({
    name: 'consensus_server_foreign_session_requests_total',
    help: "Client requests refused because their session belongs to another identity than the sender's.", registers: [registry],
    collect() { this.reset(); this.inc(source?.host.foreignSessionRequests ?? 0) },
  })
  new Gauge({
    name: 'consensus_server_proposals_pending', help: 'Client requests admitted and not yet answered (admission control counts them).',
    registers: [registry], collect() { this.set(status()?.requestsPending ?? 0) },
  })
  new Counter({
    name: 'consensus_server_requests_shed_total',
    help: 'Client requests answered busy (too many pending) and not proposed: admission control under overload.', registers: [registry],
    collect() { this.reset(); this.inc(status()?.requestsShed ?? 0) },
  })
  const fsync = new Histogram({
    name: 'consensus_disk_wal_fsync_duration_seconds', help: 'The latency distributions of fsync called by the WAL.',
    buckets: FSYNC_BUCKETS, registers: [registry],
  })
  new Counter({
    name: 'consensus_disk_wal_write_bytes_total', help: 'Bytes written to the WAL and snapshot files.', registers: [registry],
    collect() { this.reset(); this.inc(source?.storage.stats.bytesWritten ?? 0) },
  })
  const byType = (counts: Iterable<[string, TypeCount]>, metric: Counter<'channel' | 'type'>, field: keyof TypeCount) => {
    metric.reset()
    for (const [key, c] of counts) {
      const slash = key.indexOf('/')
      metric.inc({ channel: key.slice(0, slash), type: key.slice(slash + 1) }, c[field])
    }
  }
  const sent = () => Object.entries(source?.transport.stats.snapshot() ?? {})
  new Counter({
    name: 'consensus_network_messages_sent_total', help: 'Messages handed to the transport, by channel and message type.',
    labelNames: ['channel', 'type'], registers: [registry], collect() { byType(sent(), this, 'messages') },
  })
  new Counter({
    name: 'consensus_network_sent_bytes_total', help: 'Payload bytes handed to the transport, by channel and message type.',
    labelNames: ['channel', 'type'], registers: [registry], collect() { byType(sent(), this, 'bytes') },
  })
  new Counter({
    name: 'consensus_network_messages_received_total', help: 'Messages received and decoded, by channel and message type.',
    labelNames: ['channel', 'type'], registers: [registry], collect() { byType(received, this, 'messages') },
  })
  new Counter({
    name: 'consensus_network_received_bytes_total', help: 'Payload bytes received and decoded, by channel and message type.',
    labelNames: ['channel', 'type'], registers: [registry], collect() { byType(received, this, 'bytes') },
  })
  new Counter({
    name: 'consensus_network_queue_drops_total', help: 'Frames dropped: a peer queue over its bound, a blocked or unknown peer, a failed write.',
    registers: [registry], collect() { this.reset(); this.inc(source?.transport.stats.dropped ?? 0) },
  })
  new Counter({
    name: 'consensus_network_frames_rejected_total', help: 'Frames refused on receipt, by reason.', labelNames: ['reason'], registers: [registry],
    collect() {
      this.reset()
      for (const [reason, n] of Object.entries(source?.transport.rejected ?? {})) this.inc({ reason }, n)
    },
  })
  new Counter({
    name: 'consensus_network_stream_writes_total', help: 'Writes handed to libp2p streams (messages sent / writes: how much coalescing saved).',
    registers: [registry], collect() { this.reset(); this.inc(source?.transport.streamWrites ?? 0) },
  })
  // Only a replica whose broadcasts gossip has these (a direct cluster's scrape stays as it was).
  const gossip = () => { const c = source?.transport.gossip; return c === null || c === undefined ? null : gossipStatus(c) }
  new Counter({
    name: 'consensus_network_gossip_messages_total',
    help: 'Gossip topic traffic by event: published, copies_received (duplicates included), delivered (to the protocol), ' +
      'duplicates_dropped (seen-cache), sent_direct (skipped: the sender wrote it to us directly), refused (non-members), malformed, stream_repairs (outbound gossip streams opened by us, gossipsub had not).',
    labelNames: ['event'], registers: [registry],
    collect() {
      this.reset()
      const g = gossip()
      if (g === null) return
      for (const [event, n] of Object.entries(GOSSIP_EVENTS)) this.inc({ event }, g[n])
    },
  })
  new Counter({
    name: 'consensus_network_gossip_bytes_total', help: 'Gossip payload bytes: published, and copies received (duplicates included).',
    labelNames: ['direction'], registers: [registry],
    collect() {
      this.reset()
      const g = gossip()
      if (g === null) return
      this.inc({ direction: 'published' }, g.publishedBytes)
      this.inc({ direction: 'received' }, g.copyBytesReceived)
    },
  })
  collectDefaultMetrics({ register: registry })

  return {
    registry,
    observeFsync: seconds => fsync.observe(seconds),
    observeReceived(type, bytes) {
      const key = (type === 'ClientRequest' ? 'request/' : 'protocol/') + type
      const c = received.get(key)
      if (c === undefined) received.set(key, { messages: 1, bytes })
      else { c.messages++; c.bytes += bytes }
    },
    attach(s) {
      source = s
      registry.setDefaultLabels({ replica: String(s.id), protocol: s.protocol })
      sampleLeader()
      sampler = setInterval(sampleLeader, SAMPLE_MS)
      sampler.unref()
    },
    close() {
      if (sampler !== null) clearInterval(sampler)
      sampler = null
    },
  }
}

/** Serve `GET /metrics` (Prometheus text format) on host:port; resolves once listening. */
export function startMetricsServer(metrics: NodeMetrics, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are served at GET /metrics\n')
      return
    }
    metrics.registry.metrics().then(text => {
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text)
    }, (e: Error) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`collecting metrics failed: ${e.message}\n`)
    })
  })
  return new Promise((resolve, reject) => {
    server.once('error', e => reject(new Error(`cannot serve metrics on ${host}:${port}: ${e.message}`)))
    server.listen(port, host, () => resolve(server))
  })
}

export function metricsAddress(server: Server): AddressInfo {
  return server.address() as AddressInfo
}

/** The figures `cluster status --metrics` prints per replica, in this order. */
export const STATUS_METRICS: readonly string[] = [
  'consensus_server_has_leader', 'consensus_server_leader_changes_seen_total', 'consensus_server_proposals_committed_total',
  'consensus_server_proposals_applied_total', 'consensus_network_messages_sent_total', 'consensus_network_messages_received_total',
  'consensus_network_sent_bytes_total', 'consensus_network_received_bytes_total', 'consensus_network_queue_drops_total',
  'consensus_network_frames_rejected_total', 'consensus_disk_wal_fsync_duration_seconds_count', 'consensus_disk_wal_fsync_duration_seconds_sum',
  'consensus_server_proposals_pending', 'consensus_server_requests_shed_total',
]

/** One line per figure of STATUS_METRICS (labelled series summed), for the terminal. */
export function summarizeMetrics(samples: readonly MetricSample[]): string[] {
  return STATUS_METRICS.map(name => `${name} ${metricValue(samples, name)}`)
}

/** Fetch a replica's metrics text (for `cluster status --metrics` and tests); bounded by `timeoutMs`. */
export async function scrapeMetrics(host: string, port: number, timeoutMs = 5000): Promise<string> {
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  if (!res.ok) throw new Error(`${url} answered ${res.status}`)
  return await res.text()
}

export interface MetricSample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** The samples of Prometheus text format (comments skipped). */
export function parseMetrics(text: string): MetricSample[] {
  const out: MetricSample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!
    out.push({ name: m[1]!, labels, value: Number(m[3]) })
  }
  return out
}

/** The sum of a metric's samples whose labels include `match` (0 when there are none). */
export function metricValue(samples: readonly MetricSample[], name: string, match: Readonly<Record<string, string>> = {}): number {
  let sum = 0
  for (const s of samples) {
    if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value
  }
  return sum
}
