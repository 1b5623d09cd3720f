/**
 * Sweep configuration: every bad value is named (by JSON field or by flag), presets and files layer under flags, and
 * the planner checks each combination against the protocol's fault model.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../core/errors.ts'
import type { AnyProtocol } from '../../core/protocol.ts'
import { protocols } from '../../protocols/index.ts'
import { buildSweepConfig, flagsToRaw, registryView } from '../../bench/cli-config.ts'
import { DEFAULT_SWEEP, SweepConfigError, validateSweepConfig } from '../../bench/config.ts'
import { autoSizes, checkPlan, planSweep } from '../../bench/matrix.ts'

const view = registryView(protocols)
const crashProtocol = [...protocols.values()].find(p => p.faultModel === 'crash' && p.name !== 'unreplicated')!

function problemsOf(raw: unknown, source: 'file' | 'flag' = 'file'): readonly string[] {
  try {
    validateSweepConfig(raw, view, source)
  } catch (e) {
    if (e instanceof SweepConfigError) return e.problems
    throw e
  }
  throw new Error('expected the config to be rejected')
}

/** A registry with one extra Byzantine protocol, to plan (not run) Byzantine fault kinds whatever is registered. */
function withByzantine(): Map<string, AnyProtocol> {
  const bft: AnyProtocol = {
    ...crashProtocol, name: 'testbft', faultModel: 'byzantine',
    replicasFor: f => 3 * f + 1, faultsTolerated: n => Math.floor((n - 1) / 3),
    checkClusterSize: n => (n >= 4 ? null : `testbft needs n >= 4, got ${n}`),
    adversary: { strategies: ['silent', 'equivocate'], createReplica: (_s, ctx) => crashProtocol.createReplica(ctx) },
  }
  return new Map([...protocols, ['testbft', bft]])
}

