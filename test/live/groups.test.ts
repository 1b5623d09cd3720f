/**
 * A sharded cluster of real replica processes (cluster.json with `groups`): 3 `consensus node` processes hosting 16
 * groups each, for Raft and Multi-Paxos. Writes and reads routed by key succeed; every replica ends up leading some
 * groups (the balancer's transfers); kill -9 of one replica process and its restart recover all of its groups, with no
 * acknowledged write lost (after a second replica is killed, the restarted one is needed for every group's quorum,
 * and every read returns the last acknowledged value). Bad `groups` sections are refused naming the field.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../core/errors.ts'
import type { NodeId } from '../../core/types.ts'
import { adminRequest } from '../../live/admin.ts'
import { createClient } from '../../live/client.ts'
import { validateClusterConfig, type ClusterConfig } from '../../live/config.ts'
import type { GroupedNodeStatus } from '../../live/grouped-node.ts'
import { initCluster } from '../../live/init.ts'
import { adminSocketPath } from '../../live/node.ts'
import { clusterDown, startReplicaProcess, stopReplicaProcess } from '../../live/processes.ts'
import { freePorts, waitFor } from '../libp2p/helpers.ts'
import { putEventually } from '../support/live.ts'

const GROUPS = 16
const KEYS = 48

const dirs: string[] = []
const clusters: ClusterConfig[] = []
afterAll(async () => {
  for (const c of clusters) await clusterDown(c)
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

async function status(config: ClusterConfig, id: NodeId): Promise<GroupedNodeStatus> {
  return await adminRequest(adminSocketPath(config, id), { cmd: 'status' }) as GroupedNodeStatus
}

/** Every group on replica `id` has a leader among `among`, and its commit index reached `targets` (by group). */
async function caughtUp(config: ClusterConfig, id: NodeId, among: readonly NodeId[], targets: ReadonlyMap<number, number>): Promise<boolean> {
  const s = await status(config, id).catch(() => null)
  return s !== null && s.groups.length === GROUPS &&
    s.groups.every(g => g.leader !== null && among.includes(g.leader) && g.commitIndex >= (targets.get(g.group) ?? 0))
}

for (const protocol of ['raft', 'multipaxos']) {
  describe(`${protocol}: ${GROUPS} groups on 3 replica processes`, () => {
    it('routes by key, spreads leaders, and recovers every group of a kill -9ed replica with no acknowledged write lost', async () => {
      const dir = mkdtempSync(join(tmpdir(), `live-groups-${protocol}-`))
      dirs.push(dir)
      const config = initCluster({ protocol, n: 3, dir, ports: await freePorts(3), clients: 2, fsync: 'batch', groups: { count: GROUPS, keys: KEYS } })
      clusters.push(config)
      expect(config.groups?.ranges).toHaveLength(GROUPS)
      const configFile = join(dir, 'cluster.json')
      const ids = [0, 1, 2]
      // In parallel: most of a replica's start-up is loading modules, which the cores can overlap.
      await Promise.all(ids.map(id => startReplicaProcess(config, configFile, id, 60_000)))
      const client = await createClient({ config, clientId: 1000, timeoutMs: 2000 })

      // 1. Writes and reads routed by key: KEYS keys over all GROUPS groups (the split points are over k0..k47).
      const last = new Map<string, string>()
      await Promise.all(Array.from({ length: KEYS }, async (_, i) => {
        await putEventually(client, `k${i}`, `a${i}`)
        last.set(`k${i}`, `a${i}`)
      }))
      for (const [key, value] of last) expect(await client.get(key)).toBe(value)
      const touched = new Set((await status(config, 0)).groups.filter(g => g.commitIndex > 0).map(g => g.group))
      expect(touched.size).toBe(GROUPS)

      // 2. Leaders end up spread: each replica leads some groups (preferred leaders, by transfer).
      await waitFor(async () => (await Promise.all(ids.map(id => status(config, id)))).every(s => s.leading > 0),
        'every replica to lead some groups', 30_000)

      // 3. kill -9 replica 1; writes go on in every group (replicas 0 and 2 are a quorum of each).
      await stopReplicaProcess(config, 1, { kill9: true })
      await Promise.all(Array.from({ length: KEYS }, async (_, i) => {
        await putEventually(client, `k${i}`, `b${i}`, 30_000)
        last.set(`k${i}`, `b${i}`)
      }))

      // 4. Restart it: it recovers all its groups from its data directory and catches up with every group's commits.
      await startReplicaProcess(config, configFile, 1, 60_000)
      const s0 = await status(config, 0)
      const targets = new Map(s0.groups.map(g => [g.group, g.commitIndex]))
      await waitFor(() => caughtUp(config, 1, ids, targets), 'replica 1 to recover and catch up in every group', 30_000)

      // 5. kill -9 replica 2: now replica 1 is needed for every group's quorum. Every read returns the last
      //    acknowledged value, and writes still succeed.
      await stopReplicaProcess(config, 2, { kill9: true })
      const reads = await Promise.all([...last.keys()].map(key => readEventually(client, key)))
      expect(reads).toEqual([...last.values()])
      await putEventually(client, 'k0', 'c0', 30_000)
      expect(await client.get('k0')).toBe('c0')
      await client.close()
    })
  })
}

