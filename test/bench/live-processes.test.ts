/**
 * `bench live` on separate OS processes: every protocol's cluster runs as one `consensus node` process per replica with
 * the load from separate load-generator processes, reports ops, per-process CPU, RSS and messages, passes the
 * end-state agreement check, and leaves no process or folder behind (also when interrupted). The pieces beneath:
 * merged HdrHistograms give the percentiles of all samples, client nodes are spread over load processes as in the
 * in-process form, /proc readings, and the flags.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'
import { LatencyRecorder } from '../../bench/latency.ts'
import { buildLiveBenchConfig, LiveBenchConfigError } from '../../bench/live/config.ts'
import { liveClusterSize, runLiveBench } from '../../bench/live/live-bench.ts'
import { callersPerLocalNode, mergeLoadResults, nodesInProcess, type EncodedLoadResult } from '../../bench/live/load-generator.ts'
import { ownedPids } from '../../bench/live/owned-processes.ts'
import { readProcess } from '../../bench/live/proc-stat.ts'
import { liveMarkdown, liveTerminalSummary } from '../../bench/live/report.ts'
import { freeLoopbackPorts } from '../../bench/live/loopback-cluster.ts'
import { adminRequest } from '../../live/admin.ts'
import { waitUntilExited } from '../../live/processes.ts'
import { createClient } from '../../live/client.ts'
import { initCluster } from '../../live/init.ts'
import { adminSocketPath, createNode, type StateDigest } from '../../live/node.ts'

const procDirs = () => readdirSync(tmpdir()).filter(d => d.startsWith('bench-live-proc-'))

/**
 * Run `fn` with a temporary folder of its own as TMPDIR (os.tmpdir() reads it on every call, and child processes
 * inherit it), so "no cluster folder left behind" is checked where only this run writes: other test files and other
 * programs on the machine make folders of the same name in the shared /tmp meanwhile.
 */
