/**
 * Live benchmarks over libp2p on loopback: a short real run (in-process form) gives every figure with sane values, a
 * sweep puts real (multi-process) and simulated runs side by side labelled by timebase, the command exits by itself
 * (no leaked handles or processes), and bad flags are named. The multi-process form per protocol: live-processes.test.ts.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'
import { registryView } from '../../bench/cli-config.ts'
import { validateSweepConfig } from '../../bench/config.ts'
import { buildLiveBenchConfig, DEFAULT_LIVE_BENCH, LiveBenchConfigError } from '../../bench/live/config.ts'
import { runLiveBench, type LiveResults } from '../../bench/live/live-bench.ts'
import { LIVE_OUTPUT_FILES, liveResultsDir, liveTerminalSummary, measuredStacks, stackRows, writeLiveResults } from '../../bench/live/report.ts'
import { toMarkdown } from '../../bench/output/markdown.ts'
import { summaryRows } from '../../bench/output/table.ts'
import { runSweep } from '../../bench/sweep.ts'

const bench = (...args: string[]) => spawnSync(process.execPath, ['bin/bench.ts', ...args], { encoding: 'utf8', timeout: 60_000 })

function problemsOf(flags: Record<string, string>): readonly string[] {
  try {
    buildLiveBenchConfig(flags, protocols)
  } catch (e) {
    if (e instanceof LiveBenchConfigError) return e.problems
    throw e
  }
  throw new Error('expected the flags to be rejected')
}

describe('bench live', () => {
  it('names every bad flag', () => {
    expect(problemsOf({ clients: '1,0,x' })).toEqual([
      '--clients[1]: expected an integer from 1 to 1024, got "0"', '--clients[2]: expected an integer from 1 to 1024, got "x"',
    ])
    expect(problemsOf({ fsync: 'batch,sometimes', protocols: 'raft,zab', repeat: '0', durationMs: '1.5' })).toEqual([
      expect.stringMatching(/^--protocols\[1\]: unknown protocol "zab"/),
      '--fsync[1]: expected one of always, batch, none, got "sometimes"',
      '--duration-ms: expected an integer from 1 to 3600000, got "1.5"',
      '--repeat: expected an integer from 1 to 100, got "0"',
    ])
    expect(problemsOf({ clients: '4,4' })).toEqual(['--clients: lists a value twice'])
    expect(problemsOf({ clientNodes: '0', transportMessages: 'many' })).toEqual([
      '--client-nodes: expected an integer from 1 to 1024, got "0"', '--transport-messages: expected an integer from 0 to 10000000, got "many"',
    ])
    expect(problemsOf({ stack: 'tcp+noise+yamux,quic+noise,carrier-pigeon', dissemination: 'direct,flood' })).toEqual([
      '--stack[1].encrypter: quic brings its own encryption (TLS 1.3) and stream multiplexing: leave out the encrypter and muxer',
      '--stack[2].transport: expected one of tcp, websockets, quic, got "carrier-pigeon"',
      '--dissemination[1]: expected one of direct, gossipsub, got "flood"',
    ])
    expect(problemsOf({ stack: 'quic,quic' })).toEqual(['--stack: lists a value twice'])
    expect(buildLiveBenchConfig({ stack: 'quic,tcp+tls', dissemination: 'direct,gossipsub' }, protocols)).toMatchObject({
      stacks: [{ transport: 'quic', encrypter: null, muxer: null }, { transport: 'tcp', encrypter: 'tls', muxer: 'yamux' }],
      disseminations: ['direct', 'gossipsub'],
    })
    expect(buildLiveBenchConfig({}, protocols)).toMatchObject({ ...DEFAULT_LIVE_BENCH, protocols: expect.arrayContaining(['unreplicated', 'raft', 'multipaxos', 'pbft']) })
    const r = bench('live', '--fsync', 'sometimes', '--warmup-ms', '-1', '--no-save')
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('--fsync[0]: expected one of always, batch, none, got "sometimes"')
    expect(r.stderr).toContain('--warmup-ms: expected an integer from 0 to 600000, got "-1"')
  })

  it('measures a real Raft cluster in this process (--in-process): echo floor, latency, throughput, messages, agreement, and writes the results', async () => {
    // Two outstanding operations pipelined on one client node, and the transport's message rate beside bare libp2p.
    const config = buildLiveBenchConfig({ protocols: 'raft', clients: '1,2', clientNodes: '1', fsync: 'none', warmupMs: '200',
      durationMs: '400', echoPings: '200', transportMessages: '2000', inProcess: true }, protocols)
    const results: LiveResults = await runLiveBench(config, protocols)
    expect(results.forms).toEqual(['in-process'])
    expect(results.runs.map(r => r.clientNodes)).toEqual([1, 1])
    expect(results.transport?.transportMsgsPerSec).toBeGreaterThan(0)
    expect(results.transport?.bareMsgsPerSec).toBeGreaterThan(0)
    expect(results.transport?.pingP50Ms).toBeGreaterThan(0)
    expect(results.echo.p50Ms).toBeGreaterThan(0)
    expect(results.echo.p50Ms).toBeLessThanOrEqual(results.echo.p99Ms)
    expect(results.runs.map(r => `${r.protocol}/${r.n}/${r.fsync}/${r.clients}`)).toEqual(['raft/3/none/1', 'raft/3/none/2'])
    for (const r of results.runs) {
      expect(r.samples).toHaveLength(1)
      const m = r.median
      expect(m.ops, r.id).toBeGreaterThan(0)
      expect(m.throughput, r.id).toBeGreaterThan(0)
      expect(m.latencyMs.p50, r.id).toBeGreaterThan(0)
      expect(m.latencyMs.p50 <= m.latencyMs.p99 && m.latencyMs.p99 <= m.latencyMs.max, r.id).toBe(true)
      // A commit needs at least the client's round trip: no figure can beat the bare echo by much.
      expect(m.latencyMs.p50, r.id).toBeGreaterThan(results.echo.p50Ms / 2)
      // Each write is replicated to both followers and acknowledged: at least 2(n - 1) / batch messages, never zero.
      expect(m.messagesPerOp, r.id).toBeGreaterThan(0)
      expect(r.theoreticalMessagesPerOp).toBe(4)
      expect(m.timeouts, r.id).toBe(0)
      expect(r.agreement, r.id).toBe('agreed')
      // One process holds everything: each replica's messages, and the CPU and memory of the whole process.
      expect(r.processes.map(p => `${p.role}/${p.pid}`)).toEqual([...['replica', 'replica', 'replica', 'whole-process'].map(role => `${role}/${process.pid}`)])
      for (const p of r.processes.filter(p => p.role === 'replica')) {
        expect(p.messagesPerOp, `${r.id} replica ${p.id}`).toBeGreaterThan(0)
        expect(p.cpuMs).toBeNull()
      }
      expect(r.processes[3]!.cpuMs, r.id).toBeGreaterThan(0)
      expect(r.processes[3]!.rssBytes, r.id).toBeGreaterThan(0)
    }
    const dir = liveResultsDir(mkdtempSync(join(tmpdir(), 'bench-live-')), results.startedAt)
    try {
      expect(dir).toMatch(/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ-live$/)
      expect(writeLiveResults(results, dir)).toEqual([...LIVE_OUTPUT_FILES])
      const json = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as LiveResults
      expect(json.runs[0]!.median.throughput).toBe(results.runs[0]!.median.throughput)
      const csv = readFileSync(join(dir, 'results.csv'), 'utf8').split('\n')
      expect(csv[0]).toMatch(/,offered_ops_s,requests_shed$/)
      // Gossip, offered rate and requests shed are empty: direct dissemination, closed loop, in-process (not read).
      expect(csv[1]).toMatch(/^raft\/n3\/fsync-none\/c1\/in-process,raft,3,none,1,1,.*,in-process,tcp\+noise\+yamux,direct,,,,$/)
      expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain('## Single-client commit latency')
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true })
    }
    const text = liveTerminalSummary(results, null)
    expect(text).toContain('p50 / echo p50')
    expect(text).toContain('2 clients ops/s')
    expect(text).toContain('In-process form (--in-process)')
    // One stack and direct dissemination: no stacks section. With another stack in the run, one row per stack, each
    // next to the echo on its own stack, gossip's amplification apart.
    expect(measuredStacks(results)).toBe(false)
    expect(text).not.toContain('Stacks per protocol')
    const quicEcho = { ...results.echo, p50Ms: results.echo.p50Ms * 2 }
    const mixed: LiveResults = { ...results, echoByStack: { ...results.echoByStack, quic: quicEcho },
      runs: [results.runs[0]!, { ...results.runs[0]!, stack: 'quic', dissemination: 'gossipsub',
        gossip: { published: 10, copiesReceived: 60, delivered: 20, copiesPerDelivered: 3, copyBytesPerOp: 123 } }] }
    expect(measuredStacks(mixed)).toBe(true)
    const rows = stackRows(mixed)
    const col = (name: string) => rows.header.indexOf(name)
    expect(rows.rows.map(row => [row[col('stack')], row[col('dissemination')], row[col('gossip copies/msg')], row[col('echo p50 ms')]]))
      .toEqual([['tcp+noise+yamux', 'direct', '-', results.echo.p50Ms.toFixed(3)], ['quic', 'gossipsub', '3.00', quicEcho.p50Ms.toFixed(3)]])
    expect(liveTerminalSummary(mixed, null)).toContain('Stacks per protocol')
  }, 60_000)

  it('the sweep runs libp2p beside the simulator, labelled wall-clock vs virtual, and skips crash faults over it', async () => {
    const config = validateSweepConfig({ protocols: ['raft'], n: [3], f: [0, 1], faults: ['none', 'crash-leader'],
      networks: ['lan', 'libp2p'], clients: [2], warmupMs: 200, durationMs: 400, maxOps: 300, baseline: 'none',
      messageComplexity: false }, registryView(protocols))
    const results = await runSweep(config, protocols)
    expect(results.runs.map(r => `${r.spec.fault}/${r.spec.network}/${r.timebase}`)).toEqual([
      'none/lan/virtual', 'none/libp2p/wall-clock', 'crash-leader/lan/virtual',
    ])
    expect(results.skipped).toEqual([{ what: 'raft crash-leader libp2p', reason: expect.stringContaining('use consensus chaos') }])
    const live = results.runs[1]!
    expect(live.figures.ops).toBeGreaterThan(0)
    expect(live.figures.latencyMs.p50).toBeGreaterThan(0)
    expect(live.live?.agreement).toBe('agreed')
    expect(live.live?.echo?.p50Ms).toBeGreaterThan(0)
    expect(live.live?.form).toBe('multi-process')
    expect(live.live?.processes?.filter(p => p.role === 'replica' && p.cpuMs !== null && p.cpuMs > 0)).toHaveLength(3)
    const table = summaryRows(results)
    const time = table.header.indexOf('time')
    expect(table.rows.map(r => r[time])).toEqual(['virtual', 'wall-clock', 'virtual'])
    expect(toMarkdown(results, [])).toMatch(/\*\*Except\*\* the 1 run on network `libp2p`.*wall-clock/)
  }, 60_000)

  it('the command exits by itself after a run (every node stopped, nothing left open)', () => {
    const out = mkdtempSync(join(tmpdir(), 'bench-live-cli-'))
    try {
      const r = bench('live', '--protocols', 'unreplicated', '--clients', '1', '--fsync', 'always', '--warmup-ms', '100',
        '--duration-ms', '300', '--echo-pings', '100', '--transport-messages', '1000', '--out', out, '--json', '--quiet')
      expect(r.error, 'the process did not exit within 60 s').toBeUndefined()
      expect(r.status, r.stderr).toBe(0)
      const json = JSON.parse(r.stdout) as LiveResults
      expect(json.runs.map(x => x.id)).toEqual(['unreplicated/n1/fsync-always/c1'])
      expect(json.transport?.messages).toBe(1000)
      expect(json.runs[0]!.median.ops).toBeGreaterThan(0)
      expect(json.forms).toEqual(['multi-process'])
      const dir = /results in (.+)/.exec(r.stderr)?.[1]
      expect(dir !== undefined && existsSync(join(dir, 'report.md'))).toBe(true)
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  })
})