async function readEventually(client: Awaited<ReturnType<typeof createClient>>, key: string, withinMs = 30_000): Promise<string | null> {
  const deadline = Date.now() + withinMs
  for (;;) {
    try {
      return await client.get(key)
    } catch (e) {
      if (Date.now() > deadline) throw e
    }
  }
}

describe('cluster.json groups section', () => {
  const base = (groups: unknown): unknown => {
    const raw = {
      version: 1, protocol: 'raft',
      replicas: [0, 1, 2].map(id => ({ id, publicKey: `${id}`.repeat(64), address: `/ip4/127.0.0.1/tcp/${7100 + id}`, keyFile: `k${id}`, dataDir: `d${id}` })),
      groups,
    }
    return raw
  }
  const fieldOf = (groups: unknown): string => {
    try {
      validateClusterConfig(base(groups), '/nonexistent')
    } catch (e) {
      if (e instanceof ConfigError) return e.message
      throw e
    }
    return 'accepted'
  }

  it('accepts a count with default split points, and explicit ranges', () => {
    expect(fieldOf({ count: 8, replication: 3 })).toBe('accepted')
    expect(fieldOf({ count: 2, ranges: [{ start: '', group: 0 }, { start: 'm', group: 1 }] })).toBe('accepted')
  })

  it('refuses bad sections naming the field', () => {
    expect(fieldOf({ count: 0 })).toMatch(/^groups\.count:/)
    expect(fieldOf({ count: 4, replication: 4 })).toMatch(/^groups\.replication: expected at most the 3 replicas/)
    expect(fieldOf({ count: 4, shards: 2 })).toMatch(/^groups: .*shards/)
    expect(fieldOf({ count: 2, ranges: [{ start: '', group: 0 }] })).toMatch(/^groups\.ranges: expected 2 ranges/)
    expect(fieldOf({ count: 2, ranges: [{ start: 'a', group: 0 }, { start: 'm', group: 1 }] })).toMatch(/^groups\.ranges\[0\]\.start: the first range must start at ""/)
    expect(fieldOf({ count: 2, ranges: [{ start: '', group: 0 }, { start: 'm', group: 0 }] })).toMatch(/^groups\.ranges\[1\]\.group: group 0 already holds/)
    expect(fieldOf({ count: 2, ranges: [{ start: '', group: 0 }, { start: 'm', group: 5 }] })).toMatch(/^groups\.ranges\[1\]\.group: expected a group from 0 to 1/)
    expect(fieldOf({ count: 2000 })).toMatch(/^groups\.ranges: 2000 groups need explicit split points/)
  })

  it('cluster init refuses more groups than keys to split before writing anything', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'live-groups-init-')), 'c')
    dirs.push(dir)
    expect(() => initCluster({ protocol: 'raft', n: 3, dir, groups: { count: 10, keys: 5 } })).toThrow(/groupKeys: 10 groups need a key space of at least 10 keys/)
  })
})
