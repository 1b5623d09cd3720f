/**
 * `bench live --cluster <cluster.json>`: the benchmark drives a cluster it did not start and leaves it running. Here
 * the cluster runs on this machine (its replicas' admin sockets answer), so every figure is read as for the clusters
 * the bench starts; replicas on other hosts are read through their metrics endpoints, which the network-namespace
 * test (test/live/netns.test.ts) covers. Also: what --cluster decides is refused as a flag, and a replica that can be
 * read neither way is named with what to add to cluster.json.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'
import { buildLiveBenchConfig, LiveBenchConfigError, type LiveBenchFlags } from '../../bench/live/config.ts'
import { ExternalClusterError } from '../../bench/live/external-cluster.ts'
import { runLiveBench } from '../../bench/live/live-bench.ts'
import { startProcessCluster, type ProcessCluster } from '../../bench/live/process-cluster.ts'
import { liveMarkdown } from '../../bench/live/report.ts'
import { adminRequest } from '../../live/admin.ts'
import { adminSocketPath, type NodeStatus } from '../../live/node.ts'

const QUICK: LiveBenchFlags = { clients: '1,3', warmupMs: '200', durationMs: '700', transportMessages: '0', echoPings: '50' }

let cluster: ProcessCluster

beforeAll(async () => {
  cluster = await startProcessCluster({ protocol: 'raft', n: 3, clients: 3, fsync: 'batch' })
}, 60_000)

afterAll(async () => {
  await cluster?.close()
})

function problemsOf(flags: LiveBenchFlags): readonly string[] {
  try {
    buildLiveBenchConfig(flags, protocols)
  } catch (e) {
    if (e instanceof LiveBenchConfigError) return e.problems
    throw e
  }
  return []
}

describe('bench live --cluster: a running cluster started elsewhere', () => {
  it('measures it with its own protocol, size and fsync, reads every replica, and leaves it running', async () => {
    const config = buildLiveBenchConfig({ ...QUICK, cluster: cluster.configFile }, protocols)
    expect(config).toMatchObject({ protocols: ['raft'], fsync: ['batch'], forms: ['external'], cluster: cluster.configFile })
    const results = await runLiveBench(config, protocols)
    expect(results.runs.map(r => r.id)).toEqual(['raft/n3/fsync-batch/c1/external', 'raft/n3/fsync-batch/c3/external'])
    for (const r of results.runs) {
      expect(r.form).toBe('external')
      expect(r.n).toBe(3)
      expect(r.median.ops, r.id).toBeGreaterThan(0)
      expect(r.median.timeouts, r.id).toBe(0)
      expect(r.median.messagesPerOp, r.id).toBeGreaterThan(0)
      expect(r.median.fsyncsPerOp, r.id).not.toBeNull()
      expect(r.agreement, r.id).toBe('agreed')
      const replicas = r.processes.filter(p => p.role === 'replica')
      expect(replicas.map(p => p.id)).toEqual([0, 1, 2])
      for (const p of replicas) {
        // On this machine: read from /proc for the PID in the replica's pid file.
        expect(p.pid, `${r.id} replica ${p.id}`).not.toBeNull()
        expect(p.cpuMs, `${r.id} replica ${p.id}`).not.toBeNull()
        expect(p.messagesPerOp, `${r.id} replica ${p.id}`).toBeGreaterThan(0)
      }
    }
    expect(liveMarkdown(results)).toContain(`External form (--cluster ${cluster.configFile})`)
    // Nothing was stopped: every replica still answers, and the writes are there.
    const statuses = await Promise.all(cluster.config.replicas.map(r =>
      adminRequest(adminSocketPath(cluster.config, r.id), { cmd: 'status' }) as Promise<NodeStatus>))
    for (const s of statuses) expect(s.appliedIndex).toBeGreaterThan(results.runs.reduce((a, r) => a + r.median.ops, 0) / 2)
  }, 90_000)

  it('runs open loop on it at the offered rate (--rates): the rate reaches the load processes, not a closed loop', async () => {
    const results = await runLiveBench(buildLiveBenchConfig({ ...QUICK, clients: '3', rates: '20', cluster: cluster.configFile }, protocols), protocols)
    expect(results.runs.map(r => r.id)).toEqual(['raft/n3/fsync-batch/c3/r20/external'])
    const run = results.runs[0]!
    expect(run.offeredRate).toBe(20)
    // About 20 ops/s offered (Poisson over 0.7 s); three closed-loop callers on this cluster do well over a hundred.
    expect(run.median.throughput).toBeGreaterThan(3)
    expect(run.median.throughput).toBeLessThan(50)
    expect(run.median.timeouts).toBe(0)
  }, 60_000)

  it('refuses flags the cluster decides, a cluster.json it cannot load, and more client nodes than the file has identities', () => {
    const given = problemsOf({ cluster: cluster.configFile, fsync: 'always', protocols: 'pbft', inProcess: true })
    expect(given).toContain("--fsync: set by the running cluster's cluster.json (--cluster); drop it")
    expect(given).toContain("--protocols: set by the running cluster's cluster.json (--cluster); drop it")
    expect(given).toContain("--in-process: set by the running cluster's cluster.json (--cluster); drop it")
    const missing = problemsOf({ cluster: '/nonexistent/cluster.json' })
    expect(missing).toHaveLength(1)
    expect(missing[0]).toMatch(/^--cluster: \/nonexistent\/cluster.json: .*cannot read/)
    expect(problemsOf({ cluster: cluster.configFile, clients: '8' })).toEqual([
      `--clients: 8 client nodes need as many client identities, and ${cluster.configFile} lists 3 (give --client-nodes to pipeline on fewer)`,
    ])
    expect(problemsOf({ cluster: cluster.configFile, clients: '8', clientNodes: '2' })).toEqual([])
  })

  it('names every replica it can read neither through an admin socket here nor through a metrics endpoint', async () => {
    // The same cluster.json elsewhere (as on a benchmark host): no admin sockets next to it, and no metricsPort.
    const elsewhere = mkdtempSync(join(tmpdir(), 'bench-external-'))
    try {
      const copy = join(elsewhere, 'cluster.json')
      copyFileSync(cluster.configFile, copy)
      const config = buildLiveBenchConfig({ ...QUICK, cluster: copy }, protocols)
      const failure = await runLiveBench(config, protocols).then(() => null, (e: unknown) => e)
      expect(failure).toBeInstanceOf(ExternalClusterError)
      const lines = (failure as Error).message.split('\n').slice(1).map(l => l.trim())
      expect(lines).toEqual([0, 1, 2].map(id => expect.stringMatching(new RegExp(
        `^replica ${id}: no admin socket at .*replica-${id}.sock \\(it does not run on this machine\\) and no metricsPort in cluster.json`))))
    } finally {
      rmSync(elsewhere, { recursive: true, force: true })
    }
  }, 30_000)
})
