/**
 * `bench compare`: the change of every figure, a regression flagged beyond the threshold (in either direction of
 * "worse"), and exit code 1 from the command line when there is one.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'
import { registryView } from '../../bench/cli-config.ts'
import { validateSweepConfig } from '../../bench/config.ts'
import { compareResults } from '../../bench/compare.ts'
import { runSweep, type SweepResults } from '../../bench/sweep.ts'

const crashProtocol = [...protocols.values()].find(p => p.faultModel === 'crash' && p.name !== 'unreplicated')!

type MutableFigures = { throughput: number; latencyMs: { p99: number }; messagesPerOp: { total: number } }

/** A copy of `r` with one run's figures changed. */
function degrade(r: SweepResults, index: number, change: (f: MutableFigures) => void): SweepResults {
  const copy = structuredClone(r) as SweepResults
  change(copy.runs[index]!.figures as unknown as MutableFigures)
  return copy
}

describe('bench compare', () => {
  let base: SweepResults
  let dir: string

  beforeAll(async () => {
    const config = validateSweepConfig({ protocols: [crashProtocol.name], n: [3], f: [0], clients: [4],
      warmupMs: 300, durationMs: 400, maxOps: 300, messageComplexity: false }, registryView(protocols))
    base = await runSweep(config, protocols)
    dir = mkdtempSync(join(tmpdir(), 'bench-compare-'))
  })

  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('finds no change between a result and itself', () => {
    const c = compareResults(base, base, { threshold: 0.1 })
    expect(c.regressions).toEqual([])
    expect(c.changes.filter(x => x.kind === 'sim').every(x => x.change === 0 || x.change === null)).toBe(true)
  })

  it('flags lower throughput and higher latency beyond the threshold, not within it', () => {
    const worse = degrade(base, 1, f => { f.throughput *= 0.8; f.latencyMs.p99 *= 1.05 })
    const c = compareResults(base, worse, { threshold: 0.1 })
    expect(c.regressions.map(x => `${x.run}:${x.figure}`)).toEqual([`${base.runs[1]!.id}:throughput_ops_s`])
    expect(c.regressions[0]!.change).toBeCloseTo(-0.2, 6)
    const slower = degrade(base, 1, f => { f.latencyMs.p99 *= 1.5 })
    expect(compareResults(base, slower, { threshold: 0.1 }).regressions.map(x => x.figure)).toEqual(['latency_p99_ms'])
    const better = degrade(base, 1, f => { f.throughput *= 2 })
    expect(compareResults(base, better, { threshold: 0.1 }).regressions).toEqual([])
  })

  it('exits 1 on a regression and 0 without, from the command line', () => {
    const a = join(dir, 'a.json')
    const b = join(dir, 'b.json')
    writeFileSync(a, JSON.stringify(base))
    writeFileSync(b, JSON.stringify(degrade(base, 1, f => { f.messagesPerOp.total *= 1.3 })))
    const run = (...args: string[]) => spawnSync(process.execPath, ['bin/bench.ts', 'compare', ...args], { encoding: 'utf8' })
    const bad = run(a, b)
    expect(bad.status, bad.stderr).toBe(1)
    expect(bad.stdout).toContain('messages_per_op')
    expect(bad.stdout).toContain('REGRESSION')
    expect(run(a, b, '--threshold', '40%').status).toBe(0)
    expect(run(a, a).status).toBe(0)
    const notResults = run(a, join(dir, 'missing.json'))
    expect(notResults.status).toBe(2)
    expect(notResults.stderr).toContain('missing.json')
  })
})
