/** The recorder behind the HTML view: complete, and invisible to the run it records. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runSimulation } from '../../net/sim/run.ts'
import { parseFaultOutcome } from '../../net/sim/timeline.ts'
import { getProtocol } from '../../protocols/index.ts'
import { staleReadKv } from '../support/stale-read-kv.ts'
import { buildRunView, focusWindow, type ViewOperation } from '../../viz/run-view.ts'
import { writeFailingSeedHtml } from '../../viz/soak.ts'

const faulty = { protocol: getProtocol('raft'), n: 3, seed: 4, ops: 150, clients: 3, faults: 'crash@100:0,restart@300:0,partition@400:1|0.2,heal@600' }

describe('timeline recorder', () => {
  it('does not change the run: same trace fingerprint and history with and without it', () => {
    const plain = runSimulation(faulty)
    const recorded = runSimulation({ ...faulty, timeline: true })
    expect(recorded.traceHash).toBe(plain.traceHash)
    expect(recorded.history).toEqual(plain.history)
    expect(plain.timeline).toBeUndefined()
  })

  it('records one entry per fate of every replica-to-replica message, like the trace', () => {
    const r = runSimulation({ ...faulty, timeline: true, traceLines: true })
    const replicaLines = r.traceLines!.filter(l => /^\S+ (\d+)->(\d+) /.test(l) && l.split(' ')[1]!.split('->').every(id => Number(id) < 1000))
    const m = r.timeline!.messages
    expect(m.at.length).toBe(replicaLines.length)
    expect(m.delivered.filter(d => d === 0).length).toBe(replicaLines.filter(l => l.endsWith(' lost')).length)
    for (let i = 0; i < m.at.length; i++) expect(m.at[i]).toBeGreaterThanOrEqual(m.sent[i]!)
    const kinds = r.timeline!.faults.map(f => f.kind)
    expect(kinds).toEqual(expect.arrayContaining(['crash', 'restart', 'partition', 'heal']))
    // Replica 0 is down from its crash to its restart.
    const down = r.timeline!.status.filter(s => s.replica === 0 && s.role === 'down')
    expect(down.length).toBeGreaterThan(0)
    expect(down[0]!.at).toBeCloseTo(100, 0)
  })

  it('reads the fault log', () => {
    expect(parseFaultOutcome(5, 'crash@5:leader -> crashed 2')).toEqual({ at: 5, kind: 'crash', replicas: [2], label: 'crashed 2' })
    expect(parseFaultOutcome(5, 'crash@5:1 -> skipped: replica 1 is already down')).toBeNull()
    expect(parseFaultOutcome(7, 'partition@7:0|1.2 -> partitioned 0 | 1.2')?.replicas).toEqual([0, 1, 2])
    expect(parseFaultOutcome(9, 'heal@9 -> healed')?.kind).toBe('heal')
    expect(parseFaultOutcome(3, 'oneway@3:1>3 -> cut 1 -> 3')).toEqual({ at: 3, kind: 'partition', replicas: [1, 3], label: 'cut 1 -> 3' })
    expect(parseFaultOutcome(4, 'isolate@4:leader -> isolated 1')?.replicas).toEqual([1])
    expect(parseFaultOutcome(6, 'reorder@6:0.02 -> reorder 0.02')?.kind).toBe('link')
  })
})

describe('run view', () => {
  it('opens on the window around the first violation and names the operations to highlight', () => {
    const r = runSimulation({ protocol: getProtocol('raft'), n: 3, seed: 2, ops: 80, clients: 3, workload: { keys: 2 }, stateMachine: staleReadKv(3), timeline: true })
    expect(r.check.verdict).toBe('not-linearizable')
    const view = buildRunView({ title: 't', history: r.history, check: r.check, timeline: r.timeline ?? null })
    const h = view.highlight!
    const blocked = view.ops[h.blocked]!
    expect(view.keys[blocked.k]).toBe(r.check.failures[0]!.key)
    expect(h.producers.length).toBeGreaterThan(0)
    // The producer wrote exactly the value the stale read returned.
    expect(view.ops[h.producers[0]!]!.d).toBe(`write ${h.neededValue}`)
    expect(view.focus.from).toBeLessThanOrEqual(blocked.t0)
    expect(view.focus.to).toBeGreaterThanOrEqual(blocked.t1!)
    expect(view.focus.to - view.focus.from).toBeLessThan(view.endMs)
  })
})

describe('default window', () => {
  const op = (t0: number, t1: number | null): ViewOperation => ({ p: 1, k: 0, f: 'write', d: 'write "v"', s: t1 === null ? 'info' : 'ok', t0, t1 })

  it('a stall: around the last completions before progress stopped', () => {
    const ops = [op(0, 10), op(10, 900), op(900, null)]
    const w = focusWindow(ops, null, null, 5000, false)
    expect(w.reason).toContain('stall')
    expect(w.from).toBeLessThan(900)
    expect(w.to).toBeGreaterThan(900)
    expect(w.to).toBeLessThan(5000)
  })

  it('a small healthy run: the whole run', () => {
    expect(focusWindow([op(0, 10)], null, null, 100, true)).toEqual({ from: 0, to: 100, reason: 'the whole run' })
  })
})

describe('soak --html', () => {
  it('writes the view of a failing seed, rerun with recording on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'soak-html-'))
    try {
      const file = writeFailingSeedHtml(join(dir, 'views'), { protocol: getProtocol('raft'), n: 3, seed: 2, ops: 80, clients: 3, workload: { keys: 2 }, stateMachine: staleReadKv(3) })
      expect(file).toBe(join(dir, 'views', 'raft-n3-seed2.html'))
      const html = readFileSync(file, 'utf8')
      expect(html).toContain('"verdict":"not-linearizable"')
      expect(html).toContain('"highlight":{')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
