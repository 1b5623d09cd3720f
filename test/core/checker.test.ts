import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkHistory, checkOperations } from '../../core/checker/index.ts'
import type { CheckResult } from '../../core/checker/index.ts'
import { kvKeyModel } from '../../core/checker/kv-model.ts'
import { searchLinearization } from '../../core/checker/linearizability.ts'
import { CodecError } from '../../core/errors.ts'
import { HistoryRecorder, pairOperations, toJsonLines } from '../../core/history.ts'
import type { CasValue, EventValue, HistoryEvent, HistoryOperation, OpFunction, PendingOperation, ProcessId } from '../../core/history.ts'
import { createRng } from '../../core/random.ts'
import type { Rng } from '../../core/random.ts'

const BASE_SEED = process.env.CHECKER_SEED ?? 'checker-1'
const replay = (test: string, seed: string): string =>
  `replay: CHECKER_SEED=${BASE_SEED} npx vitest run test/core/checker.test.ts -t "${test}"  (failing seed ${seed})`

/** Writes a history by hand: every call advances time by one. */
class Script {
  readonly recorder = new HistoryRecorder()
  private time = 0
  invoke(process: ProcessId, f: OpFunction, key: string, value: EventValue = null): PendingOperation {
    return this.recorder.invoke(process, f, key, value, this.time++)
  }
  write(process: ProcessId, key: string, value: string): PendingOperation { return this.invoke(process, 'write', key, value) }
  read(process: ProcessId, key: string): PendingOperation { return this.invoke(process, 'read', key) }
  cas(process: ProcessId, key: string, expected: string | null, next: string): PendingOperation {
    return this.invoke(process, 'cas', key, [expected, next])
  }
  del(process: ProcessId, key: string): PendingOperation { return this.invoke(process, 'delete', key) }
  ok(op: PendingOperation, valueRead?: string | null): void { op.ok(this.time++, valueRead) }
  fail(op: PendingOperation): void { op.fail(this.time++) }
  info(op: PendingOperation): void { op.info(this.time++) }
  check(): CheckResult { return checkHistory(this.recorder.events) }
}

function linearizable(s: Script): void {
  const result = s.check()
  expect(result.verdict, result.explanation).toBe('linearizable')
  expect(result.ok).toBe(true)
}

function notLinearizable(s: Script, key = 'x'): CheckResult {
  const result = s.check()
  expect(result.verdict, result.explanation).toBe('not-linearizable')
  expect(result.ok).toBe(false)
  expect(result.failures[0]!.key).toBe(key)
  expect(result.explanation).toContain(`key ${JSON.stringify(key)}`)
  return result
}

describe('linearizable histories', () => {
  it('sequential operations of every kind', () => {
    const s = new Script()
    s.ok(s.read(1, 'x'), null)
    s.ok(s.write(1, 'x', 'a'))
    s.ok(s.read(2, 'x'), 'a')
    s.ok(s.cas(2, 'x', 'a', 'b'))
    s.ok(s.read(1, 'x'), 'b')
    s.ok(s.del(1, 'x'))
    s.ok(s.read(1, 'x'), null)
    s.ok(s.cas(3, 'x', null, 'c'))
    s.ok(s.read(3, 'x'), 'c')
    const result = s.check()
    expect(result).toMatchObject({ verdict: 'linearizable', keysChecked: 1, keysTotal: 1, opsChecked: 9, opsTotal: 9 })
    expect(result.explanation).toBe('linearizable: checked 9 operations over 1 of 1 keys')
  })

  it('a read concurrent with a write may see the old or the new value', () => {
    for (const seen of [null, 'a']) {
      const s = new Script()
      const w = s.write(1, 'x', 'a')
      const r = s.read(2, 'x')
      s.ok(r, seen)
      s.ok(w)
      linearizable(s)
    }
  })

  it('overlapping writes may take effect in either order', () => {
    for (const last of ['a', 'b']) {
      const s = new Script()
      const wa = s.write(1, 'x', 'a')
      const wb = s.write(2, 'x', 'b')
      s.ok(wa)
      s.ok(wb)
      s.ok(s.read(3, 'x'), last)
      s.ok(s.read(3, 'x'), last)
      linearizable(s)
    }
  })

  it('linearization points inside long overlapping operations (reads see writes out of invocation order)', () => {
    const s = new Script()
    const wa = s.write(1, 'x', 'a')
    const wb = s.write(2, 'x', 'b')
    const r1 = s.read(3, 'x')
    s.ok(r1, 'b')
    const r2 = s.read(3, 'x')
    s.ok(r2, 'a') // wb, r1, wa, r2
    s.ok(wb)
    s.ok(wa)
    linearizable(s)
  })

  it('keys are independent', () => {
    const s = new Script()
    s.ok(s.write(1, 'x', 'a'))
    s.ok(s.write(1, 'y', 'b'))
    s.ok(s.read(2, 'y'), 'b')
    s.ok(s.read(2, 'x'), 'a')
    s.ok(s.read(2, 'z'), null)
    expect(s.check()).toMatchObject({ verdict: 'linearizable', keysChecked: 3, opsChecked: 5 })
  })

  it('an empty history', () => {
    expect(checkHistory([])).toMatchObject({ verdict: 'linearizable', keysChecked: 0, opsChecked: 0 })
  })
})