describe('sweep config validation', () => {
  it('accepts an empty object as the defaults', () => {
    expect(validateSweepConfig({}, view)).toEqual(DEFAULT_SWEEP)
  })

  it('names every bad field of a JSON config at once', () => {
    const problems = problemsOf({
      protocols: ['raft-typo'], n: [3, 0], f: [-1], faults: ['explode'], networks: ['moon'], readRatio: [1.5],
      valueSize: ['big'], keyDistribution: ['gaussian'], clients: [0], batch: [0], signers: ['rsa'], mode: 'half',
      rates: [0], warmupMs: -1, durationMs: 0, maxOps: 0, seed: 1.5, tickMs: 0, bogus: 1,
    })
    const fields = problems.map(p => p.slice(0, p.indexOf(':')))
    expect(fields).toEqual(expect.arrayContaining([
      'bogus', 'protocols[0]', 'n[1]', 'f[0]', 'faults[0]', 'networks[0]', 'readRatio[0]', 'valueSize[0]',
      'keyDistribution[0]', 'clients[0]', 'batch[0]', 'signers[0]', 'mode', 'rates[0]', 'warmupMs', 'durationMs',
      'maxOps', 'seed', 'tickMs',
    ]))
    expect(problems.find(p => p.startsWith('protocols[0]'))).toContain('raft-typo')
    expect(problems.find(p => p.startsWith('networks[0]'))).toContain('lan, wan, wan-spread, libp2p')
  })

  it('names flags, not fields, for command-line input', () => {
    const problems = problemsOf(flagsToRaw({ n: '3,x', readRatio: '2', keyDist: 'normal' }), 'flag')
    expect(problems.some(p => p.startsWith('--n[1]:') && p.includes('"x"'))).toBe(true)
    expect(problems.some(p => p.startsWith('--read-ratio[0]:'))).toBe(true)
    expect(problems.some(p => p.startsWith('--key-dist[0]:') && p.includes('normal'))).toBe(true)
  })

  it('rejects a malformed --option and an unknown Byzantine strategy', () => {
    expect(() => flagsToRaw({ option: ['maxInflight=8'] })).toThrow(/--option: expected protocol\.key=value/)
    expect(problemsOf({ faults: ['byzantine:nonsense'] })[0]).toMatch(/^faults\[0\]: unknown Byzantine strategy "nonsense"/)
  })

  it('layers defaults < preset < config file < flags, and names a bad file field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-config-'))
    try {
      const file = join(dir, 'sweep.json')
      writeFileSync(file, JSON.stringify({ n: [3], clients: [4, 8], durationMs: 700 }))
      const config = buildSweepConfig({ flags: { clients: '2' }, configFile: file, preset: 'quick', registry: protocols })
      expect(config.n).toEqual([3])
      expect(config.clients).toEqual([2])
      expect(config.durationMs).toBe(700)
      expect(config.warmupMs).toBe(500) // from the quick preset
      writeFileSync(file, JSON.stringify({ clients: 'many' }))
      expect(() => buildSweepConfig({ flags: {}, configFile: file, registry: protocols })).toThrow(/clients\[0\]: expected an integer/)
      writeFileSync(file, '{ not json')
      expect(() => buildSweepConfig({ flags: {}, configFile: file, registry: protocols })).toThrow(/--config: cannot read/)
      expect(() => buildSweepConfig({ flags: {}, preset: 'warp', registry: protocols })).toThrow(/--preset: unknown preset "warp"/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('sweep planning against each fault model', () => {
  it('sizes clusters per protocol with n = auto', () => {
    for (const p of protocols.values()) {
      for (const n of autoSizes(p)) {
        expect(p.checkClusterSize(n)).toBeNull()
        expect(p.faultsTolerated(n)).toBeGreaterThanOrEqual(1)
      }
    }
  })

  it('skips and lists impossible combinations in a sweep, and runs the baseline in every sweep', () => {
    const config = validateSweepConfig({ protocols: [crashProtocol.name], n: [3], f: [0, 1, 2], faults: ['none', 'crash-leader', 'byzantine'] }, view)
    const plan = planSweep(config, protocols)
    expect(plan.runs.map(r => `${r.protocol}/${r.n}/${r.f}/${r.fault}`)).toEqual([
      'unreplicated/1/0/none', `${crashProtocol.name}/3/0/none`, `${crashProtocol.name}/3/1/crash-leader`,
    ])
    // A fault kind the protocol cannot have is listed once, whatever n and f.
    expect(plan.skipped.map(s => s.what)).toEqual([`${crashProtocol.name} byzantine`, `${crashProtocol.name} n=3 f=2 crash-leader`])
    expect(plan.skipped[0]!.reason).toContain('crashes only')
    expect(plan.skipped[1]!.reason).toContain('tolerates 1 fault (f=2 needs n=5)')
  })

  it('makes a single impossible combination an error naming the reason', () => {
    const config = validateSweepConfig({ protocols: [crashProtocol.name], n: [3], f: [2], faults: ['crash-leader'] }, view)
    expect(() => checkPlan(planSweep(config, protocols))).toThrow(ConfigError)
    expect(() => checkPlan(planSweep(config, protocols))).toThrow(/n=3 f=2 crash-leader: .*tolerates 1 fault/)
    const sizeConfig = validateSweepConfig({ protocols: ['unreplicated'], baseline: null, n: [3], f: [0] }, view)
    expect(() => checkPlan(planSweep(sizeConfig, protocols))).toThrow(/exactly 1 node/)
  })

  it('expands byzantine to every strategy of protocols that have an adversary', () => {
    const registry = withByzantine()
    const config = validateSweepConfig({ protocols: ['testbft'], n: [4, 7], f: [1, 2], faults: ['byzantine'] },
      registryView(registry))
    const plan = planSweep(config, registry)
    expect(plan.runs.filter(r => !r.baseline).map(r => `${r.n}/${r.f}/${r.fault}`)).toEqual([
      '4/1/byzantine:silent', '4/1/byzantine:equivocate', '7/1/byzantine:silent', '7/1/byzantine:equivocate',
      '7/2/byzantine:silent', '7/2/byzantine:equivocate',
    ])
    expect(plan.skipped).toEqual([{ what: 'testbft n=4 f=2 byzantine', reason: 'testbft with n=4 tolerates 1 fault (f=2 needs n=7)' }])
  })

  it('plans libp2p (real, loopback) runs for the fault-free closed loop only, and says why the rest is skipped', () => {
    const config = validateSweepConfig({ protocols: [crashProtocol.name], n: [3], f: [0, 1], faults: ['none', 'crash-leader'],
      networks: ['lan', 'libp2p'] }, view)
    const plan = planSweep(config, protocols)
    expect(plan.runs.map(r => `${r.protocol}/${r.fault}/${r.network}`)).toEqual([
      'unreplicated/none/lan', 'unreplicated/none/libp2p', `${crashProtocol.name}/none/lan`, `${crashProtocol.name}/none/libp2p`,
      `${crashProtocol.name}/crash-leader/lan`,
    ])
    expect(plan.skipped).toEqual([{ what: `${crashProtocol.name} crash-leader libp2p`, reason: expect.stringContaining('use consensus chaos') }])
    const open = planSweep(validateSweepConfig({ protocols: [crashProtocol.name], n: [3], f: [0], networks: ['libp2p'], mode: 'open' }, view), protocols)
    expect(open.runs).toEqual([])
    expect(open.skipped.map(s => s.reason)).toEqual([expect.stringContaining('open-loop load is not supported over libp2p'),
      expect.stringContaining('open-loop load is not supported over libp2p')])
  })

  it('skips a batch limit the protocol does not take, and passes it as maxBatchCount when it does', () => {
    const config = validateSweepConfig({ protocols: [crashProtocol.name], n: [3], f: [0], batch: [1, 'default'] }, view)
    const plan = planSweep(config, protocols)
    const runs = plan.runs.filter(r => !r.baseline)
    expect(runs.map(r => r.batch)).toEqual([1, 'default'])
    expect(runs[0]!.protocolOptions).toEqual({ maxBatchCount: 1 })
    expect(runs[1]!.protocolOptions).toEqual({})
  })

  it('names a bad protocol option by protocol and field', () => {
    const config = validateSweepConfig({ protocols: [crashProtocol.name], n: [3], f: [0],
      protocolOptions: { [crashProtocol.name]: { maxBatchCount: 0 } } }, view)
    expect(() => planSweep(config, protocols)).toThrow(new RegExp(`protocolOptions\\.${crashProtocol.name}\\.maxBatchCount`))
  })
})
