import { describe, expect, it } from 'vitest'
import { CodecError } from '../../core/errors.ts'
import { HistoryRecorder, pairOperations, parseHistory, toJsonLines } from '../../core/history.ts'
import type { HistoryEvent } from '../../core/history.ts'

function sampleHistory(): HistoryEvent[] {
  const r = new HistoryRecorder()
  const w = r.invoke(1, 'write', 'k', 'v1', 0)
  const read = r.invoke('client-b', 'read', 'k', null, 1)
  w.ok(2)
  read.ok(3, 'v1')
  const cas = r.invoke(3, 'cas', 'k', [null, 'v2'], 4)
  cas.fail(5)
  const cas2 = r.invoke(3, 'cas', 'k', ['v1', 'v2'], 6)
  const del = r.invoke(1, 'delete', 'other', null, 6.5)
  cas2.info(7)
  del.ok(8)
  const absent = r.invoke(1, 'read', 'other', null, 9)
  absent.ok(9, null)
  r.invoke(4, 'write', 'k', '', 10) // never completes
  return [...r.events]
}

describe('HistoryRecorder', () => {
  it('records invokes and completions in order, in the documented shape', () => {
    const events = sampleHistory()
    expect(events).toHaveLength(13)
    expect(events[0]).toEqual({ process: 1, type: 'invoke', f: 'write', key: 'k', value: 'v1', time: 0 })
    expect(events[3]).toEqual({ process: 'client-b', type: 'ok', f: 'read', key: 'k', value: 'v1', time: 3 })
    expect(events[5]).toEqual({ process: 3, type: 'fail', f: 'cas', key: 'k', value: [null, 'v2'], time: 5 })
    expect(events[8]).toEqual({ process: 3, type: 'info', f: 'cas', key: 'k', value: ['v1', 'v2'], time: 7 })
    expect(events[11]).toEqual({ process: 1, type: 'ok', f: 'read', key: 'other', value: null, time: 9 })
  })

  it('rejects misuse', () => {
    const r = new HistoryRecorder()
    const op = r.invoke(1, 'read', 'k', null, 5)
    expect(r.pendingCount).toBe(1)
    expect(() => r.invoke(1, 'write', 'k', 'x', 6)).toThrow(/process 1 invoked write while its previous operation/)
    expect(() => op.ok(6)).toThrow(/read completes ok with the value it read/)
    expect(() => op.ok(4, 'x')).toThrow(/time 4 is earlier than the previous event's 5/)
    op.ok(6, 'x')
    expect(op.done).toBe(true)
    expect(r.pendingCount).toBe(0)
    expect(() => op.fail(7)).toThrow(/completed twice/)
    expect(() => r.invoke(2, 'write', 'k', null, 8)).toThrow(/a write's value must be a string/)
    expect(() => r.invoke(2, 'cas', 'k', 'x', 8)).toThrow(/a cas's value must be \[expected, new\]/)
    expect(() => r.invoke(2, 'delete', 'k', 'x', 8)).toThrow(/a delete's value must be null/)
    expect(r.events).toHaveLength(2)
  })
})

describe('JSON Lines', () => {
  it('writes one event per line with fields in the documented order', () => {
    const text = toJsonLines(sampleHistory().slice(0, 2))
    expect(text).toBe(
      '{"process":1,"type":"invoke","f":"write","key":"k","value":"v1","time":0}\n'
      + '{"process":"client-b","type":"invoke","f":"read","key":"k","value":null,"time":1}\n')
  })

  it('round-trips', () => {
    const events = sampleHistory()
    const text = toJsonLines(events)
    expect(parseHistory(text)).toEqual(events)
    expect(toJsonLines(parseHistory(text))).toBe(text)
  })

  it('skips blank lines and ignores unknown fields', () => {
    const text = '\n{"process":1,"type":"invoke","f":"read","key":"k","value":null,"time":0,"index":0}\n\n'
      + '  {"process":1,"type":"ok","f":"read","key":"k","value":"a","time":1}  \n'
    expect(parseHistory(text)).toEqual([
      { process: 1, type: 'invoke', f: 'read', key: 'k', value: null, time: 0 },
      { process: 1, type: 'ok', f: 'read', key: 'k', value: 'a', time: 1 },
    ])
  })

  const invoke = '{"process":1,"type":"invoke","f":"write","key":"k","value":"a","time":1}'
  const cases: [string, string, RegExp][] = [
    ['not JSON', `${invoke}\n{"process":1,`, /^line 2: not valid JSON/],
    ['an array', '[1,2]', /^line 1: expected a JSON object, got \[1,2\]/],
    ['a bad process', '{"process":-1,"type":"invoke","f":"read","key":"k","value":null,"time":0}', /^line 1: "process" must be a non-negative integer or a non-empty string, got -1/],
    ['a bad type', '{"process":1,"type":"done","f":"read","key":"k","value":null,"time":0}', /^line 1: "type" must be one of invoke, ok, fail, info, got "done"/],
    ['a bad f', '{"process":1,"type":"invoke","f":"get","key":"k","value":null,"time":0}', /^line 1: "f" must be one of read, write, cas, delete, got "get"/],
    ['a missing key', '{"process":1,"type":"invoke","f":"read","value":null,"time":0}', /^line 1: "key" must be a string, got nothing/],
    ['a missing value', '{"process":1,"type":"invoke","f":"read","key":"k","time":0}', /^line 1: "value" is missing/],
    ['a string time', '{"process":1,"type":"invoke","f":"read","key":"k","value":null,"time":"0"}', /^line 1: "time" must be a finite number, got "0"/],
    ['a numeric write value', '{"process":1,"type":"invoke","f":"write","key":"k","value":3,"time":0}', /^line 1: a write's value must be a string, got 3/],
    ['a read invoke with a value', '{"process":1,"type":"invoke","f":"read","key":"k","value":"a","time":0}', /^line 1: a read's invoke must have value null/],
    ['a short cas', '{"process":1,"type":"invoke","f":"cas","key":"k","value":["a"],"time":0}', /^line 1: a cas's value must be \[expected, new\]/],
    ['a delete with a value', '{"process":1,"type":"invoke","f":"delete","key":"k","value":"a","time":0}', /^line 1: a delete's value must be null/],
    ['time going backwards', `${invoke}\n\n{"process":1,"type":"ok","f":"write","key":"k","value":"a","time":0}`, /^line 3: time 0 is earlier than the previous event's 1/],
    ['a completion without invoke', '{"process":7,"type":"ok","f":"write","key":"k","value":"a","time":0}', /^line 1: ok for process 7, which has no operation in progress/],
    ['two invokes by one process', `${invoke}\n${invoke}`, /^line 2: process 1 invokes a new operation while its operation invoked at line 1 has not completed/],
    ['a completion for another key', `${invoke}\n{"process":1,"type":"ok","f":"write","key":"j","value":"a","time":2}`, /^line 2: ok is for write of key "j" but process 1 invoked write of key "k" at line 1/],
  ]
  for (const [name, text, message] of cases) {
    it(`rejects ${name}, naming the line`, () => {
      expect(() => parseHistory(text)).toThrow(CodecError)
      expect(() => parseHistory(text)).toThrow(message)
    })
  }
})

describe('pairOperations', () => {
  it('pairs invokes with completions; an invoke that never completed counts as info', () => {
    const ops = pairOperations(sampleHistory())
    expect(ops.map((o) => [o.f, o.key, o.status, o.output])).toEqual([
      ['write', 'k', 'ok', null],
      ['read', 'k', 'ok', 'v1'],
      ['cas', 'k', 'fail', null],
      ['cas', 'k', 'info', null],
      ['delete', 'other', 'ok', null],
      ['read', 'other', 'ok', null],
      ['write', 'k', 'info', null],
    ])
    const last = ops[6]!
    expect(last).toMatchObject({ input: '', invokeIndex: 12, completeIndex: -1, invokeTime: 10, completeTime: null })
    expect(ops[3]).toMatchObject({ input: ['v1', 'v2'], invokeIndex: 6, completeIndex: 8 })
  })

  it('names events by position when not parsing a file', () => {
    const events: HistoryEvent[] = [{ process: 1, type: 'info', f: 'read', key: 'k', value: null, time: 0 }]
    expect(() => pairOperations(events)).toThrow(/^event 1: info for process 1, which has no operation in progress/)
  })
})