describe('non-linearizable histories', () => {
  it('stale read', () => {
    const s = new Script()
    s.ok(s.write(1, 'x', 'a'))
    s.ok(s.write(1, 'x', 'b'))
    const r = s.read(2, 'x')
    s.ok(r, 'a')
    const result = notLinearizable(s)
    const f = result.failures[0]!
    expect(f.longestPrefix.map((p) => p.operation.input)).toEqual(['a', 'b'])
    expect(f.value).toBe('b')
    expect(f.blocked).toMatchObject({ f: 'read', output: 'a', process: 2 })
    expect(f.unplaced).toHaveLength(1)
    expect(f.unplaced[0]!.reason).toBe('reads "a" but the value is "b"')
    expect(f.operations).toHaveLength(3)
    expect(result.explanation).toContain('process 2 read -> "a" (invoked t=4, ok t=5): reads "a" but the value is "b"')
  })

  it('lost acknowledged write', () => {
    const s = new Script()
    s.ok(s.write(1, 'x', 'a'))
    s.ok(s.read(2, 'x'), null)
    const f = notLinearizable(s).failures[0]!
    expect(f.unplaced[0]!.reason).toBe('reads absent but the value is "a"')
  })

  it('a lost write among concurrent ones', () => {
    const s = new Script()
    const wa = s.write(1, 'x', 'a')
    const wb = s.write(2, 'x', 'b')
    s.ok(wa)
    s.ok(wb)
    s.ok(s.read(3, 'x'), 'b')
    s.ok(s.read(3, 'x'), 'a') // a cannot come back once overwritten by the later-read b
    notLinearizable(s)
  })

  it('two readers see concurrent writes in opposite orders', () => {
    const s = new Script()
    const wa = s.write(1, 'x', 'a')
    const wb = s.write(2, 'x', 'b')
    const r3 = s.read(3, 'x')
    const r4 = s.read(4, 'x')
    s.ok(r3, 'a')
    s.ok(r4, 'b')
    const r3b = s.read(3, 'x')
    const r4b = s.read(4, 'x')
    s.ok(r3b, 'b')
    s.ok(r4b, 'a')
    s.ok(wa)
    s.ok(wb)
    const result = notLinearizable(s)
    expect(result.failures[0]!.operations).toHaveLength(6)
  })

  it('a failed write that a read observes', () => {
    const s = new Script()
    s.fail(s.write(1, 'x', 'a'))
    s.ok(s.read(2, 'x'), 'a')
    notLinearizable(s)
  })

  it('a read from the future', () => {
    const s = new Script()
    s.ok(s.read(2, 'x'), 'a')
    s.ok(s.write(1, 'x', 'a'))
    notLinearizable(s)
  })

  it('reports every failing key, the first one in detail', () => {
    const s = new Script()
    s.ok(s.write(1, 'good', 'a'))
    s.ok(s.read(1, 'good'), 'a')
    s.ok(s.write(1, 'bad1', 'a'))
    s.ok(s.read(1, 'bad1'), 'b')
    s.ok(s.read(1, 'bad2'), 'c')
    const result = notLinearizable(s, 'bad1')
    expect(result.failures.map((f) => f.key)).toEqual(['bad1', 'bad2'])
    expect(result.keysChecked).toBe(3)
    expect(result.explanation).toMatch(/^not linearizable: key "bad1" and 1 other key \("bad2"\)/)
  })
})

