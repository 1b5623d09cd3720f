/**
 * Prometheus metrics of a live replica: a node with a metricsPort serves the etcd-style metrics on 127.0.0.1, and
 * its counters move with the writes it commits; `cluster status --metrics` reads them; bad metrics settings in
 * cluster.json are refused by field.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createClient } from '../../live/client.ts'
import { validateClusterConfig, type ClusterConfig } from '../../live/config.ts'
import { initCluster } from '../../live/init.ts'
import { metricValue, parseMetrics, scrapeMetrics, type MetricSample } from '../../live/metrics.ts'
import { createNode, type ConsensusNode } from '../../live/node.ts'
import { pidFile } from '../../live/processes.ts'
import { freePorts, waitFor } from '../libp2p/helpers.ts'

const execFileAsync = promisify(execFile)
const dirs: string[] = []
const nodes: ConsensusNode[] = []
afterAll(async () => {
  for (const n of nodes) await n.close().catch(() => undefined)
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const NAMED = [
  'consensus_server_proposals_committed_total', 'consensus_server_leader_changes_seen_total', 'consensus_server_has_leader',
  'consensus_disk_wal_fsync_duration_seconds_bucket', 'consensus_disk_wal_fsync_duration_seconds_count',
  'consensus_network_messages_sent_total', 'consensus_network_messages_received_total', 'consensus_network_sent_bytes_total',
  'consensus_network_received_bytes_total', 'consensus_network_queue_drops_total',
]

describe('replica metrics', () => {
  it('serves the named metrics on 127.0.0.1, and committed writes move them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metrics-'))
    dirs.push(dir)
    const ports = await freePorts(6)
    const initialized = initCluster({ protocol: 'raft', n: 3, dir, ports: ports.slice(0, 3), clients: 1, fsync: 'always' })
    const config: ClusterConfig = { ...initialized, replicas: initialized.replicas.map((r, i) => ({ ...r, metricsPort: ports[3 + i]! })) }
    writeFileSync(join(dir, 'cluster.json'), JSON.stringify({ ...config, baseDir: undefined }, null, 2))
    for (const r of config.replicas) nodes.push(await createNode({ config, id: r.id }))
    const client = await createClient({ config, timeoutMs: 2000 })
    await waitFor(async () => { try { await client.put('first', 'x'); return true } catch { return false } }, 'a first write', 15_000)
    const leader = nodes.find(n => n.host.status().role === 'leader')!
    expect(leader).toBeDefined()
    const port = config.replicas[leader.id]!.metricsPort!
    const scrape = async (): Promise<MetricSample[]> => parseMetrics(await scrapeMetrics('127.0.0.1', port))

    const before = await scrape()
    for (const name of NAMED) expect(before.some(s => s.name === name), name).toBe(true)
    expect(metricValue(before, 'consensus_server_has_leader')).toBe(1)
    expect(metricValue(before, 'consensus_server_is_leader')).toBe(1)
    expect(before.find(s => s.name === 'consensus_server_has_leader')?.labels).toEqual({ replica: String(leader.id), protocol: 'raft' })

    await Promise.all(Array.from({ length: 20 }, (_, i) => client.put(`k${i}`, `v${i}`)))
    const after = await scrape()
    const moved = (name: string, match: Record<string, string> = {}) => metricValue(after, name, match) - metricValue(before, name, match)
    expect(moved('consensus_server_proposals_committed_total')).toBeGreaterThan(0)
    expect(moved('consensus_server_proposals_applied_total')).toBeGreaterThan(0)
    expect(moved('consensus_server_commands_applied_total')).toBe(20)
    expect(moved('consensus_network_messages_sent_total', { type: 'AppendEntries' })).toBeGreaterThan(0)
    expect(moved('consensus_network_sent_bytes_total', { type: 'AppendEntries' })).toBeGreaterThan(0)
    expect(moved('consensus_network_messages_received_total', { type: 'AppendEntriesResponse' })).toBeGreaterThan(0)
    expect(moved('consensus_network_messages_received_total', { type: 'ClientRequest' })).toBeGreaterThanOrEqual(20)
    expect(moved('consensus_network_received_bytes_total', { type: 'ClientRequest' })).toBeGreaterThan(0)
    expect(moved('consensus_network_messages_sent_total', { type: 'ClientReply' })).toBeGreaterThanOrEqual(20)
    expect(moved('consensus_disk_wal_fsync_duration_seconds_count')).toBeGreaterThan(0)
    expect(metricValue(after, 'consensus_disk_wal_fsync_duration_seconds_sum')).toBeGreaterThan(0)
    expect(metricValue(after, 'consensus_network_queue_drops_total')).toBeGreaterThanOrEqual(0)

    // cluster status --metrics reads them. The nodes run in this process, so their pid files name it (nothing here
    // calls cluster down), and the CLI runs asynchronously: this process must keep serving while it asks.
    for (const r of config.replicas) { mkdirSync(join(dir, config.runDir), { recursive: true }); writeFileSync(pidFile(config, r.id), `${process.pid}\n`) }
    const { stdout } = await execFileAsync(process.execPath, [join(import.meta.dirname, '../../bin/consensus.ts'), 'cluster', 'status', dir, '--metrics'],
      { timeout: 30_000 })
    const section = stdout.slice(stdout.indexOf(`replica ${leader.id}:`))
    expect(section).toMatch(new RegExp(`^replica ${leader.id}: pid ${process.pid}, leader`))
    expect(section).toContain('consensus_server_has_leader 1')
    expect(Number(/consensus_server_proposals_committed_total (\d+)/.exec(section)?.[1])).toBeGreaterThan(0)

    // A follower sees the leader; kill the leader's node and the followers count a leader change.
    const follower = nodes.find(n => n !== leader)!
    const followerPort = config.replicas[follower.id]!.metricsPort!
    const changesBefore = metricValue(parseMetrics(await scrapeMetrics('127.0.0.1', followerPort)), 'consensus_server_leader_changes_seen_total')
    await leader.close()
    await waitFor(async () => metricValue(parseMetrics(await scrapeMetrics('127.0.0.1', followerPort)),
      'consensus_server_leader_changes_seen_total') > changesBefore, 'a follower to count the leader change', 15_000)
    await expect(scrapeMetrics('127.0.0.1', port, 1000)).rejects.toThrow()

    // Anything but GET /metrics is a 404.
    expect((await fetch(`http://127.0.0.1:${followerPort}/`)).status).toBe(404)

    await client.close()
  }, 60_000)

  it('refuses bad metrics settings by field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'metrics-config-'))
    dirs.push(dir)
    const good = initCluster({ protocol: 'raft', n: 3, dir, basePort: 19000, clients: 1 })
    const { baseDir: _b, ...raw } = good
    const withReplica = (i: number, extra: Record<string, unknown>) => ({ ...raw, replicas: raw.replicas.map((r, j) => j === i ? { ...r, ...extra } : r) })
    expect(() => validateClusterConfig(withReplica(0, { metricsPort: 0 }), dir)).toThrow(/replicas\[0\]\.metricsPort/)
    expect(() => validateClusterConfig(withReplica(1, { metricsPort: 9100, metricsHost: 'localhost' }), dir)).toThrow(/replicas\[1\]\.metricsHost: expected an IPv4 or IPv6 address/)
    expect(() => validateClusterConfig(withReplica(2, { metricsHost: '127.0.0.1' }), dir)).toThrow(/replicas\[2\]\.metricsHost: needs a metricsPort/)
    const twice = { ...raw, replicas: raw.replicas.map(r => ({ ...r, metricsPort: 9100 })) }
    expect(() => validateClusterConfig(twice, dir)).toThrow(/replicas\[1\]\.metricsPort: 127\.0\.0\.1:9100 is also the metrics address of replica 0/)
    expect(validateClusterConfig(withReplica(0, { metricsPort: 9100, metricsHost: '::1' }), dir).replicas[0]).toMatchObject({ metricsPort: 9100, metricsHost: '::1' })
  })
})
