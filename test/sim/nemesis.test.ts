/**
 * The simulator's fault menu beyond the network (Jepsen's nemeses): pauses, clock drift, outages beyond f, disk
 * faults that must be refused, membership replacement as the way back, and the liveness verdict that judges every
 * faulty run.
 */
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../core/errors.ts'
import type { HistoryEvent } from '../../core/history.ts'
import { judgeLiveness } from '../../core/liveness.ts'
import { createSimCluster } from '../../net/sim/cluster.ts'
import { parseFaultSpec, randomNemesisSchedule } from '../../net/sim/faults.ts'
import { createRng } from '../../core/random.ts'
import { encodeKvCommand } from '../../core/kv.ts'
import { replayCommand, runSimulation, type SimulationOptions } from '../../net/sim/run.ts'
import { getProtocol } from '../../protocols/index.ts'

const raft = getProtocol('raft')

function run(o: Omit<SimulationOptions, 'protocol'> & { protocol?: SimulationOptions['protocol'] }) {
  const options = { protocol: raft, ...o }
  return { r: runSimulation(options), replay: replayCommand(options) }
}

describe('fault schedules: the wider menu', () => {
  it('parses every new action and names a bad item', () => {
    const faults = parseFaultSpec('pause@100:leader,resume@200:paused,clock@0:2:1.5,clock@300:all:1,crash-all@400,' +
      'corrupt@500:1,lose-sync@600:2,replace@700:1,transfer@800:3', 5)
    expect(faults.map(f => f.action.kind)).toEqual(['clock', 'pause', 'resume', 'clock', 'crash-all', 'corrupt', 'lose-sync', 'replace', 'transfer'])
    expect(() => parseFaultSpec('clock@0:2:0', 5)).toThrow(ConfigError)
    expect(() => parseFaultSpec('pause@0:9', 5)).toThrow(/pause@0:9.*not a replica/)
    expect(() => parseFaultSpec('wobble@0:1', 5)).toThrow(/unknown fault "wobble"/)
  })

  it('nemesis schedules draw pauses, clocks, outages and disk faults, and keep clocks inside a stated assumption', () => {
    const kinds = new Set<string>()
    let maxRate = 1
    let minRate = 1
    for (let seed = 1; seed <= 20; seed++) {
      for (const f of randomNemesisSchedule(createRng(seed), { n: 5, windowMs: 10_000, maxClockRateRatio: 1.1, pauses: false })) {
        kinds.add(f.action.kind)
        if (f.action.kind === 'clock' && f.action.node !== 'all') { maxRate = Math.max(maxRate, f.action.rate); minRate = Math.min(minRate, f.action.rate) }
      }
    }
    for (const k of ['clock', 'crash-all', 'corrupt', 'replace', 'crash', 'partition']) expect(kinds, k).toContain(k)
    expect(kinds.has('pause')).toBe(false)
    expect(maxRate / minRate).toBeLessThan(1.1)
  })
})