describe('operations of unknown outcome (info)', () => {
  it('an info write that applies late: a later read sees it', () => {
    const s = new Script()
    s.info(s.write(1, 'x', 'a'))
    s.ok(s.read(2, 'x'), null)
    s.ok(s.read(2, 'x'), null)
    s.ok(s.read(2, 'x'), 'a')
    s.ok(s.read(2, 'x'), 'a')
    linearizable(s)
  })

  it('an info write that is never seen', () => {
    const s = new Script()
    s.info(s.write(1, 'x', 'a'))
    s.ok(s.read(2, 'x'), null)
    s.ok(s.write(2, 'x', 'b'))
    s.ok(s.read(2, 'x'), 'b')
    linearizable(s)
  })

  it('an info write takes effect at most once', () => {
    const s = new Script()
    s.info(s.write(1, 'x', 'a'))
    s.ok(s.read(2, 'x'), 'a')
    s.ok(s.write(2, 'x', 'b'))
    s.ok(s.read(2, 'x'), 'a')
    notLinearizable(s)
  })

  it('an info write cannot take effect before it was invoked', () => {
    const s = new Script()
    s.ok(s.read(2, 'x'), 'a')
    s.info(s.write(1, 'x', 'a'))
    notLinearizable(s)
  })

  it('an invoke that never completes is treated as info', () => {
    const s = new Script()
    s.write(1, 'x', 'a')
    s.ok(s.read(2, 'x'), null)
    s.ok(s.read(2, 'x'), 'a')
    linearizable(s)
  })

  it('an info read constrains nothing', () => {
    const s = new Script()
    s.ok(s.write(1, 'x', 'a'))
    s.info(s.read(2, 'x'))
    s.ok(s.read(2, 'x'), 'a')
    expect(s.check()).toMatchObject({ verdict: 'linearizable', opsChecked: 2, opsTotal: 3 })
  })
})

describe('cas and delete semantics', () => {
  it('cas applies only when the expected value is current', () => {
    const s = new Script()
    s.ok(s.write(1, 'x', 'a'))
    s.ok(s.cas(1, 'x', 'b', 'c'))
    const f = notLinearizable(s).failures[0]!
    expect(f.unplaced[0]!.reason).toBe('expects "b" but the value is "a"')
  })

  it('cas with expected null means "only if absent"', () => {
    const ok = new Script()
    ok.ok(ok.cas(1, 'x', null, 'a'))
    ok.ok(ok.read(1, 'x'), 'a')
    linearizable(ok)
    const bad = new Script()
    bad.ok(bad.write(1, 'x', 'z'))
    bad.ok(bad.cas(1, 'x', null, 'a'))
    notLinearizable(bad)
  })

  it('a failed cas did not apply', () => {
    const s = new Script()
    s.ok(s.write(1, 'x', 'a'))
    s.fail(s.cas(2, 'x', 'a', 'b'))
    s.ok(s.read(1, 'x'), 'b')
    notLinearizable(s)
    const t = new Script()
    t.ok(t.write(1, 'x', 'a'))
    t.fail(t.cas(2, 'x', 'z', 'b'))
    t.ok(t.read(1, 'x'), 'a')
    linearizable(t)
  })

  it('two concurrent cas from the same value: only one can succeed', () => {
    const s = new Script()
    s.ok(s.write(1, 'x', 'a'))
    const c1 = s.cas(2, 'x', 'a', 'b')
    const c2 = s.cas(3, 'x', 'a', 'c')
    s.ok(c1)
    s.ok(c2)
    notLinearizable(s)
  })

  it('delete makes the key absent', () => {
    const s = new Script()
    s.ok(s.write(1, 'x', 'a'))
    s.ok(s.del(1, 'x'))
    s.ok(s.read(2, 'x'), null)
    linearizable(s)
    const bad = new Script()
    bad.ok(bad.write(1, 'x', 'a'))
    bad.ok(bad.del(1, 'x'))
    bad.ok(bad.read(2, 'x'), 'a')
    notLinearizable(bad)
  })

  it('the empty string is a value, distinct from absent', () => {
    const s = new Script()
    s.ok(s.write(1, 'x', ''))
    s.ok(s.read(2, 'x'), null)
    notLinearizable(s)
  })
})

