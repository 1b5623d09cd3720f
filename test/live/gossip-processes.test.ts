/**
 * Gossipsub dissemination across replica processes (issue 16): one combined cluster per protocol, each serving
 * writes and reads, surviving kill -9 of its leader (PBFT: primary), and taking back the killed replica, with the
 * replicas' broadcasts shown to travel over the topic by their gossip counters: from the admin socket's status, from
 * the Prometheus endpoint, and (PBFT) from `consensus cluster status`.
 *
 * Who must have published: in PBFT every replica broadcasts (PREPARE, COMMIT), and in HotStuff leaders rotate every
 * view, so every survivor leads views and broadcasts proposals (and NEW-VIEWs while the killed replica's views time
 * out): every survivor. Multi-Paxos replicas broadcast only as leader (Accepts, heartbeats; Prepare as candidate),
 * so the survivor that took over must have published; the follower receives its Accepts over the topic.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import type { NodeId } from '../../core/types.ts'
import { adminRequest } from '../../live/admin.ts'
import { createClient, type ConsensusClient } from '../../live/client.ts'
import { loadClusterConfig, type ClusterConfig } from '../../live/config.ts'
import { initCluster } from '../../live/init.ts'
import { metricValue, parseMetrics, scrapeMetrics } from '../../live/metrics.ts'
import { adminSocketPath, type NodeStatus } from '../../live/node.ts'
import { clusterDown, clusterUp, startReplicaProcess, stopReplicaProcess } from '../../live/processes.ts'
import { parseStack, portKind } from '../../net/libp2p/stack.ts'
import { freePorts, freeUdpPorts, sleep, waitFor } from '../libp2p/helpers.ts'

const execFileAsync = promisify(execFile)
const dirs: string[] = []
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })

interface GossipCluster {
  readonly protocol: 'pbft' | 'hotstuff' | 'multipaxos'
  readonly n: number
  readonly stack: string
  /** Every survivor must have published (else only the one that took over leadership). */
  readonly everySurvivorBroadcasts: boolean
  /** Also read the counters through `consensus cluster status` (a CLI process: seconds on a loaded machine, so once). */
  readonly throughCli: boolean
}

const CLUSTERS: readonly GossipCluster[] = [
  { protocol: 'pbft', n: 4, stack: 'quic', everySurvivorBroadcasts: true, throughCli: true },
  { protocol: 'hotstuff', n: 4, stack: 'tcp+noise+yamux', everySurvivorBroadcasts: true, throughCli: false },
  { protocol: 'multipaxos', n: 3, stack: 'tcp+noise+yamux', everySurvivorBroadcasts: false, throughCli: false },
]

/** A cluster folder whose replicas gossip and serve metrics on 127.0.0.1. */
async function gossipClusterConfig(c: GossipCluster): Promise<{ config: ClusterConfig; configFile: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), `gossip-proc-${c.protocol}-`))
  dirs.push(dir)
  const stack = parseStack(c.stack)
  const replicaPorts = portKind(stack) === 'udp' ? await freeUdpPorts(c.n) : await freePorts(c.n)
  const metricsPorts = await freePorts(c.n)
  const initialized = initCluster({ protocol: c.protocol, n: c.n, dir, ports: replicaPorts, clients: 1, fsync: 'batch', stack, dissemination: 'gossipsub' })
  const { baseDir: _baseDir, ...raw } = initialized
  const configFile = join(dir, 'cluster.json')
  writeFileSync(configFile, JSON.stringify({ ...raw, replicas: raw.replicas.map((r, i) => ({ ...r, metricsPort: metricsPorts[i]! })) }, null, 2))
  return { config: loadClusterConfig(configFile), configFile, dir }
}