describe('nemeses in the simulator', () => {
  it('a paused leader keeps its state, is replaced, and catches up after it resumes', () => {
    const { r, replay } = run({ n: 3, seed: 11, ops: 600, clients: 4, faults: 'pause@500:leader,resume@2500:paused' })
    expect(r.faults.map(f => f.description).join('\n')).toMatch(/paused \d/)
    expect(r.check.ok, replay).toBe(true)
    expect(r.liveness.ok, `${r.liveness.problems.join('; ')}\n${replay}`).toBe(true)
  })

  it('a paused replica processes nothing until it resumes, then everything that waited, in order', () => {
    const c = createSimCluster({ protocol: raft, n: 3, seed: 5, clients: 1 })
    c.sim.run(1000)
    const follower = c.replicaIds.find(id => id !== c.leader())!
    const before = c.host(follower).status().commitIndex
    c.pause(follower)
    let done = 0
    const write = (i: number): void => {
      if (i === 20) return
      c.clients[0]!.submit(encodeKvCommand({ type: 'put', key: 'k', value: String(i) }), false, 1000, () => { done++; write(i + 1) })
    }
    write(0)
    c.sim.run(3000)
    // The others commit the writes without it; it stays where it was, its inbox waiting.
    expect(done).toBe(20)
    const leaderIndex = c.host(c.leader()!).status().commitIndex
    expect(leaderIndex).toBeGreaterThanOrEqual(before + 20)
    expect(c.host(follower).status().commitIndex).toBe(before)
    c.resume(follower)
    c.sim.run(3500)
    expect(c.host(follower).status().commitIndex).toBe(leaderIndex)
  })

  it('clock drift: a replica at rate 2 ticks twice as often as one at rate 1', () => {
    const c = createSimCluster({ protocol: raft, n: 3, seed: 5, clockRates: [2, 1, 1] })
    let fast = 0
    let slow = 0
    const r0 = c.replica(0)
    const r1 = c.replica(1)
    const t0 = r0.tick.bind(r0)
    const t1 = r1.tick.bind(r1)
    r0.tick = () => { fast++; t0() }
    r1.tick = () => { slow++; t1() }
    c.sim.run(1000)
    expect(fast).toBeGreaterThanOrEqual(2 * slow - 2)
    expect(fast).toBeLessThanOrEqual(2 * slow + 2)
  })

  it('an outage beyond f (every replica crashes) recovers from storage with no acknowledged write lost', () => {
    for (const protocol of [raft, getProtocol('multipaxos')]) {
      const { r, replay } = run({ protocol, n: 3, seed: 3, ops: 800, clients: 5, fsyncMs: 2, faults: 'crash-all@400,restart-all@900,crash-all@1500,restart-all@1600' })
      expect(r.faults.filter(f => f.description.startsWith('crash-all') && !f.skipped).length).toBe(2)
      expect(r.check.ok, `${r.check.explanation}\n${replay}`).toBe(true)
      expect(r.liveness.ok, `${r.liveness.problems.join('; ')}\n${replay}`).toBe(true)
    }
  })

  it('a flipped bit in stored records is refused at the next start, never applied', () => {
    const { r, replay } = run({ n: 5, seed: 3, ops: 1000, clients: 5, faults: 'corrupt@500:1,crash@501:1,restart@502:1' })
    expect(r.refused.map(x => x.replica)).toEqual([1])
    expect(r.refused[0]!.reason).toMatch(/checksum mismatch/)
    expect(r.safetyViolations).toEqual([])
    expect(r.check.ok, replay).toBe(true)
    expect(r.liveness.ok, r.liveness.problems.join('; ')).toBe(true)
  })

  it('a lying fsync is refused once a later write reveals the loss', () => {
    const { r, replay } = run({ n: 5, seed: 3, ops: 1000, clients: 5, faults: 'lose-sync@600:2,crash@620:2,restart@700:2' })
    expect(r.refused.map(x => x.replica), replay).toEqual([2])
    expect(r.refused[0]!.reason).toMatch(/lost write/)
    expect(r.check.ok, replay).toBe(true)
  })

  it('the way back: a refused Raft replica is replaced by a fresh one that catches up before it votes', () => {
    const { r, replay } = run({ n: 3, seed: 4, ops: 1200, clients: 5, faults: 'corrupt@400:2,crash@401:2,restart@402:2,replace@700:2,crash@2500:leader,restart@3500:crashed' })
    const log = r.faults.map(f => f.description).join('\n')
    expect(log, replay).toMatch(/replace 2: learner 3 proposed/)
    expect(log, replay).toMatch(/replace 2: done: 3 is a voter in place of 2/)
    // With the fresh voter the cluster tolerates the later crash of its leader again.
    expect(log).toMatch(/crashed \d/)
    expect(r.check.ok, `${r.check.explanation}\n${replay}`).toBe(true)
    expect(r.liveness.ok, `${r.liveness.problems.join('; ')}\n${replay}`).toBe(true)
  })

  it('nemesis schedules replace the refused replica, not a healthy one (soak seed 40 once removed the leader)', () => {
    const { r, replay } = run({ n: 3, seed: 40, ops: 500, clients: 5, faults: 'nemesis', faultWindowMs: 8000 })
    expect(r.faults.map(f => f.description).join('\n'), replay).toMatch(/replace 1: done: 3 is a voter in place of 1/)
    expect(r.check.ok, replay).toBe(true)
    expect(r.liveness.ok, `${r.liveness.problems.join('; ')}\n${replay}`).toBe(true)
  })

  it('two replacements at once take distinct fresh ids and both finish', () => {
    const { r, replay } = run({ n: 5, seed: 3, ops: 1000, clients: 5,
      faults: 'corrupt@500:1,crash@501:1,restart@502:1,corrupt@510:2,crash@511:2,restart@512:2,replace@600:1,replace@610:2' })
    const log = r.faults.map(f => f.description).join('\n')
    expect(log, replay).toMatch(/replace 1: done: 5 is a voter in place of 1/)
    expect(log, replay).toMatch(/replace 2: done: 6 is a voter in place of 2/)
    expect(r.check.ok, replay).toBe(true)
    expect(r.liveness.ok, r.liveness.problems.join('; ')).toBe(true)
  })

  it('protocols without membership changes say so instead of replacing', () => {
    const { r } = run({ protocol: getProtocol('multipaxos'), n: 3, seed: 4, ops: 300, clients: 3, faults: 'corrupt@200:2,crash@201:2,restart@202:2,replace@300:2' })
    expect(r.faults.find(f => f.description.startsWith('replace'))!.skipped).toMatch(/no membership changes/)
    expect(r.check.ok).toBe(true)
  })

  it('a leader transfer is a schedule event', () => {
    const { r, replay } = run({ n: 3, seed: 8, ops: 600, clients: 3, faults: 'transfer@800:2' })
    const t = r.faults.find(f => f.description.startsWith('transfer'))!
    expect(t.description, replay).toMatch(/transfers to 2|already the leader/)
    expect(r.check.ok).toBe(true)
  })

  it('Byzantine replicas can be placed at chosen ids', () => {
    const r = runSimulation({ protocol: getProtocol('pbft'), n: 4, seed: 2, ops: 60, clients: 2, byzantine: ['0=silent'] })
    expect(r.byzantine).toEqual([{ replica: 0, strategy: 'silent' }])
    expect(r.check.ok).toBe(true)
    expect(r.liveness.ok, r.liveness.problems.join('; ')).toBe(true)
    expect(() => runSimulation({ protocol: getProtocol('pbft'), n: 4, seed: 2, ops: 10, clients: 1, byzantine: ['0=silent', '1=silent'] }))
      .toThrow(/tolerates f = 1/)
  })
})

