/**
 * The bench's progress verdict: a faulty run whose cluster stopped committing is flagged (and fails the sweep), so a
 * throughput figure from it is never read as the protocol's.
 */
import { describe, expect, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'
import { registryView } from '../../bench/cli-config.ts'
import { validateSweepConfig } from '../../bench/config.ts'
import { planSweep } from '../../bench/matrix.ts'
import { judgeRun } from '../../bench/figures.ts'
import { runOne } from '../../bench/run-one.ts'

describe('bench progress verdict', () => {
  it('passes real leader-crash and Byzantine-primary runs that recover', () => {
    for (const [name, faults] of [['raft', ['crash-leader']], ['pbft', ['crash-leader', 'byzantine:equivocate']]] as const) {
      const p = protocols.get(name)!
      const config = validateSweepConfig({ protocols: [name], n: [p.replicasFor(1)], f: [1], faults: [...faults],
        clients: [4], warmupMs: 300, durationMs: 2500, maxOps: 5000, baseline: null, seed: 3 }, registryView(protocols))
      const runs = planSweep(config, protocols).runs
      // equivocate runs on the primary and, beside it, on a backup.
      expect(runs.map(r => r.fault)).toEqual(name === 'pbft'
        ? ['crash-leader', 'byzantine:equivocate@primary', 'byzantine:equivocate@backup'] : ['crash-leader'])
      for (const spec of runs) {
        const r = runOne(spec, p)
        expect(r.figures.liveness, spec.id).toEqual({ ok: true, problems: [] })
        if (spec.fault.endsWith('@primary')) expect(r.figures.byzantine.map(b => b.replica)).toEqual([0])
      }
    }
  })

  it('drives a leader transfer through the admin input where the protocol has one, and skips it, saying why, elsewhere', () => {
    const config = validateSweepConfig({ protocols: ['raft', 'multipaxos', 'epaxos'], n: [3], f: [1, 2], faults: ['transfer-leader', 'crash-leader'],
      clients: [4], warmupMs: 300, durationMs: 2500, maxOps: 5000, baseline: null, seed: 3 }, registryView(protocols))
    const plan = planSweep(config, protocols)
    // Once per protocol with a transfer (f = 1), never for epaxos.
    expect(plan.runs.filter(r => r.fault === 'transfer-leader').map(r => `${r.protocol} f=${r.f}`)).toEqual(['raft f=1', 'multipaxos f=1'])
    expect(plan.skipped.map(s => s.reason)).toContain('epaxos has no leader transfer (not among its admin commands)')
    for (const name of ['raft', 'multipaxos']) {
      const figures = (fault: string) => runOne(plan.runs.find(r => r.protocol === name && r.fault === fault)!, protocols.get(name)!).figures
      const transfer = figures('transfer-leader')
      const crash = figures('crash-leader')
      expect(transfer.liveness, name).toEqual({ ok: true, problems: [] })
      expect(transfer.failover?.crashed, name).toEqual([])
      // A planned hand-over costs far less than waiting out an election timeout after a crash.
      expect(transfer.failover!.failoverMs!, name).toBeLessThan(crash.failover!.failoverMs!)
    }
  })

  it('flags a Byzantine-primary run whose window ends before the view change (nothing completed: 0 ops/s is no figure)', () => {
    const p = protocols.get('pbft')!
    const config = validateSweepConfig({ protocols: ['pbft'], n: [4], f: [1], faults: ['byzantine:equivocate@primary'],
      clients: [4], warmupMs: 300, durationMs: 1000, maxOps: 5000, baseline: null, seed: 3 }, registryView(protocols))
    const r = runOne(planSweep(config, protocols).runs[0]!, p)
    expect(r.figures.throughput).toBe(0)
    expect(r.figures.liveness?.ok).toBe(false)
    expect(r.figures.liveness?.problems).toContain('no operation completed in the last quarter of the window')
  })

  it('flags a crash run that never completed an operation issued after the crash', () => {
    const failover = { crashAtMs: 100, crashed: [0], leader: 0, failoverMs: null, firstCommitMs: null }
    expect(judgeRun(100, 0, [10, 10, 10, 10], failover, true).problems).toEqual(['no operation issued after the crash completed in the window'])
  })

  it('flags a run that stopped completing operations, or timed out too often', () => {
    expect(judgeRun(100, 0, [10, 10, 10, 0], null, false).problems).toEqual(['no operation completed in the last quarter of the window'])
    expect(judgeRun(80, 20, [10, 10, 10, 10], null, false).problems[0]).toMatch(/20 of 100 operations timed out/)
    expect(judgeRun(95, 5, [10, 10, 10, 10], null, false).ok).toBe(true)
  })
})
