/**
 * `bench live --baseline etcd`: with an etcd binary on the PATH (Debian: etcd-server) a tiny run measures a real
 * 3-member etcd cluster beside Raft (one etcd measurement paired with each Raft one), the ratios come from the figures, and every etcd process is gone afterwards, also
 * when the run is interrupted with SIGINT; without one the command says how to install it and measures the protocols.
 * Under CI=true a missing etcd fails the tests that need it; elsewhere they say plainly that they did not run.
 */
import { spawn } from 'node:child_process'
import { accessSync, constants, existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'
import { buildLiveBenchConfig, LiveBenchConfigError } from '../../bench/live/config.ts'
import { openEtcdBaseline } from '../../bench/live/etcd-baseline.ts'
import { ETCD_MISSING, findEtcd } from '../../bench/live/etcd-cluster.ts'
import { runLiveBench, type LiveResults } from '../../bench/live/live-bench.ts'
import { alive, waitUntilExited } from '../../live/processes.ts'
import { liveMarkdown, liveTerminalSummary } from '../../bench/live/report.ts'

const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false'
const etcd = findEtcd()
const ETCD_TESTS_NOT_RUN = 'etcd baseline tests NOT RUN: no etcd binary on the PATH. Install it with ' +
  '`apt-get update && apt-get install -y etcd-server` to run them; under CI=true they fail instead.'
if (etcd === null && !inCi) process.stderr.write(`\n*** ${ETCD_TESTS_NOT_RUN} ***\n\n`)
const notRun = etcd === null ? ` [NOT RUN: ${ETCD_TESTS_NOT_RUN}]` : ''

/** This PATH without every folder holding an executable etcd. */
function pathWithoutEtcd(): string {
  return (process.env.PATH ?? '').split(delimiter).filter(dir => {
    try { accessSync(join(dir, 'etcd'), constants.X_OK); return false } catch { return true }
  }).join(delimiter)
}

/** The bench command run to its end (killed after 30 s), without blocking this process's event loop. */
function benchCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  const child = spawn(process.execPath, ['bin/bench.ts', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (t: string) => { stdout += t })
  child.stderr.setEncoding('utf8').on('data', (t: string) => { stderr += t })
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, 30_000)
  return new Promise(resolve => child.on('close', status => { clearTimeout(timer); resolve({ status, stdout, stderr, timedOut }) }))
}