describe('bad input and budgets', () => {
  it('rejects badly paired events', () => {
    const events: HistoryEvent[] = [{ process: 1, type: 'ok', f: 'write', key: 'x', value: 'a', time: 0 }]
    expect(() => checkHistory(events)).toThrow(CodecError)
  })

  /** 20 concurrent writes and a read of a value none wrote: the search must consider every subset of the writes. */
  function pathological(writes = 20): HistoryEvent[] {
    const s = new Script()
    const ws = Array.from({ length: writes }, (_, i) => s.write(i, 'x', `v${i}`))
    const r = s.read(writes, 'x')
    for (const w of ws) s.ok(w)
    s.ok(r, 'never written')
    s.ok(s.write(0, 'easy', 'a'))
    return [...s.recorder.events]
  }

  it('returns unknown with a reason when the step budget runs out', () => {
    const result = checkHistory(pathological(), { maxSteps: 50_000 })
    expect(result.verdict).toBe('unknown')
    expect(result.ok).toBe(false)
    expect(result.unknownReason).toMatch(/checking key "x" exceeded the step budget of 50000 search steps; 0 of 2 keys were checked/)
    expect(result.explanation).toBe(`unknown: ${result.unknownReason}`)
  })

  it('returns unknown when the time limit runs out', () => {
    let clock = 0
    const result = checkHistory(pathological(), { timeLimitMs: 1000, now: () => (clock += 100) })
    expect(result.verdict).toBe('unknown')
    expect(result.unknownReason).toMatch(/exceeded the time limit of 1000 ms/)
  })

  it('stops on the real clock too', () => {
    const started = performance.now()
    const result = checkHistory(pathological(24), { timeLimitMs: 200 })
    expect(result.verdict).toBe('unknown')
    expect(performance.now() - started).toBeLessThan(10_000) // generous: only guards against hanging
  })

  it('a definite failure on one key stands even if another key runs out of budget', () => {
    const s = new Script()
    s.ok(s.write(1, 'bad', 'a'))
    s.ok(s.read(1, 'bad'), 'b')
    const events = [...s.recorder.events]
    const hard = pathological().map((e) => ({ ...e, time: e.time + 100 }))
    const result = checkHistory([...events, ...hard], { maxSteps: 50_000 })
    expect(result.verdict).toBe('not-linearizable')
    expect(result.failures[0]!.key).toBe('bad')
  })
})

// ---------------------------------------------------------------------------------------------------------------
// Randomised: histories generated by a correct (atomic) register with random concurrency must be linearizable.

interface GenerateOptions {
  processes: number
  keys: number
  operations: number
  infoRate: number
  failRate: number
}

interface InFlight {
  op: PendingOperation
  f: OpFunction
  key: string
  value: EventValue
  applied: boolean
  result: 'ok' | 'fail'
  read: string | null
}

/**
 * Every operation takes effect atomically at a random step strictly between its invoke and completion (or, for an
 * operation that timed out, possibly later: a "zombie" request still in the system), so the history is
 * linearizable by construction. Written values are unique.
 */
