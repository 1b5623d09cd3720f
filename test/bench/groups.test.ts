/**
 * `bench groups`: the figures of a small sweep over groups are consistent (coalescing never sends more wire frames
 * than messages, leaders spread, a crashed node's groups fail over), the report renders, and bad flags are refused
 * naming the flag. Performance itself is shown by the bench's output, never asserted here.
 */
import { describe, expect, it } from 'vitest'
import { buildGroupsBenchOptions, DEFAULT_GROUPS_BENCH, runGroupsBench } from '../../bench/groups.ts'
import { groupsMarkdown, groupsTerminalSummary, throughputChart } from '../../bench/output/groups-report.ts'
import { renderSvg } from '../../bench/output/charts.ts'
import { REFERENCE_CPU } from '../../net/sim/cpu.ts'
import { protocols } from '../../protocols/index.ts'

describe('bench groups', () => {
  it('measures each deployment: ops, wire frames no more than messages, leaders spread, failovers of a crashed node', async () => {
    const options = { ...DEFAULT_GROUPS_BENCH, groups: [1, 6], clients: 48, keys: 256, warmupMs: 200, durationMs: 300, settleMs: 2500, idleMs: 500 }
    const results = runGroupsBench([protocols.get('raft')!], options)
    expect(results.rows.map(r => r.groups)).toEqual([1, 6])
    for (const r of results.rows) {
      expect(r.opsPerSec, `groups=${r.groups}`).toBeGreaterThan(0)
      expect(r.wireFramesPerOp).toBeLessThanOrEqual(r.protocolMessagesPerOp)
      expect(r.safetyViolations).toBe(0)
      expect(r.idleMessagesPerSecPerGroup).toBeGreaterThan(0)
      expect(r.failover!.recovered).toBe(r.failover!.groupsLed)
    }
    const six = results.rows[1]!
    expect(six.leadersPerNode).toEqual([2, 2, 2])
    expect(six.failover!.groupsLed).toBe(2)
    // Idle: 6 groups' heartbeats share wire frames.
    expect(six.idleWireFramesPerSec).toBeLessThan(six.idleMessagesPerSecPerGroup * 6)
    expect(groupsTerminalSummary(results, null)).toMatch(/raft\s+6\s/)
    expect(groupsMarkdown(results, 'npm run bench -- groups')).toContain('| raft | 6 |')
    expect(await renderSvg(throughputChart(results))).toContain('<svg')
  })

  it('refuses bad flags, naming the flag', () => {
    expect(() => buildGroupsBenchOptions({ groups: '1,x' }, REFERENCE_CPU)).toThrow(/--groups: expected an integer >= 1, got "x"/)
    expect(() => buildGroupsBenchOptions({ groups: '64', keys: '10' }, REFERENCE_CPU)).toThrow(/--groups: 64 groups need at least as many keys/)
    expect(() => buildGroupsBenchOptions({ nodes: '3', replication: '4' }, REFERENCE_CPU)).toThrow(/--replication: at most the 3 nodes/)
    expect(() => buildGroupsBenchOptions({ readRatio: '2' }, REFERENCE_CPU)).toThrow(/--read-ratio: expected a number from 0 to 1/)
    expect(buildGroupsBenchOptions({ groups: '2,8', fsyncMs: '0' }, REFERENCE_CPU)).toMatchObject({ groups: [2, 8], fsyncMs: 0 })
  })
})