describe('gossipsub across replica processes', () => {
  for (const c of CLUSTERS) {
    it(`${c.protocol} n=${c.n} on ${c.stack}: broadcasts travel over the topic, before and after kill -9 of the leader`, async () => {
      const { config, configFile, dir } = await gossipClusterConfig(c)
      expect(config.dissemination).toBe('gossipsub')
      const status = (id: NodeId) => adminRequest(adminSocketPath(config, id), { cmd: 'status' }) as Promise<NodeStatus>
      let client: ConsensusClient | null = null
      try {
        await clusterUp(config, configFile)
        client = await createClient({ config, timeoutMs: 3000 })
        // Writes and reads retried on timeout (bounded by each waitFor): the machine may be loaded by other work.
        const write = async (key: string, value: string): Promise<boolean> => { try { await client!.put(key, value); return true } catch { return false } }
        const reads = async (key: string, value: string): Promise<boolean> => { try { return await client!.get(key) === value } catch { return false } }
        await waitFor(() => write('k', 'v1'), 'a first write', 30_000)
        await waitFor(() => write('k', 'v2'), 'a second write', 20_000)
        await waitFor(() => reads('k', 'v2'), 'a read of the second write', 20_000)

        const ids = config.replicas.map(r => r.id)
        const leader = (await status(ids[1]!)).leader
        expect(leader === null || leader < 0 ? null : leader, 'a leader named by replica 1').not.toBeNull()
        await stopReplicaProcess(config, leader!, { kill9: true })
        const survivors = ids.filter(id => id !== leader)
        // What the survivors had published before: the broadcasts counted below went out with a replica down.
        const before = new Map(await Promise.all(survivors.map(async id => [id, (await status(id)).gossip?.published ?? 0] as const)))
        await waitFor(() => write('k', 'v3'), 'a write after kill -9 of the leader', 40_000)
        await waitFor(() => reads('k', 'v3'), 'a read after kill -9 of the leader', 20_000)

        // Which survivors must have published: all, or the one leading now (Multi-Paxos).
        const publishers = c.everySurvivorBroadcasts ? survivors : [(await status(survivors[0]!)).leader!]
        expect(survivors).toEqual(expect.arrayContaining(publishers))
        const published = async (id: NodeId) => ((await status(id)).gossip?.published ?? 0) - before.get(id)!
        // Bounded: a few more writes, until every required publisher has gossiped (a loaded machine forms meshes late).
        for (let i = 0; i < 40 && (await Promise.all(publishers.map(published))).some(p => p === 0); i++) await write(`after/${i}`, 'x')
        const counters = await Promise.all(survivors.map(async id => ({ id, gossip: (await status(id)).gossip! })))
        const summary = JSON.stringify(counters)
        for (const { id, gossip } of counters) {
          if (publishers.includes(id)) expect(gossip.published - before.get(id)!, `replica ${id} published with replica ${leader} down: ${summary}`).toBeGreaterThan(0)
          expect(gossip.refused, summary).toBe(0)
          expect(gossip.malformed, summary).toBe(0)
        }
        // Somebody's broadcasts reached the others over the topic.
        expect(counters.some(({ gossip }) => gossip.delivered > 0), summary).toBe(true)

        // The same counters in `consensus cluster status` and on the metrics endpoint.
        if (c.throughCli) {
          const { stdout } = await execFileAsync(process.execPath,
            [join(import.meta.dirname, '../../bin/consensus.ts'), 'cluster', 'status', dir], { timeout: 30_000 })
          expect(stdout).toContain(`replica ${leader}: down`)
          for (const id of publishers) {
            const section = stdout.slice(stdout.indexOf(`replica ${id}:`)).split('\nreplica ')[0]!
            expect(Number(/gossip: published (\d+)/.exec(section)?.[1]), stdout).toBeGreaterThan(0)
            expect(section, stdout).toMatch(/duplicates dropped \d+, skipped as sent directly \d+, refused from non-members 0/)
          }
        }
        const scraped = parseMetrics(await scrapeMetrics('127.0.0.1', config.replicas[publishers[0]!]!.metricsPort!))
        expect(metricValue(scraped, 'consensus_network_gossip_messages_total', { event: 'published' })).toBeGreaterThan(0)
        expect(metricValue(scraped, 'consensus_network_gossip_bytes_total', { direction: 'published' })).toBeGreaterThan(0)

        // The killed replica comes back and takes broadcasts over the topic again (bounded).
        await startReplicaProcess(config, configFile, leader!)
        // Its peers redial it with backoff (a QUIC dial to a dead port waits out its timeout), so allow some seconds.
        const delivered = async () => (await status(leader!)).gossip?.delivered ?? 0
        const backBy = Date.now() + 30_000
        for (let i = 0; Date.now() < backBy && await delivered() === 0; i++) { await write(`back/${i}`, 'x'); await sleep(100) }
        expect(await delivered(), 'the restarted replica received broadcasts over gossip').toBeGreaterThan(0)
        await waitFor(() => reads('k', 'v3'), 'a read with the killed replica back', 20_000)
      } finally {
        await client?.close()
        await clusterDown(config)
      }
    }, 150_000)
  }
})