function generateHistory(rng: Rng, o: GenerateOptions): HistoryEvent[] {
  const recorder = new HistoryRecorder()
  const store = new Map<string, string>()
  const written: string[] = []
  const inFlight = new Map<number, InFlight>()
  const zombies: { f: OpFunction; key: string; value: EventValue }[] = []
  let time = 0
  let invoked = 0
  let unique = 0

  const apply = (f: OpFunction, key: string, value: EventValue): { result: 'ok' | 'fail'; read: string | null } => {
    const current = store.get(key) ?? null
    switch (f) {
      case 'read': return { result: 'ok', read: current }
      case 'write': store.set(key, value as string); return { result: 'ok', read: null }
      case 'delete': store.delete(key); return { result: 'ok', read: null }
      case 'cas': {
        const [expected, next] = value as CasValue
        if (expected !== current) return { result: 'fail', read: null }
        store.set(key, next!)
        return { result: 'ok', read: null }
      }
    }
  }

  while (invoked < o.operations || inFlight.size > 0) {
    time += rng.int(3)
    if (zombies.length > 0 && rng.chance(0.05)) {
      const z = zombies.splice(rng.int(zombies.length), 1)[0]!
      if (rng.chance(0.5)) apply(z.f, z.key, z.value)
      continue
    }
    const p = rng.int(o.processes)
    const flight = inFlight.get(p)
    if (flight === undefined) {
      if (invoked >= o.operations) continue
      invoked++
      const key = `k${rng.int(o.keys)}`
      const roll = rng.int(10)
      const f: OpFunction = roll < 4 ? 'read' : roll < 7 ? 'write' : roll < 9 ? 'cas' : 'delete'
      let value: EventValue = null
      if (f === 'write') value = `v${unique++}`
      if (f === 'cas') {
        const current = store.get(key) ?? null
        const expected = rng.chance(0.6) ? current : rng.chance(0.3) || written.length === 0 ? null : written[rng.int(written.length)]!
        value = [expected, `v${unique++}`]
      }
      if (f === 'write') written.push(value as string)
      if (f === 'cas') written.push((value as CasValue)[1]!)
      inFlight.set(p, { op: recorder.invoke(p, f, key, value, time), f, key, value, applied: false, result: 'ok', read: null })
      continue
    }
    if (!flight.applied) {
      if (rng.chance(o.failRate)) {
        flight.op.fail(time)
        inFlight.delete(p)
      } else if (rng.chance(o.infoRate)) {
        flight.op.info(time)
        if (flight.f !== 'read') zombies.push({ f: flight.f, key: flight.key, value: flight.value })
        inFlight.delete(p)
      } else {
        Object.assign(flight, apply(flight.f, flight.key, flight.value), { applied: true })
      }
      continue
    }
    if (rng.chance(o.infoRate)) flight.op.info(time)
    else if (flight.result === 'fail') flight.op.fail(time)
    else flight.op.ok(time, flight.f === 'read' ? flight.read : undefined)
    inFlight.delete(p)
  }
  return [...recorder.events]
}

/** Why `order` (indexes into `ops`) is not a legal linearization (real-time order, every step legal), or undefined. */
function linearizationProblem(ops: readonly HistoryOperation[], order: readonly number[]): string | undefined {
  const position = new Map(order.map((op, at) => [op, at]))
  for (const [i, op] of ops.entries()) if (op.status === 'ok' && !position.has(i)) return `ok operation ${i} left out`
  let state: string | null = null
  for (const [at, i] of order.entries()) {
    const op = ops[i]!
    const next = kvKeyModel.step(state, op)
    if (next === undefined) return `step ${at} (operation ${i}) is illegal in state ${state}`
    state = next
    for (const [j, other] of ops.entries()) {
      if (other.status === 'ok' && other.completeIndex < op.invokeIndex && !(position.get(j)! < at)) {
        return `operation ${j} completed before operation ${i} was invoked but is not placed before it`
      }
    }
  }
  return undefined
}