describe('bench live --baseline etcd', () => {
  it('names a bad --baseline and defaults to none', () => {
    expect(buildLiveBenchConfig({}, protocols).baseline).toBeNull()
    expect(buildLiveBenchConfig({ baseline: 'none' }, protocols).baseline).toBeNull()
    expect(buildLiveBenchConfig({ baseline: 'etcd' }, protocols).baseline).toBe('etcd')
    expect(() => buildLiveBenchConfig({ baseline: 'zookeeper' }, protocols)).toThrow(LiveBenchConfigError)
    expect(() => buildLiveBenchConfig({ baseline: 'zookeeper' }, protocols)).toThrow('--baseline: expected etcd or none, got "zookeeper"')
  })

  it('an etcd that cannot start is reported as failed, naming why, and later measurements do nothing', async () => {
    // A binary that exits at once in etcd's place: the member dies while the cluster waits for it to be healthy.
    const config = buildLiveBenchConfig({ protocols: 'raft', clients: '1', baseline: 'etcd', warmupMs: '0', durationMs: '1' }, protocols)
    const labels: string[] = []
    let measured = 0
    const session = openEtcdBaseline(config, { onProgress: l => labels.push(l), onMeasured: () => { measured++ } }, '/bin/false')
    await session.measureBeside(3, 1, 0)
    await session.measureBeside(3, 1, 0)
    session.pairWith({ id: 'raft/n3/fsync-none/c1', n: 3, clients: 1, median: { throughput: 1, latencySamples: 1, latencyMs: { p50: 1 } } })
    const r = session.results()
    // One attempt to start, one failure said; both calls still count as done for the progress total.
    expect(labels.filter(l => l.endsWith('starting'))).toEqual(['etcd n=3: starting'])
    expect(labels.filter(l => l.startsWith('etcd baseline failed'))).toHaveLength(1)
    expect(measured).toBe(2)
    expect(r.status).toBe('failed')
    expect(r.message).toMatch(/^etcd baseline failed: etcd member m\d exited while starting \(code 1\)/)
    expect(r.runs).toEqual([])
    expect(r.comparisons).toEqual([])
    await session.close()
  })

  if (etcd === null && inCi) {
    it('needs etcd under CI', () => { throw new Error(ETCD_TESTS_NOT_RUN) })
  }

  it.skipIf(etcd === null)(`measures etcd n = 3 beside Raft at 1 and 8 outstanding operations, with the ratios${notRun}`, async () => {
    const config = buildLiveBenchConfig({ protocols: 'raft', clients: '1,8', clientNodes: '1', fsync: 'batch', warmupMs: '200',
      durationMs: '1000', echoPings: '10', transportMessages: '0', valueSize: '100', keys: '10000', baseline: 'etcd' }, protocols)
    const results = await runLiveBench(config, protocols)
    const b = results.baseline!
    expect(b.status, b.message ?? '').toBe('measured')
    expect(b.version).toMatch(/^\d+\.\d+\.\d+/)
    expect(b.runs.map(e => e.id)).toEqual(['etcd/n3/c1', 'etcd/n3/c8'])
    const pids = new Set<number>()
    for (const e of b.runs) {
      const m = e.median
      expect(m.ops, e.id).toBeGreaterThan(0)
      expect(m.throughput, e.id).toBeGreaterThan(0)
      expect(m.latencyMs.p50, e.id).toBeGreaterThan(0)
      expect(m.latencyMs.p50 <= m.latencyMs.p99 && m.latencyMs.p99 <= m.latencyMs.max, e.id).toBe(true)
      expect(m.timeouts, e.id).toBeLessThanOrEqual(Math.max(1, 0.05 * m.ops))
      // Three member processes, each with CPU time spent in the window and resident memory from /proc.
      expect(m.members, e.id).toHaveLength(3)
      for (const member of m.members) {
        expect(member.peakRssBytes, e.id).toBeGreaterThan(1 << 20)
      }
      expect(m.members.reduce((s, x) => s + x.cpuMs, 0), e.id).toBeGreaterThan(0)
      expect(m.serverCpuUsPerOp, e.id).toBeGreaterThan(0)
      for (const s of e.samples) for (const member of s.members) pids.add(member.pid)
    }
    expect(pids.size).toBe(3)
    expect(waitUntilExited(pids, 0), 'etcd members still running after the run').toEqual([])
    // Every Raft run is paired with the etcd measurement taken right before it, the ratios computed from the figures.
    expect(b.comparisons.map(c => `${c.protocolRun} ${c.etcdRun} ${c.etcdSamples}`)).toEqual([
      'raft/n3/fsync-batch/c1 etcd/n3/c1 1', 'raft/n3/fsync-batch/c8-on1 etcd/n3/c8 1',
    ])
    for (const c of b.comparisons) {
      const x = results.runs.find(r => r.id === c.protocolRun)!
      const e = b.runs.find(r => r.id === c.etcdRun)!
      expect(e.samples).toHaveLength(1)
      expect(c.etcdThroughput).toBe(e.median.throughput)
      expect(c.etcdP50Ms).toBe(e.median.latencyMs.p50)
      expect(x.median.ops, x.id).toBeGreaterThan(0)
      expect(c.throughputRatio).toBeCloseTo(x.median.throughput / e.median.throughput, 2)
      expect(c.p50Ratio).toBeCloseTo(x.median.latencyMs.p50 / e.median.latencyMs.p50, 2)
    }
    const text = liveTerminalSummary(results, null)
    const ratio = `${b.comparisons[1]!.throughputRatio!.toFixed(2)}x`
    expect(text).toContain('raft fsync batch: ops/s (p50 ms) vs etcd')
    expect(text).toContain(ratio)
    const md = liveMarkdown(results)
    expect(md).toContain('## Side by side with etcd')
    expect(md).toContain(ratio)
  }, 60_000)

  // The two command-line runs below overlap (it.concurrent): they assert what the command did, not how fast.
  it.concurrent('without etcd on the PATH says how to install it in one line, and still measures the protocols', async ({ expect }) => {
    const r = await benchCli(['live', '--protocols', 'unreplicated', '--clients', '1', '--fsync', 'none', '--warmup-ms', '100',
      '--duration-ms', '300', '--echo-pings', '10', '--transport-messages', '0', '--baseline', 'etcd', '--no-save', '--json', '--quiet'],
    { ...process.env, PATH: pathWithoutEtcd() })
    expect(r.timedOut, 'the process did not exit within 30 s').toBe(false)
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr.split('\n').filter(l => l.includes('etcd'))).toEqual([`bench live: ${ETCD_MISSING}`])
    expect(ETCD_MISSING).toContain('apt-get install -y etcd-server')
    const json = JSON.parse(r.stdout) as LiveResults
    expect(json.baseline).toMatchObject({ name: 'etcd', status: 'absent', message: ETCD_MISSING, runs: [], comparisons: [] })
    expect(json.runs.map(x => x.id)).toEqual(['unreplicated/n1/fsync-none/c1'])
    expect(json.runs[0]!.median.ops).toBeGreaterThan(0)
    expect(json.runs[0]!.median.throughput).toBeGreaterThan(0)
    expect(liveMarkdown(json)).toContain(ETCD_MISSING)
  })

  it.skipIf(etcd === null).concurrent(`stops every etcd process it started and removes their data when interrupted (SIGINT)${notRun}`, async ({ expect }) => {
    const child = spawn(process.execPath, ['bin/bench.ts', 'live', '--protocols', 'unreplicated', '--clients', '1', '--fsync', 'none',
      '--warmup-ms', '5000', '--duration-ms', '20000', '--echo-pings', '10', '--transport-messages', '0', '--baseline', 'etcd', '--no-save'],
    { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(resolve => child.on('exit', (code, signal) => resolve({ code, signal })))
    // The progress line naming the members' pids and data folder, then the first measurement under way.
    const started = await new Promise<RegExpExecArray | null>(resolve => {
      const timer = setTimeout(() => resolve(null), 30_000)
      child.stderr.setEncoding('utf8')
      child.stderr.on('data', (text: string) => {
        stderr += text
        if (/etcd n=1 clients=1/.test(stderr)) { clearTimeout(timer); resolve(/pids ([\d, ]+); data in (\S+)\)/.exec(stderr)) }
      })
    })
    if (started === null) child.kill('SIGKILL')
    expect(started, stderr).not.toBeNull()
    const pids = started![1]!.split(', ').map(Number)
    const dir = started![2]!
    expect(pids).toHaveLength(1)
    expect(pids.every(pid => alive(pid))).toBe(true)
    expect(existsSync(dir)).toBe(true)
    child.kill('SIGINT')
    const end = await exited
    expect(end.signal ?? end.code, stderr).toBe('SIGINT')
    expect(waitUntilExited(pids), 'etcd members left running').toEqual([])
    expect(existsSync(dir), `${dir} left behind`).toBe(false)
  }, 60_000)
})
