/**
 * The WAN preset with clients in every region (`--network wan-spread`) and the conflict workload (`--key-dist hot:p`):
 * each region's commit latency is measured apart, and for a leader-based protocol it matches what the RTT matrix
 * predicts (the leader's region fast, the others paying the trip to it); the report renders the table and chart.
 */
import { describe, expect, it } from 'vitest'
import { createRng } from '../../core/random.ts'
import { HOT_KEY, hotShare, keyChooser } from '../../core/kv-workload.ts'
import { registryView } from '../../bench/cli-config.ts'
import { validateSweepConfig } from '../../bench/config.ts'
import { buildCharts } from '../../bench/output/charts.ts'
import { toMarkdown } from '../../bench/output/markdown.ts'
import { runSweep } from '../../bench/sweep.ts'
import { protocols } from '../../protocols/index.ts'

describe('the hot-key conflict workload', () => {
  it('puts the given share of commands on the one shared key and the rest on keys of their own client', () => {
    const pick = keyChooser('hot:0.25', 100)
    const rng = createRng(7)
    const keys = Array.from({ length: 4000 }, (_, i) => pick(rng, 1000 + (i % 4)))
    const hot = keys.filter(k => k === HOT_KEY).length / keys.length
    expect(hot).toBeGreaterThan(0.22)
    expect(hot).toBeLessThan(0.28)
    keys.forEach((k, i) => { if (k !== HOT_KEY) expect(k.startsWith(`c${1000 + (i % 4)}-`)).toBe(true) })
  })

  it('accepts shares from 0 to 1 only', () => {
    expect(hotShare('hot:0.02')).toBe(0.02)
    expect(hotShare('hot:1')).toBe(1)
    expect(hotShare('hot:1.5')).toBeNull()
    expect(hotShare('hot:')).toBeNull()
    const view = registryView(protocols)
    expect(() => validateSweepConfig({ keyDistribution: ['hot:2'] }, view)).toThrow(/keyDistribution\[0\]: expected uniform, zipfian or hot:/)
  })
})

describe('commit latency by client region', () => {
  it('measures every region apart and matches the RTT prediction for a leader-based protocol', async () => {
    const config = validateSweepConfig({
      protocols: ['raft'], n: [3], f: [0], faults: ['none'], networks: ['wan-spread'], clients: [6],
      keyDistribution: ['hot:0.02'], warmupMs: 2000, durationMs: 3000, baseline: null, messageComplexity: false,
    }, registryView(protocols))
    const results = await runSweep(config, protocols)
    const wan = results.runs[0]!.figures.wan!
    expect(wan.leader).not.toBeNull()
    expect(wan.regions.map(g => [g.region, g.clients])).toEqual([['us-east', 2], ['us-west', 2], ['eu-west', 2]])
    for (const g of wan.regions) {
      // Virtual time: the only gap between measurement and prediction is link jitter (at most 0.5 ms per hop) and queueing.
      expect(g.p50! - g.predictedMs!).toBeGreaterThanOrEqual(0)
      expect(g.p50! - g.predictedMs!).toBeLessThan(8)
    }
    const leaderRegion = wan.regions[wan.leader! % 3]!
    for (const g of wan.regions) expect(leaderRegion.p50!).toBeLessThanOrEqual(g.p50!)
    expect(toMarkdown(results, [])).toContain('## Commit latency by client region')
    expect(buildCharts(results).map(c => c.name)).toContain('wan-regions')
  })
})
