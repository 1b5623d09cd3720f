/**
 * A sweep split into shards and merged again is the unsharded sweep: the same runs and batch-size-1 measurements in
 * the same order with the same figures, and the same results files (host measurements, which time this machine,
 * aside). Merging refuses what would not be one sweep.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'
import { registryView } from '../../bench/cli-config.ts'
import { validateSweepConfig } from '../../bench/config.ts'
import { mergeShards, parseShard, runSweep, shardSteps, type SweepResults } from '../../bench/sweep.ts'
import { writeResults } from '../../bench/output/write.ts'
import { toCsv } from '../../bench/output/csv.ts'

function simulated(r: SweepResults): string {
  return JSON.stringify({
    schema: r.schema, preset: r.preset, config: r.config, skipped: r.skipped, messageComplexity: r.messageComplexity,
    runs: r.runs.map(({ host: _host, ...run }) => run),
  })
}

/** Results with every host measurement set to one value, so files can be compared byte for byte. */
function withoutHost(r: SweepResults): SweepResults {
  return {
    ...r, startedAt: 'x', wallMs: 0, environment: { ...r.environment },
    runs: r.runs.map(run => ({ ...run, host: Object.fromEntries(Object.keys(run.host).map(k => [k, 0])) as never })),
  }
}

describe('bench --shard and bench merge', () => {
  let whole: SweepResults
  let shards: SweepResults[]

  beforeAll(async () => {
    const config = validateSweepConfig({
      protocols: ['raft', 'multipaxos'], n: [3, 5], f: [0, 1], faults: ['none', 'crash-leader'], networks: ['lan'],
      clients: [4], warmupMs: 200, durationMs: 400, maxOps: 150,
    }, registryView(protocols))
    whole = await runSweep(config, protocols)
    shards = []
    for (const index of [3, 1, 2]) shards.push(await runSweep(config, protocols, {}, null, { shard: { index, count: 3 } }))
  })

  it('splits the plan round robin: every step in exactly one shard', () => {
    expect(shards.map(s => s.shard)).toEqual([{ index: 3, count: 3 }, { index: 1, count: 3 }, { index: 2, count: 3 }])
    const steps = (r: SweepResults) => r.runs.length + r.messageComplexity.length
    expect(shards.reduce((sum, s) => sum + steps(s), 0)).toBe(steps(whole))
    for (const s of shards) expect(steps(s)).toBeGreaterThan(0)
    expect(shardSteps([0, 1, 2, 3, 4, 5, 6], 2, { index: 1, count: 3 })).toEqual([1, 4])
  })

  it('merged shards equal the unsharded sweep, in plan order, and write the same files', async () => {
    const merged = mergeShards(shards, protocols)
    expect(merged.shard).toBeUndefined()
    expect(simulated(merged)).toBe(simulated(whole))
    expect(merged.wallMs).toBe(shards.reduce((sum, s) => sum + s.wallMs, 0))
    expect(toCsv(withoutHost(merged))).toBe(toCsv(withoutHost(whole)))
    const a = mkdtempSync(join(tmpdir(), 'merged-'))
    const b = mkdtempSync(join(tmpdir(), 'whole-'))
    try {
      await writeResults(withoutHost(merged), a)
      await writeResults(withoutHost({ ...whole, environment: merged.environment }), b)
      const files = readdirSync(b).sort()
      expect(readdirSync(a).sort()).toEqual(files)
      for (const f of files) expect(readFileSync(join(a, f), 'utf8'), f).toBe(readFileSync(join(b, f), 'utf8'))
    } finally {
      rmSync(a, { recursive: true, force: true })
      rmSync(b, { recursive: true, force: true })
    }
  })

  it('refuses a missing shard, a shard twice, a whole sweep or another configuration', () => {
    expect(() => mergeShards(shards.slice(0, 2), protocols)).toThrow(/missing shard 2\/3/)
    expect(() => mergeShards([...shards, shards[0]!], protocols)).toThrow(/shard 3\/3 is given twice/)
    expect(() => mergeShards([whole], protocols)).toThrow(/not a shard/)
    const other = { ...shards[1]!, config: { ...shards[1]!.config, seed: 99 } }
    expect(() => mergeShards([shards[0]!, other, shards[2]!], protocols)).toThrow(/another configuration/)
    expect(() => mergeShards([], protocols)).toThrow(/no results/)
  })

  it('--shard takes i/k with 1 <= i <= k', () => {
    expect(parseShard('3/16')).toEqual({ index: 3, count: 16 })
    for (const bad of ['0/4', '5/4', '3', 'a/b', '1/0']) expect(() => parseShard(bad), bad).toThrow(/--shard/)
  })

})
