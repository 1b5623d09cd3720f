import { describe, expect, it } from 'vitest'
import { CodecError } from '../../core/errors.ts'
import { createKvStore, decodeKvCommand, decodeKvResult, encodeKvCommand, KvStore, type KvCommand, type KvResult } from '../../core/kv.ts'
import { createRng } from '../../core/random.ts'
import { SessionStateMachine } from '../../core/sessions.ts'
import type { ClientRequest } from '../../core/types.ts'

function run(kv: KvStore, c: KvCommand): KvResult {
  return decodeKvResult(kv.apply(encodeKvCommand(c)))
}

describe('key-value store', () => {
  it('get, put, delete and compare-and-set behave as specified', () => {
    const kv = new KvStore()
    expect(run(kv, { type: 'get', key: 'a' })).toEqual({ type: 'value', value: null })
    expect(run(kv, { type: 'put', key: 'a', value: '1' })).toEqual({ type: 'ok' })
    expect(run(kv, { type: 'get', key: 'a' })).toEqual({ type: 'value', value: '1' })
    expect(run(kv, { type: 'cas', key: 'a', expected: '2', value: '3' })).toEqual({ type: 'cas', ok: false, current: '1' })
    expect(run(kv, { type: 'cas', key: 'a', expected: '1', value: '3' })).toEqual({ type: 'cas', ok: true, current: '3' })
    expect(run(kv, { type: 'cas', key: 'b', expected: null, value: 'x' })).toEqual({ type: 'cas', ok: true, current: 'x' })
    expect(run(kv, { type: 'cas', key: 'b', expected: null, value: 'y' })).toEqual({ type: 'cas', ok: false, current: 'x' })
    expect(run(kv, { type: 'delete', key: 'a' })).toEqual({ type: 'deleted', existed: true })
    expect(run(kv, { type: 'delete', key: 'a' })).toEqual({ type: 'deleted', existed: false })
    expect(run(kv, { type: 'get', key: 'a' })).toEqual({ type: 'value', value: null })
  })

  it('refuses mutations through query and answers malformed commands with an error result', () => {
    const kv = new KvStore()
    expect(decodeKvResult(kv.query(encodeKvCommand({ type: 'put', key: 'a', value: '1' }))).type).toBe('error')
    expect(kv.get('a')).toBeUndefined()
    const bad = decodeKvResult(kv.apply(new Uint8Array([9, 1, 65])))
    expect(bad).toEqual({ type: 'error', message: expect.stringContaining('unknown operation code 9') })
  })

  it('rejects truncated and trailing bytes in commands', () => {
    const good = encodeKvCommand({ type: 'put', key: 'key', value: 'value' })
    expect(() => decodeKvCommand(good.subarray(0, good.length - 1))).toThrow(CodecError)
    expect(() => decodeKvCommand(new Uint8Array([...good, 0]))).toThrow(/trailing/)
  })

  it('produces identical snapshots for identical states regardless of insertion order, and restores them', () => {
    const a = new KvStore()
    const b = new KvStore()
    run(a, { type: 'put', key: 'x', value: '1' }); run(a, { type: 'put', key: 'y', value: '2' })
    run(b, { type: 'put', key: 'y', value: '2' }); run(b, { type: 'put', key: 'x', value: '1' })
    expect(a.snapshot()).toEqual(b.snapshot())
    const c = new KvStore()
    c.restore(a.snapshot())
    expect(c.get('x')).toBe('1')
    expect(c.get('y')).toBe('2')
    expect(() => c.restore(new Uint8Array([5]))).toThrow(CodecError)
  })
})

describe('exactly-once sessions', () => {
  const req = (clientId: number, seq: number, c: KvCommand): ClientRequest =>
    ({ clientId, seq, readOnly: c.type === 'get', op: encodeKvCommand(c), signature: new Uint8Array(0) })

  it('applies a retried command once and answers it with the first result', () => {
    const sm = new SessionStateMachine(new KvStore())
    const cas = req(1, 1, { type: 'cas', key: 'a', expected: null, value: 'v' })
    const first = sm.apply(cas)
    const again = sm.apply(cas)
    expect(again.duplicate).toBe(true)
    expect(again.result).toEqual(first.result)
    expect(decodeKvResult(again.result)).toEqual({ type: 'cas', ok: true, current: 'v' })
  })

  it('does not re-apply an older command after a newer one', () => {
    const sm = new SessionStateMachine(new KvStore())
    sm.apply(req(1, 1, { type: 'put', key: 'a', value: 'old' }))
    sm.apply(req(1, 2, { type: 'put', key: 'a', value: 'new' }))
    const late = sm.apply(req(1, 1, { type: 'put', key: 'a', value: 'old' }))
    expect(late.duplicate).toBe(true)
    expect(decodeKvResult(sm.query(req(2, 1, { type: 'get', key: 'a' })))).toEqual({ type: 'value', value: 'new' })
  })

  it('carries the session table in snapshots', () => {
    const sm = new SessionStateMachine(new KvStore())
    sm.apply(req(7, 3, { type: 'put', key: 'a', value: '1' }))
    const copy = new SessionStateMachine(new KvStore())
    copy.restore(sm.snapshot())
    expect(copy.lastApplied(7)).toBe(3)
    expect(copy.apply(req(7, 3, { type: 'put', key: 'a', value: '1' })).duplicate).toBe(true)
    expect(copy.snapshot()).toEqual(sm.snapshot())
  })
})

describe('kv snapshots with cached key order', () => {
  it('equal a fresh store\'s snapshot of the same contents after any mix of puts, deletes, cas and restores', () => {
    const rng = createRng('kv-snapshot-cache')
    const store = createKvStore()
    const model = new Map<string, string>()
    for (let step = 0; step < 600; step++) {
      const key = `k${rng.int(12)}`
      const roll = rng.int(10)
      if (roll < 5) { store.apply(encodeKvCommand({ type: 'put', key, value: `v${step}` })); model.set(key, `v${step}`) }
      else if (roll < 7) { store.apply(encodeKvCommand({ type: 'delete', key })); model.delete(key) }
      else if (roll < 9) {
        const expected = model.get(key) ?? null
        store.apply(encodeKvCommand({ type: 'cas', key, expected, value: `c${step}` }))
        model.set(key, `c${step}`)
      } else {
        const other = createKvStore()
        other.restore(store.snapshot())
        store.restore(other.snapshot())
      }
      const fresh = createKvStore()
      for (const [k, v] of [...model].reverse()) fresh.apply(encodeKvCommand({ type: 'put', key: k, value: v }))
      expect(Buffer.from(store.snapshot()).toString('hex'), `step ${step}`).toBe(Buffer.from(fresh.snapshot()).toString('hex'))
    }
  })
})
