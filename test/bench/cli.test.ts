/**
 * The command line: bad flags exit 2 with a message naming the flag; an impossible single combination is an error;
 * --json prints parseable results on stdout and --no-save writes nothing.
 */
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'

const crashProtocol = [...protocols.values()].find(p => p.faultModel === 'crash' && p.name !== 'unreplicated')!
const bench = (...args: string[]) => spawnSync(process.execPath, ['bin/bench.ts', ...args], { encoding: 'utf8', timeout: 60_000 })

describe('bench command line', () => {
  it('names each bad flag and exits 2', () => {
    const r = bench('--n', '0,3', '--read-ratio', '7', '--network', 'moon', '--no-save')
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('--n[0]: expected an integer from 1')
    expect(r.stderr).toContain('--read-ratio[0]: expected a number >= 0 and <= 1, got 7')
    expect(r.stderr).toContain('--network[0]: expected one of lan, wan, wan-spread, libp2p, got "moon"')
  })

  it('refuses a single impossible combination with the reason', () => {
    const r = bench('--protocols', crashProtocol.name, '--n', '3', '--f', '2', '--faults', 'crash-leader', '--no-save')
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(new RegExp(`${crashProtocol.name} n=3 f=2 crash-leader: ${crashProtocol.name} with n=3 tolerates 1 fault`))
  })

  it('prints machine-readable results with --json', () => {
    const r = bench('--protocols', crashProtocol.name, '--n', '3', '--f', '0', '--clients', '2', '--warmup-ms', '200',
      '--duration-ms', '200', '--max-ops', '50', '--no-message-complexity', '--json', '--no-save')
    expect(r.status, r.stderr).toBe(0)
    const json = JSON.parse(r.stdout) as { runs: { spec: { protocol: string } }[] }
    expect(json.runs.map(x => x.spec.protocol)).toEqual(['unreplicated', crashProtocol.name])
  })

  it('speed takes its own flags (its --n is not the sweep\'s) and reports deliveries per second', () => {
    const r = bench('speed', '--protocol', crashProtocol.name, '--n', '5', '--clients', '4', '--virtual-ms', '200', '--json')
    expect(r.status, r.stderr).toBe(0)
    const speed = JSON.parse(r.stdout) as { n: number; protocol: string; deliveriesPerSec: number; ops: number; deliveries: number; cold: { deliveries: number; ops: number } }
    expect(speed).toMatchObject({ n: 5, protocol: crashProtocol.name })
    expect(speed.deliveriesPerSec).toBeGreaterThan(0)
    expect(speed.ops).toBeGreaterThan(0)
    // The reported run is the second of two identical ones (the first, JIT cold, is kept apart): same seed, same work.
    expect(speed.cold).toMatchObject({ deliveries: speed.deliveries, ops: speed.ops })
  })
})
