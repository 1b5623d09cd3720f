/**
 * A tiny sweep end to end: every output file is written with the fields a reader (or `bench compare`) relies on.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'
import { registryView } from '../../bench/cli-config.ts'
import { validateSweepConfig } from '../../bench/config.ts'
import { runSweep, RESULTS_SCHEMA, type SweepResults } from '../../bench/sweep.ts'
import { OUTPUT_FILES, timestampedDir, writeResults } from '../../bench/output/write.ts'
import { FIGURES } from '../../bench/output/rows.ts'
import { recordRun } from '../../bench/run-one.ts'

const crashProtocol = [...protocols.values()].find(p => p.faultModel === 'crash' && p.name !== 'unreplicated')!

describe('a tiny sweep writes every output', () => {
  let dir: string
  let results: SweepResults
  let written: string[]

  beforeAll(async () => {
    const config = validateSweepConfig({
      protocols: [crashProtocol.name], n: [3], f: [0, 1], faults: ['none', 'crash-leader', 'byzantine'], networks: ['lan'],
      clients: [4], warmupMs: 300, durationMs: 600, maxOps: 400,
    }, registryView(protocols))
    results = await runSweep(config, protocols)
    dir = timestampedDir(mkdtempSync(join(tmpdir(), 'bench-out-')), results.startedAt)
    written = await writeResults(results, dir)
  })

  afterAll(() => {
    rmSync(join(dir, '..'), { recursive: true, force: true })
  })

  it('--html-runs: every row of report.html opens its run, rerun with recording and the same figures', async () => {
    const viewDir = mkdtempSync(join(tmpdir(), 'bench-views-'))
    try {
      const files = await writeResults(results, viewDir, { runViews: { registry: protocols } })
      const html = readFileSync(join(viewDir, 'report.html'), 'utf8')
      const links = [...html.matchAll(/<a href="(runs\/[^"]+\.html)">run<\/a>/g)].map(m => m[1]!)
      expect(links).toHaveLength(results.runs.length)
      for (const link of links) {
        expect(files).toContain(link)
        expect(readFileSync(join(viewDir, link), 'utf8')).toContain('<script type="application/json" id="run-data">')
      }
      const crashRun = results.runs.find(r => r.spec.fault === 'crash-leader')!
      const rerun = recordRun(crashRun.spec, protocols.get(crashRun.spec.protocol)!)
      expect(rerun.figures).toEqual(crashRun.figures)
      expect(rerun.timeline.faults.map(f => f.kind)).toContain('crash')
      expect(rerun.history.length).toBeGreaterThan(2 * crashRun.figures.ops - 1)
    } finally {
      rmSync(viewDir, { recursive: true, force: true })
    }
  })

  it('names the folder after the start time and writes json, csv, markdown, html and charts', () => {
    expect(dir).toMatch(/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$/)
    for (const f of OUTPUT_FILES) expect(existsSync(join(dir, f)), f).toBe(true)
    expect(readdirSync(dir).sort()).toEqual([...written].sort())
    for (const chart of ['throughput-vs-n', 'latency-percentiles', 'messages-vs-n', 'vs-f', 'leader-crash-timeline']) {
      const svg = readFileSync(join(dir, `${chart}.svg`), 'utf8')
      expect(svg.startsWith('<svg'), chart).toBe(true)
    }
  })

  it('results.json holds every figure, the environment, the configuration and what was skipped', () => {
    const json = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as SweepResults
    expect(json.schema).toBe(RESULTS_SCHEMA)
    expect(json.environment.node).toBe(process.version)
    expect(typeof json.environment.cpuModel).toBe('string')
    expect(json.config.seed).toBe(1)
    expect(json.skipped.map(s => s.what)).toEqual([`${crashProtocol.name} byzantine`])
    expect(json.runs.map(r => `${r.spec.protocol}/${r.spec.fault}`)).toEqual([
      'unreplicated/none', `${crashProtocol.name}/none`, `${crashProtocol.name}/crash-leader`,
    ])
    for (const r of json.runs) {
      expect(r.figures.ops).toBeGreaterThan(0)
      expect(r.figures.throughput).toBeGreaterThan(0)
      const l = r.figures.latencyMs
      expect(l.p50).toBeGreaterThan(0)
      expect(l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max).toBe(true)
      expect(r.host.cpuUserMs).toBeGreaterThanOrEqual(0)
      expect(r.host.peakRssBytes).toBeGreaterThan(0)
      expect(r.figures.safetyViolations).toBe(0)
    }
    const healthy = json.runs[1]!
    expect(healthy.figures.messagesPerOp.total).toBeGreaterThan(0)
    expect(healthy.figures.theoreticalMessagesPerOp.total).toBe(4)
    const crash = json.runs[2]!.figures.failover!
    expect(crash.crashed).toHaveLength(1)
    expect(crash.crashed[0]).toBe(crash.leader)
    expect(crash.failoverMs).toBeGreaterThan(0)
    expect(json.messageComplexity).toEqual([expect.objectContaining({ protocol: crashProtocol.name, n: 3, measuredTotal: 4, theoreticalTotal: 4 })])
  })

  it('results.csv has one row per run and a column per figure', () => {
    const lines = readFileSync(join(dir, 'results.csv'), 'utf8').trim().split('\n')
    expect(lines).toHaveLength(1 + results.runs.length)
    const header = lines[0]!.split(',')
    for (const f of FIGURES) expect(header).toContain(f.name)
    expect(header).toEqual(expect.arrayContaining(['protocol', 'n', 'f', 'fault', 'network', 'theoretical_messages_per_op']))
  })

  it('the reports carry the tables and inline the charts', () => {
    const md = readFileSync(join(dir, 'report.md'), 'utf8')
    for (const section of ['## Summary', '## Messages per command at batch size 1 vs theory', '## Leader failover',
      '## Host measurements', '## Skipped', '## Configuration']) expect(md).toContain(section)
    expect(md).toContain('![Throughput vs cluster size (no faults)](throughput-vs-n.svg)')
    const html = readFileSync(join(dir, 'report.html'), 'utf8')
    expect(html.match(/<svg/g)?.length).toBe(5)
    expect(html).toContain('<h2>Summary</h2>')
  })
})