async function inOwnTmpdir<T>(fn: () => Promise<T>): Promise<T> {
  const previous = process.env.TMPDIR
  const own = mkdtempSync(join(tmpdir(), 'live-processes-test-'))
  process.env.TMPDIR = own
  try {
    return await fn()
  } finally {
    if (previous === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = previous
    rmSync(own, { recursive: true, force: true })
  }
}

function encoded(valuesMs: readonly number[], ops: number): EncodedLoadResult {
  const r = new LatencyRecorder()
  for (const v of valuesMs) r.recordMs(v)
  return { latency: r.encode(), measuredOps: ops, timeouts: 1, windowStartMs: 100, windowEndMs: 1100, timeline: [1, 2], maxGapMs: 30, unfinished: 0, backlog: 0 }
}

describe('bench live on separate processes: the pieces', () => {
  it('merges the load processes\' histograms, so percentiles are those of all samples (not an average of percentiles)', () => {
    const fast = Array.from({ length: 100 }, (_, i) => i + 1) // 1..100 ms
    const slow = Array.from({ length: 100 }, () => 1000)
    const merged = mergeLoadResults([encoded(fast, 100), encoded(slow, 100)])
    const s = merged.latency.summary()
    expect(s.count).toBe(200)
    // Half the samples are at most 100 ms: the merged median is 100 ms; averaging the two medians would give ~525.
    expect(s.p50).toBeCloseTo(100, 0)
    expect(s.p99).toBeCloseTo(1000, 0)
    expect(s.max).toBeCloseTo(1000, 0)
    expect(merged.measuredOps).toBe(200)
    expect(merged.timeouts).toBe(2)
    expect(merged.timeline).toEqual([2, 4])
  })

  it('spreads client nodes over load processes and callers over nodes as the in-process form does', () => {
    for (const [clients, nodes, k] of [[1, 1, 1], [8, 1, 1], [8, 2, 2], [256, 256, 3], [10, 4, 3], [5, 5, 8]] as const) {
      const perProcess = Array.from({ length: k }, (_, p) => nodesInProcess(nodes, p, k))
      expect(perProcess.reduce((a, b) => a + b, 0), `${clients}/${nodes}/${k}`).toBe(nodes)
      // Caller i runs on node i mod nodes: node m carries floor(clients / nodes) callers, one more if m < clients mod nodes.
      const callers = Array.from({ length: k }, (_, p) => callersPerLocalNode(clients, nodes, p, k))
      expect(callers.flat().reduce((a, b) => a + b, 0), `${clients}/${nodes}/${k}`).toBe(clients)
      const byNode = new Map<number, number>()
      callers.forEach((list, p) => list.forEach((c, j) => byNode.set(p + j * k, c)))
      for (let m = 0; m < nodes; m++) {
        expect(byNode.get(m)).toBe(Array.from({ length: clients }, (_, i) => i).filter(i => i % nodes === m).length)
      }
    }
  })

  it('reads CPU time and memory of a process from /proc, and nothing for one that does not exist', () => {
    const me = readProcess(process.pid)
    expect(me).not.toBeNull()
    expect(me!.userMs + me!.systemMs).toBeGreaterThan(0)
    expect(me!.rssBytes).toBeGreaterThan(10 * 1024 * 1024)
    expect(me!.peakRssBytes).toBeGreaterThanOrEqual(me!.rssBytes)
    expect(readProcess(2 ** 22 + 12345)).toBeNull()
  })

  it("the admin socket's digest is the SHA-256 of the replicated state at the applied index, and moves with it", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-live-digest-'))
    try {
      const config = initCluster({ protocol: 'unreplicated', n: 1, dir, ports: await freeLoopbackPorts(1), clients: 1, fsync: 'none' })
      const node = await createNode({ config, id: 0 })
      const client = await createClient({ config })
      try {
        const digest = () => adminRequest(adminSocketPath(config, 0), { cmd: 'digest' }) as Promise<StateDigest>
        const before = await digest()
        await client.put('k', 'v')
        const after = await digest()
        expect(after.appliedIndex).toBeGreaterThan(before.appliedIndex)
        expect(after.sha256).not.toBe(before.sha256)
        expect(after.sha256).toBe(createHash('sha256').update(node.host.stateMachine.snapshot()).digest('hex'))
      } finally {
        await client.close()
        await node.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('names bad --load-processes and its conflict with --in-process', () => {
    const problems = (flags: Record<string, string | boolean>) => {
      try { buildLiveBenchConfig(flags, protocols) } catch (e) { if (e instanceof LiveBenchConfigError) return e.problems; throw e }
      return []
    }
    expect(problems({ loadProcesses: '0' })).toEqual(['--load-processes: expected an integer from 1 to 16, got "0"'])
    expect(problems({ loadProcesses: '2', inProcess: true })).toEqual(['--load-processes: load processes need the multi-process form (drop --in-process)'])
    expect(problems({ forms: 'in-process,threads' })).toEqual(['--forms[1]: expected one of multi-process, in-process, got "threads"'])
    expect(problems({ forms: 'in-process', inProcess: true })).toEqual(['--in-process: means --forms in-process; give one of the two'])
    expect(buildLiveBenchConfig({}, protocols)).toMatchObject({ forms: ['multi-process'], loadProcesses: 1 })
    expect(buildLiveBenchConfig({ inProcess: true }, protocols)).toMatchObject({ forms: ['in-process'] })
    expect(buildLiveBenchConfig({ forms: 'multi-process,in-process' }, protocols)).toMatchObject({ forms: ['multi-process', 'in-process'] })
  })
})

describe('bench live on separate processes: real clusters', () => {
  // Raft also runs two load processes (client nodes 2): at 1 outstanding operation one of them is idle, at 8 both carry
  // load and their histograms are merged.
  it.each(['raft', 'multipaxos', 'pbft', 'hotstuff', 'unreplicated'])(
    '%s: replicas as processes, load from another, figures per process, agreement, nothing left behind', name => inOwnTmpdir(async () => {
      const dirsBefore = new Set(procDirs())
      const loadProcesses = name === 'raft' ? 2 : 1
      // 1 and 8 outstanding operations pipelined on the client nodes; fsync to disk in batches, as the live default.
      const config = buildLiveBenchConfig({ protocols: name, clients: '1,8', clientNodes: String(loadProcesses), fsync: 'batch',
        loadProcesses: String(loadProcesses), warmupMs: '200', durationMs: '1000', echoPings: '50', transportMessages: '0' }, protocols)
      const results = await runLiveBench(config, protocols)
      const n = liveClusterSize(protocols.get(name)!)
      expect(results.forms).toEqual(['multi-process'])
      expect(results.runs.map(r => r.form)).toEqual(['multi-process', 'multi-process'])
      expect(results.runs.map(r => r.clients)).toEqual([1, 8])
      const pids = new Set<number>()
      for (const r of results.runs) {
        expect(r.median.ops, r.id).toBeGreaterThan(0)
        expect(r.median.latencySamples, r.id).toBeGreaterThan(0)
        expect(r.median.latencyMs.p50 <= r.median.latencyMs.p99, r.id).toBe(true)
        expect(r.agreement, r.id).toBe('agreed')
        expect(r.samples[0]!.agreement.appliedIndex).toHaveLength(n)
        const replicas = r.processes.filter(p => p.role === 'replica')
        expect(replicas.map(p => p.id), r.id).toEqual(Array.from({ length: n }, (_, i) => i))
        for (const p of replicas) {
          expect(p.pid, r.id).not.toBe(process.pid)
          expect(p.pid, r.id).not.toBeNull()
          expect(p.cpuMs, `${r.id} replica ${p.id} cpu`).toBeGreaterThan(0)
          expect(p.rssBytes, `${r.id} replica ${p.id} rss`).toBeGreaterThan(10 * 1024 * 1024)
          // Every replica of a replicated protocol sends replica-to-replica messages for the operations it orders.
          if (n > 1) expect(p.messagesPerOp, `${r.id} replica ${p.id} msgs/op`).toBeGreaterThan(0)
          // Signed-message protocols spend some of their CPU on signatures; the crash-fault ones never sign.
          if (name === 'pbft' || name === 'hotstuff') expect(p.signatureCpuShare, `${r.id} replica ${p.id} sig share`).toBeGreaterThan(0)
          else expect(p.signatureCpuShare, `${r.id} replica ${p.id} sig share`).toBe(0)
          pids.add(p.pid!)
        }
        const loaders = r.processes.filter(p => p.role === 'load-generator')
        expect(loaders.map(p => p.id), r.id).toEqual(Array.from({ length: loadProcesses }, (_, i) => i))
        for (const p of loaders) {
          expect(p.rssBytes, r.id).toBeGreaterThan(10 * 1024 * 1024)
          pids.add(p.pid!)
        }
        // The first load process carries load at every count (client node 0 is its own).
        expect(loaders[0]!.cpuMs, r.id).toBeGreaterThan(0)
        if (r.clients === 8) for (const p of loaders) expect(p.cpuMs, `${r.id} load ${p.id}`).toBeGreaterThan(0)
        expect(r.median.cpuUsPerOp, r.id).toBeGreaterThan(0)
        expect(r.median.signatureCpuShare, r.id).not.toBeNull()
      }
      // n replicas and the load generators, the same processes for both client counts.
      expect(pids.size).toBe(n + loadProcesses)
      const text = liveTerminalSummary(results, null)
      expect(text).toContain('Multi-process form: each replica is its own OS process')
      expect(text).toContain(`${loadProcesses} separate load-generator process`)
      expect(liveMarkdown(results)).toContain('## Per process')
      expect(waitUntilExited(pids, 0), 'processes left running').toEqual([])
      expect(ownedPids()).toEqual([])
      expect(procDirs().filter(d => !dirsBefore.has(d)), 'cluster folders left behind').toEqual([])
    }), 60_000)

  it('a load generator that dies mid-measurement fails the run, naming it, and every process and folder is cleaned up', () => inOwnTmpdir(async () => {
    const dirsBefore = new Set(procDirs())
    const config = buildLiveBenchConfig({ protocols: 'unreplicated', clients: '1', fsync: 'none', warmupMs: '200', durationMs: '20000',
      echoPings: '50', transportMessages: '0' }, protocols)
    let started: number[] = []
    const run = runLiveBench(config, protocols, {
      onProgress: p => {
        if (!p.label.endsWith('clients=1')) return
        // The processes this run started: the load generator (forked first, while the replica starts) and the replica.
        started = [...ownedPids()]
        setTimeout(() => process.kill(started[0]!, 'SIGKILL'), 300)
      },
    })
    await expect(run).rejects.toThrow(/load generator 0 \(pid \d+\) exited \(SIGKILL\)/)
    expect(started).toHaveLength(2)
    expect(waitUntilExited(started, 0), 'processes left running').toEqual([])
    expect(ownedPids()).toEqual([])
    expect(procDirs().filter(d => !dirsBefore.has(d)), 'cluster folders left behind').toEqual([])
  }), 60_000)

  it('Ctrl-C (SIGINT) during a measurement stops every replica and load process by PID and removes the cluster folder', () => inOwnTmpdir(async () => {
    const dirsBefore = new Set(procDirs())
    const child = spawn(process.execPath, ['bin/bench.ts', 'live', '--protocols', 'unreplicated', '--clients', '1', '--fsync', 'none',
      '--warmup-ms', '200', '--duration-ms', '20000', '--echo-pings', '50', '--transport-messages', '0', '--no-save'],
    { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8')
    const measuring = new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: string) => {
        stderr += chunk
        if (/unreplicated n=1 fsync=none clients=1\n/.test(stderr)) resolve()
      })
      child.once('exit', () => reject(new Error(`bench exited before measuring:\n${stderr}`)))
    })
    const exited = new Promise<NodeJS.Signals | null>(resolve => child.once('exit', (_code, signal) => resolve(signal)))
    await measuring
    // Its children, found by parent pid: the replica and the load generator.
    const children = readdirSync('/proc').filter(d => /^\d+$/.test(d)).map(Number).filter(pid => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === child.pid
      } catch { return false }
    })
    expect(children).toHaveLength(2)
    child.kill('SIGINT')
    // Ended by the signal, as without the handler, after stopping its children.
    expect(await exited).toBe('SIGINT')
    expect(stderr).toContain('SIGINT: stopping 2 child process(es) by PID')
    expect(waitUntilExited(children, 0), 'processes left running').toEqual([])
    expect(procDirs().filter(d => !dirsBefore.has(d)), 'cluster folders left behind').toEqual([])
  }), 60_000)
})