describe('the liveness verdict', () => {
  const op = (process: number, t0: number, t1: number, type: 'ok' | 'info'): HistoryEvent[] => [
    { process, type: 'invoke', f: 'write', key: 'k', value: `${process}-${t0}`, time: t0 },
    { process, type, f: 'write', key: 'k', value: `${process}-${t0}`, time: t1 },
  ]
  const base = { finished: true, healAt: 1000, boundMs: 500, maxTimedOutShare: 0.1, firstCommit: 1010 }

  it('passes when every operation after the heal completes within the bound', () => {
    const v = judgeLiveness([...op(1, 0, 900, 'info'), ...op(1, 1000, 1100, 'ok'), ...op(2, 1000, 1400, 'ok'), ...op(1, 1100, 1200, 'ok'),
      ...Array.from({ length: 10 }, (_, i) => op(3, 1200 + i * 10, 1205 + i * 10, 'ok')).flat()], base)
    expect(v.ok, v.problems.join('; ')).toBe(true)
    expect(v.healToFirstCommitMs).toBe(10)
    expect(v.afterHeal).toEqual({ invoked: 13, completedInBound: 13 })
  })

  it('fails on an operation after the heal that timed out or took longer than the bound', () => {
    expect(judgeLiveness([...op(1, 1000, 1600, 'ok')], base).problems[0]).toMatch(/1 of 1 operations invoked after the final heal/)
    expect(judgeLiveness([...op(1, 1000, 1200, 'info')], base).ok).toBe(false)
  })

  it('fails when too many operations timed out, even before the heal', () => {
    const v = judgeLiveness([...op(1, 0, 100, 'info'), ...op(1, 100, 200, 'ok'), ...op(1, 1000, 1010, 'ok')], base)
    expect(v.problems.join()).toMatch(/1 of 3 operations timed out \(33\.3%/)
  })
})