describe('randomised histories from an atomic register', () => {
  const profiles: [string, GenerateOptions][] = [
    ['one key, high concurrency', { processes: 6, keys: 1, operations: 300, infoRate: 0.05, failRate: 0.05 }],
    ['few keys', { processes: 5, keys: 3, operations: 400, infoRate: 0.1, failRate: 0.05 }],
    ['many keys', { processes: 10, keys: 40, operations: 2000, infoRate: 0.05, failRate: 0.02 }],
  ]
  for (const [name, options] of profiles) {
    it(`are judged linearizable (${name})`, () => {
      const test = `are judged linearizable (${name})`
      for (let i = 0; i < 15; i++) {
        const seed = `${BASE_SEED}/${name}/${i}`
        const events = generateHistory(createRng(seed), options)
        const result = checkHistory(events)
        expect(result.verdict, `${result.explanation}\n${replay(test, seed)}`).toBe('linearizable')
        // And the order the search found is a real linearization of each key.
        const byKey = new Map<string, HistoryOperation[]>()
        for (const op of pairOperations(events)) {
          if (op.status === 'fail' || (op.status === 'info' && op.f === 'read')) continue
          byKey.set(op.key, [...(byKey.get(op.key) ?? []), op])
        }
        for (const [key, ops] of byKey) {
          const found = searchLinearization(ops, kvKeyModel)
          expect(found.kind, replay(test, seed)).toBe('linearizable')
          if (found.kind === 'linearizable') {
            expect(linearizationProblem(ops, found.order), `key ${key}, ${replay(test, seed)}`).toBeUndefined()
          }
        }
      }
    })
  }

  it('corrupted variants are judged not linearizable, naming the corrupted key', () => {
    const test = 'corrupted variants are judged not linearizable'
    let stale = 0
    for (let i = 0; i < 40; i++) {
      const seed = `${BASE_SEED}/corrupt/${i}`
      const rng = createRng(seed)
      const events = generateHistory(rng, { processes: 5, keys: 3, operations: 200, infoRate: 0.05, failRate: 0.05 })
      const ops = pairOperations(events)
      const okReads = ops.filter((op) => op.f === 'read' && op.status === 'ok')
      const okWrites = ops.filter((op) => op.f === 'write' && op.status === 'ok')
      const mutants: [string, string, HistoryEvent[]][] = []

      // 1. a read returns a value nobody wrote
      const r = okReads[rng.int(okReads.length)]!
      mutants.push(['phantom read', r.key, events.map((e, at) => (at === r.completeIndex ? { ...e, value: 'phantom' } : e))])

      // 2. an acknowledged write that some read observed is recorded as failed instead
      const observed = okWrites.filter((w) => okReads.some((rd) => rd.key === w.key && rd.output === w.input))
      if (observed.length > 0) {
        const w = observed[rng.int(observed.length)]!
        mutants.push(['failed write observed', w.key, events.map((e, at) => (at === w.completeIndex ? { ...e, type: 'fail' as const } : e))])
      }

      // 3. a stale read: W1 completes before W2 starts, W2 completes before the read starts, the read returns W1's value
      for (const rd of okReads) {
        const w2 = okWrites.find((w) => w.key === rd.key && w.completeIndex < rd.invokeIndex
          && okWrites.some((w1) => w1.key === rd.key && w1.completeIndex < w.invokeIndex && w1.input !== rd.output))
        if (w2 === undefined) continue
        const w1 = okWrites.find((w) => w.key === rd.key && w.completeIndex < w2.invokeIndex && w.input !== rd.output)!
        mutants.push(['stale read', rd.key, events.map((e, at) => (at === rd.completeIndex ? { ...e, value: w1.input } : e))])
        stale++
        break
      }

      expect(checkHistory(events).verdict, replay(test, seed)).toBe('linearizable')
      for (const [kind, key, mutant] of mutants) {
        const result = checkHistory(mutant)
        expect(result.verdict, `${kind}: ${replay(test, seed)}`).toBe('not-linearizable')
        expect(result.failures.map((f) => f.key), `${kind}: ${replay(test, seed)}`).toEqual([key])
      }
    }
    expect(stale).toBeGreaterThan(10) // the stale-read mutation is actually exercised
  })

  it('checks tens of thousands of operations over many keys', () => {
    const events = generateHistory(createRng(`${BASE_SEED}/large`), { processes: 16, keys: 500, operations: 25_000, infoRate: 0.02, failRate: 0.02 })
    const result = checkHistory(events, { timeLimitMs: 30_000 })
    expect(result.verdict, replay('checks tens of thousands', `${BASE_SEED}/large`)).toBe('linearizable')
    expect(result.opsTotal).toBe(25_000)
    expect(result.keysChecked).toBe(500)
  })

  it('checks a long single-key history', () => {
    const events = generateHistory(createRng(`${BASE_SEED}/long`), { processes: 8, keys: 1, operations: 5000, infoRate: 0.02, failRate: 0.02 })
    expect(checkHistory(events, { timeLimitMs: 30_000 }).verdict).toBe('linearizable')
  })
})

