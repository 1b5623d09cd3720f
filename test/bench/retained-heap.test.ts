/**
 * The retained-heap figure: what a simulated cluster holds at the end of its run (heap with it, less heap once it is
 * dropped, each after a forced collection), and report.md's "Retained heap against n" that shows its growth with n.
 */
import { describe, expect, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'
import { registryView } from '../../bench/cli-config.ts'
import { validateSweepConfig } from '../../bench/config.ts'
import { runSweep } from '../../bench/sweep.ts'
import { memoryTable } from '../../bench/output/memory-section.ts'
import { toMarkdown } from '../../bench/output/markdown.ts'
import { toHtml } from '../../bench/output/html.ts'
import { growthExponent } from '../../bench/growth-exponent.ts'

describe('retained heap against n', () => {
  it('is measured for every simulated run, grows with n, and is tabulated with its growth exponent', async () => {
    const config = validateSweepConfig({
      protocols: ['raft'], n: [3, 15], f: [0], faults: ['none'], networks: ['lan'], clients: [4], warmupMs: 200, durationMs: 500,
      maxOps: 300, messageComplexity: false,
    }, registryView(protocols))
    const results = await runSweep(config, protocols)
    const [small, large] = [3, 15].map(n => results.runs.find(r => r.spec.n === n)!)
    // Five times the replicas, each with its own log of the same commands: more retained, whatever else the process holds.
    expect(small!.host.retainedHeapBytes).toBeGreaterThan(0)
    expect(large!.host.retainedHeapBytes).toBeGreaterThan(small!.host.retainedHeapBytes!)
    const table = memoryTable(results)!
    expect(table.header).toEqual(['protocol', 'n=3', 'n=15', 'growth'])
    expect(table.rows[0]![0]).toBe('raft')
    expect(table.rows[0]![1]).toMatch(/^\d+\.\d \(\d+ ops\)$/)
    expect(Number(table.rows[0]![3])).toBeGreaterThan(0)
    expect(toMarkdown(results, [])).toContain('## Retained heap against n')
    expect(toHtml(results, [])).toContain('<h2>Retained heap against n</h2>')
  })

  it('has no table for a sweep at one size', () => {
    const run = { timebase: 'virtual', spec: { protocol: 'raft', n: 3 }, host: { retainedHeapBytes: 1 } }
    expect(memoryTable({ runs: [run] } as never)).toBeNull()
  })

  it('fits the exponent of a power law and needs two sizes', () => {
    expect(growthExponent([{ n: 2, value: 8 }, { n: 4, value: 32 }, { n: 8, value: 128 }])).toBe(2)
    expect(growthExponent([{ n: 3, value: 5 }, { n: 30, value: 50 }])).toBe(1)
    expect(growthExponent([{ n: 3, value: 5 }])).toBeNull()
    expect(growthExponent([{ n: 3, value: 5 }, { n: 3, value: 7 }])).toBeNull()
    expect(growthExponent([{ n: 3, value: 0 }, { n: 9, value: Infinity }])).toBeNull()
  })
})
