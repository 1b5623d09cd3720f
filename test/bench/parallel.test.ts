/**
 * Where a simulated run executes cannot change it: a sweep and a soak on two worker threads give exactly what they
 * give in one thread (host measurements, which time this machine, aside).
 */
import { describe, expect, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'
import { registryView } from '../../bench/cli-config.ts'
import { validateSweepConfig } from '../../bench/config.ts'
import { runSweep, type SweepResults } from '../../bench/sweep.ts'
import { parseJobs, runTasks, type Task } from '../../bench/parallel.ts'

/** Everything but what the machine measured: wall and CPU time, memory, the start time and the environment. */
function simulated(r: SweepResults): string {
  return JSON.stringify({
    config: r.config, skipped: r.skipped, messageComplexity: r.messageComplexity,
    runs: r.runs.map(({ host: _host, ...run }) => run),
  })
}

describe('--jobs', () => {
  it('a sweep on 2 workers gives byte-identical figures to one thread, in the same order', async () => {
    const config = validateSweepConfig({
      protocols: ['raft', 'pbft'], n: [3, 4], f: [0, 1], faults: ['none', 'crash-leader'], networks: ['lan'],
      clients: [4], warmupMs: 200, durationMs: 400, maxOps: 150,
    }, registryView(protocols))
    const serial = await runSweep(config, protocols, {}, null, { jobs: 1 })
    const progress: number[] = []
    const parallel = await runSweep(config, protocols, { onProgress: p => { if (p.label !== 'writing results') progress.push(p.done) } }, null, { jobs: 2 })
    expect(serial.runs.length).toBeGreaterThan(3)
    expect(simulated(parallel)).toBe(simulated(serial))
    // In parallel the bar counts finished steps: one each, up to the total.
    expect(progress).toEqual(Array.from({ length: serial.runs.length + serial.messageComplexity.length }, (_, i) => i + 1))
  })

  it('soak seeds on 2 workers have the outcomes they have in one thread', async () => {
    const tasks = [1, 2, 3].map((seed): Extract<Task, { kind: 'soak' }> => ({
      kind: 'soak', protocol: 'pbft', options: { n: 4, seed, ops: 40, clients: 3, faults: 'random', faultWindowMs: 1000, byzantine: ['equivocate'] },
    }))
    const serial = await runTasks(tasks, 1)
    const parallel = await runTasks(tasks, 2)
    expect(serial.every(o => o.kind === null && o.configError === undefined)).toBe(true)
    expect(JSON.stringify(parallel)).toBe(JSON.stringify(serial))
  })

  it('a worker\'s failure fails the whole batch with its error', async () => {
    await expect(runTasks([{ kind: 'complexity', protocol: 'nope', n: 3, options: {} }, { kind: 'complexity', protocol: 'nope', n: 3, options: {} }], 2))
      .rejects.toThrow(/protocol "nope" is not registered/)
  })

  it('--jobs takes a positive integer', () => {
    expect(parseJobs('3')).toBe(3)
    expect(() => parseJobs('0')).toThrow(/--jobs/)
    expect(() => parseJobs('two')).toThrow(/--jobs/)
  })
})