// ---------------------------------------------------------------------------------------------------------------
// Cross-check against a brute-force checker: try every order of every subset of operations (tiny histories only).

/** Independent of the real checker: its own model, no partitioning, no memoisation. */
function bruteForceLinearizable(operations: readonly HistoryOperation[]): boolean {
  const ops = operations.filter((op) => op.status === 'ok' || (op.status === 'info' && op.f !== 'read'))
  const mustPlace = ops.reduce((mask, op, i) => (op.status === 'ok' ? mask | (1 << i) : mask), 0)
  const step = (store: ReadonlyMap<string, string | null>, op: HistoryOperation): Map<string, string | null> | undefined => {
    const current = store.get(op.key) ?? null
    const next = new Map(store)
    if (op.f === 'read') return op.output === current ? next : undefined
    if (op.f === 'write') next.set(op.key, op.input as string)
    if (op.f === 'delete') next.set(op.key, null)
    if (op.f === 'cas') {
      const [expected, value] = op.input as CasValue
      if (expected !== current) return undefined
      next.set(op.key, value)
    }
    return next
  }
  const search = (placed: number, store: Map<string, string | null>): boolean => {
    if ((placed & mustPlace) === mustPlace) return true
    for (let i = 0; i < ops.length; i++) {
      if (placed & (1 << i)) continue
      // Everything that completed (ok) before i was invoked must already be placed.
      const blocked = ops.some((o, j) => !(placed & (1 << j)) && o.status === 'ok' && o.completeIndex < ops[i]!.invokeIndex)
      if (blocked) continue
      const next = step(store, ops[i]!)
      if (next !== undefined && search(placed | (1 << i), next)) return true
    }
    return false
  }
  return search(0, new Map())
}

/** Up to 7 operations by distinct processes, with random overlaps, outcomes and values from a tiny domain. */
function randomSmallHistory(rng: Rng): HistoryEvent[] {
  const n = 1 + rng.int(7)
  const keys = rng.chance(0.5) ? ['x'] : ['x', 'y']
  const values = ['a', 'b']
  const pick = <T>(list: readonly T[]): T => list[rng.int(list.length)]!
  const optional = (): string | null => (rng.chance(0.3) ? null : pick(values))
  const ops = Array.from({ length: n }, () => {
    const roll = rng.int(10)
    const f: OpFunction = roll < 4 ? 'read' : roll < 7 ? 'write' : roll < 9 ? 'cas' : 'delete'
    const value: EventValue = f === 'write' ? pick(values) : f === 'cas' ? [optional(), pick(values)] : null
    const outcome = rng.int(10)
    const type: 'ok' | 'fail' | 'info' | 'pending' = outcome < 7 ? 'ok' : outcome < 8 ? 'fail' : outcome < 9 ? 'info' : 'pending'
    return { f, key: pick(keys), value, type, read: optional() }
  })
  // Random interleaving of the 2n events, each invoke before its completion.
  const remaining = ops.map(() => 2)
  const events: HistoryEvent[] = []
  for (let time = 0; remaining.some((r) => r > 0); time++) {
    const live = remaining.flatMap((r, i) => (r > 0 ? [i] : []))
    const i = pick(live)
    const op = ops[i]!
    if (remaining[i] === 2) {
      events.push({ process: i, type: 'invoke', f: op.f, key: op.key, value: op.value, time })
    } else if (op.type !== 'pending') {
      const value = op.f === 'read' ? (op.type === 'ok' ? op.read : null) : op.value
      events.push({ process: i, type: op.type, f: op.f, key: op.key, value, time })
    }
    remaining[i]!--
  }
  return events
}

