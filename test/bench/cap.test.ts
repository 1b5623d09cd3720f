/**
 * The "What linearizability costs" experiment (bench/cap.ts) on a small scale: the same partition and seed for Raft
 * and quorum-kv. What it must show is an outcome, not a speed: on the minority side a consensus protocol (and
 * quorum-kv with strict quorums) answers nothing while weak quorums answer, and only the weak store's history fails
 * the checker. The section renders in report.md and report.html, and the cap preset turns it on.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { capVariants, measureLinearizabilityCost, type CapReport } from '../../bench/cap.ts'
import { buildSweepConfig } from '../../bench/cli-config.ts'
import { CAP_TITLE, capTable } from '../../bench/output/cap-section.ts'
import { toHtml } from '../../bench/output/html.ts'
import { toMarkdown } from '../../bench/output/markdown.ts'
import { runSweep } from '../../bench/sweep.ts'
import { ConfigError } from '../../core/errors.ts'
import { protocols } from '../../protocols/index.ts'

const SMALL = { networks: ['lan'] as const, seeds: 1, clients: 6, warmupMs: 300, partitionAtMs: 600, healAtMs: 1600, endMs: 2000 }

describe('what linearizability costs', () => {
  let report: CapReport
  beforeAll(() => { report = measureLinearizabilityCost(protocols, SMALL) })
  const row = (label: string) => report.rows.find(r => r.variant === label)!

  it('compares every registered protocol of the list, quorum-kv strict and weak, under the same partition', () => {
    expect(report.rows.map(r => r.variant)).toEqual(capVariants(protocols, 5).map(v => v.label))
    expect(report.rows.map(r => r.variant)).toEqual(expect.arrayContaining(['raft', 'quorum-kv R=W=3', 'quorum-kv R=W=1 (weak)']))
    expect(report.minority).toEqual([0, 1])
  })

  it('consensus and strict quorums refuse the minority side; weak quorums answer it and fail the checker', () => {
    for (const label of ['raft', 'quorum-kv R=W=3']) {
      expect(row(label).duringMinority.invoked, label).toBeGreaterThan(0)
      expect(row(label).duringMinority.answered, label).toBe(0)
      expect(row(label).duringMajority.availability, label).toBeGreaterThan(0.9)
    }
    expect(row('raft').runsNotLinearizable).toBe(0)
    const weak = row('quorum-kv R=W=1 (weak)')
    expect(weak.weakQuorums).toBe(true)
    expect(weak.duringMinority.availability).toBeGreaterThan(0.9)
    expect(weak.runsNotLinearizable).toBe(1)
    expect(weak.keysFailed).toBeGreaterThan(0)
  })

  it('renders its section in report.md and report.html, weak quorums flagged', async () => {
    const config = buildSweepConfig({ flags: { protocols: 'quorum-kv', n: '3', f: '0', faults: 'none', clients: '2', warmupMs: '100', durationMs: '200', maxOps: '50' }, registry: protocols })
    const results = { ...(await runSweep(config, protocols)), linearizabilityCost: report }
    const md = toMarkdown(results, [])
    expect(md).toContain(`## ${CAP_TITLE}`)
    expect(md).toContain('quorum-kv R=W=1 (weak) [weak quorums: R + W <= N]')
    expect(toHtml(results, [])).toContain(`<h2>${CAP_TITLE}</h2>`)
    expect(capTable(report).rows).toHaveLength(report.rows.length)
  })

  it('is on in the cap preset and off by default; bad windows are named', () => {
    expect(buildSweepConfig({ flags: {}, preset: 'cap', registry: protocols }).linearizabilityCost).toBe(true)
    expect(buildSweepConfig({ flags: {}, registry: protocols }).linearizabilityCost).toBe(false)
    expect(buildSweepConfig({ flags: { linearizabilityCost: true }, registry: protocols }).linearizabilityCost).toBe(true)
    expect(() => measureLinearizabilityCost(protocols, { ...SMALL, healAtMs: 500 })).toThrow(ConfigError)
  })
})
