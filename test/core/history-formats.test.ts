/** Histories other checkers read (Knossos/Elle EDN, Porcupine JSON): written, read back, and judged the same. */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { checkHistory } from '../../core/checker/index.ts'
import { detectHistoryFormat, formatHistory, HISTORY_FORMATS, parseAnyHistory, parseJepsenEdn, parsePorcupine } from '../../core/history-formats.ts'
import type { HistoryEvent } from '../../core/history.ts'
import { runSimulation } from '../../net/sim/run.ts'
import { getProtocol } from '../../protocols/index.ts'
import { staleReadKv } from '../support/stale-read-kv.ts'

const raft = getProtocol('raft')
const good = runSimulation({ protocol: raft, n: 3, seed: 7, ops: 300, clients: 5, faults: 'random', faultWindowMs: 2000 })
const bad = runSimulation({ protocol: raft, n: 3, seed: 2, ops: 80, clients: 3, workload: { keys: 2 }, stateMachine: staleReadKv(3) })
const dir = mkdtempSync(join(tmpdir(), 'history-formats-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Equal up to the nanosecond rounding of EDN's :time. */
function expectSameHistory(actual: readonly HistoryEvent[], expected: readonly HistoryEvent[]): void {
  expect(actual.length).toBe(expected.length)
  actual.forEach((e, i) => {
    const { time, ...rest } = e
    const { time: t, ...want } = expected[i]!
    expect(rest).toEqual(want)
    expect(time).toBeCloseTo(t, 5)
  })
}

describe('history formats', () => {
  it('has a run with every kind of outcome to convert', () => {
    expect(good.check.verdict).toBe('linearizable')
    expect(bad.check.verdict).toBe('not-linearizable')
    const kinds = new Set(good.history.map(e => `${e.f}/${e.type}`))
    for (const k of ['read/ok', 'write/ok', 'cas/ok', 'cas/fail', 'delete/ok']) expect(kinds).toContain(k)
  })

  for (const format of HISTORY_FORMATS) {
    it(`${format}: detected, read back to the same history, same verdict`, () => {
      for (const run of [good, bad]) {
        const text = formatHistory(run.history, format)
        expect(detectHistoryFormat(text)).toBe(format)
        const back = parseAnyHistory(text)
        expectSameHistory(back, run.history)
        const verdict = checkHistory(back)
        expect(verdict.verdict).toBe(run.check.verdict)
        expect(verdict.explanation.split('\n')[0]).toBe(run.check.explanation.split('\n')[0])
      }
    })

    it(`${format}: npm run check gives the JSON Lines verdict and exit code`, () => {
      for (const [name, run, code] of [['good', good, 0], ['bad', bad, 1]] as const) {
        const file = join(dir, `${name}.${format}`)
        writeFileSync(file, formatHistory(run.history, format))
        const r = spawnSync(process.execPath, ['bin/check.ts', file], { encoding: 'utf8' })
        expect(r.stderr).toBe('')
        expect(r.status).toBe(code)
        expect(r.stdout.split('\n')[0]).toBe(run.check.explanation.split('\n')[0])
      }
    })
  }

  it('writes Knossos-style EDN: independent [key value] tuples, nanosecond times, deletes as writes of nil', () => {
    const events: HistoryEvent[] = [
      { process: 0, type: 'invoke', f: 'delete', key: 'k', value: null, time: 1.5 },
      { process: 0, type: 'ok', f: 'delete', key: 'k', value: null, time: 2 },
      { process: 'c', type: 'invoke', f: 'cas', key: 'k "q"', value: [null, 'x'], time: 3 },
      { process: 'c', type: 'fail', f: 'cas', key: 'k "q"', value: [null, 'x'], time: 4 },
    ]
    expect(formatHistory(events, 'jepsen-edn').split('\n')).toEqual([
      '{:type :invoke, :f :write, :value ["k" nil], :process 0, :time 1500000, :index 0}',
      '{:type :ok, :f :write, :value ["k" nil], :process 0, :time 2000000, :index 1}',
      '{:type :invoke, :f :cas, :value ["k \\"q\\"" [nil "x"]], :process "c", :time 3000000, :index 2}',
      '{:type :fail, :f :cas, :value ["k \\"q\\"" [nil "x"]], :process "c", :time 4000000, :index 3}',
      '',
    ])
  })

  it('reads Jepsen EDN as Jepsen writes it: a vector of ops, numbers as values, nemesis ops, comments', () => {
    const edn = `; a Jepsen history
[{:type :invoke, :f :start, :value nil, :process :nemesis, :time 5}
 {:index 0 :time 10 :type :invoke :process 0 :f :write :value [1 3]}
 {:index 1 :time 20 :type :ok :process 0 :f :write :value [1 3]}
 #jepsen.history.Op{:index 2 :time 30 :type :invoke :process 1 :f :read :value [1 nil]}
 {:index 3 :time 40 :type :ok :process 1 :f :read :value [1 4]}]`
    const events = parseJepsenEdn(edn)
    expect(events).toHaveLength(4)
    expect(events[1]).toEqual({ process: 0, type: 'ok', f: 'write', key: '1', value: '3', time: 0.00002 })
    expect(checkHistory(events).verdict).toBe('not-linearizable')
    expect(() => parseJepsenEdn('{:type :invoke, :f :write, :value 3, :process 0}')).toThrow(/line 1: :value must be an independent-key tuple/)
  })

  it('reads Porcupine operations written by Go (capitalised fields, no extra fields)', () => {
    const ops = [
      { ClientId: 0, Input: { op: 'write', key: 'x', value: 'a' }, Call: 0, Output: {}, Return: 2 },
      { ClientId: 1, Input: { op: 'read', key: 'x', value: null }, Call: 1, Output: { value: 'a' }, Return: 3 },
    ]
    const events = parsePorcupine(JSON.stringify(ops))
    expect(events.map(e => `${e.process}:${e.type}`)).toEqual(['0:invoke', '1:invoke', '0:ok', '1:ok'])
    expect(checkHistory(events).verdict).toBe('linearizable')
  })
})