describe('cross-check with a brute-force checker', () => {
  it('agrees on many random small histories', () => {
    const test = 'agrees on many random small histories'
    const verdicts = { linearizable: 0, 'not-linearizable': 0 }
    for (let i = 0; i < 3000; i++) {
      const seed = `${BASE_SEED}/brute/${i}`
      const events = randomSmallHistory(createRng(seed))
      const ops = pairOperations(events)
      const expected = bruteForceLinearizable(ops) ? 'linearizable' : 'not-linearizable'
      const result = checkOperations(ops)
      expect(result.verdict, `${JSON.stringify(events)}\n${result.explanation}\n${replay(test, seed)}`).toBe(expected)
      // The exact-memo search (used to confirm violations) agrees too.
      const keys = new Set(ops.map((op) => op.key))
      const exactVerdict = [...keys].every((key) => {
        const partition = ops.filter((op) => op.key === key && (op.status === 'ok' || (op.status === 'info' && op.f !== 'read')))
        return searchLinearization(partition, kvKeyModel, undefined, { exactMemo: true }).kind === 'linearizable'
      }) ? 'linearizable' : 'not-linearizable'
      expect(exactVerdict, `exact memo: ${JSON.stringify(events)}\n${replay(test, seed)}`).toBe(expected)
      verdicts[expected]++
    }
    // Both outcomes are common, so the agreement means something.
    expect(verdicts.linearizable).toBeGreaterThan(600)
    expect(verdicts['not-linearizable']).toBeGreaterThan(600)
  })
})

describe('bin/check.ts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'check-'))
  let files = 0
  const run = (text: string): { status: number | null; stdout: string; stderr: string } => {
    const file = join(dir, `history-${files++}.jsonl`)
    writeFileSync(file, text)
    const r = spawnSync(process.execPath, ['bin/check.ts', file], { encoding: 'utf8' })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }

  it('exits 0 for a linearizable history, 1 for a violation (naming the key), 2 for bad input', () => {
    const good = new Script()
    good.ok(good.write(1, 'x', 'a'))
    good.ok(good.read(2, 'x'), 'a')
    const ok = run(toJsonLines(good.recorder.events))
    expect(ok.status, ok.stderr).toBe(0)
    expect(ok.stdout).toMatch(/^linearizable: checked 2 operations over 1 of 1 keys/)

    const bad = new Script()
    bad.ok(bad.write(1, 'x', 'a'))
    bad.ok(bad.read(2, 'x'), null)
    const violation = run(toJsonLines(bad.recorder.events))
    expect(violation.status, violation.stderr).toBe(1)
    expect(violation.stdout).toMatch(/^not linearizable: key "x"/)

    const malformed = run('{"process":1,"type":"invoke","f":"write","key":"x","value":"a","time":0}\n{oops\n')
    expect(malformed.status).toBe(2)
    expect(malformed.stderr).toMatch(/line 2: not valid JSON/)
  })
})

describe('structured failure: the value a stale operation needed and who could have produced it', () => {
  const ev = (process: ProcessId, type: HistoryEvent['type'], f: OpFunction, value: EventValue, time: number): HistoryEvent =>
    ({ process, type, f, key: 'x', value, time })

  it('a stale read: needs the overwritten value, produced by the first write', () => {
    const r = checkHistory([
      ev(1, 'invoke', 'write', 'a', 0), ev(1, 'ok', 'write', 'a', 1),
      ev(1, 'invoke', 'write', 'b', 2), ev(1, 'ok', 'write', 'b', 3),
      ev(2, 'invoke', 'read', null, 4), ev(2, 'ok', 'read', 'a', 5),
    ])
    const needed = r.failures[0]!.needed!
    expect(needed.operation.f).toBe('read')
    expect(needed.value).toBe('a')
    expect(needed.producers.map(p => p.input)).toEqual(['a'])
  })

  it('a cas expecting a value nobody wrote has no producers; an impossible absent read names the deletes', () => {
    const cas = checkHistory([ev(1, 'invoke', 'cas', ['z', 'q'], 0), ev(1, 'ok', 'cas', ['z', 'q'], 1)])
    expect(cas.failures[0]!.needed).toMatchObject({ value: 'z', producers: [] })
    const absent = checkHistory([
      ev(1, 'invoke', 'write', 'a', 0), ev(1, 'ok', 'write', 'a', 1),
      ev(3, 'invoke', 'delete', null, 1.5), ev(3, 'fail', 'delete', null, 1.6),
      ev(2, 'invoke', 'read', null, 2), ev(2, 'ok', 'read', null, 3),
    ])
    // The failed delete never took effect, so nothing could have produced "absent" after the write.
    expect(absent.failures[0]!.needed).toMatchObject({ value: null, producers: [] })
  })
})
