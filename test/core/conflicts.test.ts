/**
 * Which commands interfere: the KV store names the key a command touches, and every command also carries its session,
 * so partial-order protocols order a session's commands (the exactly-once table needs them in order) and commands on
 * one key, and nothing else.
 */
import { fc, test } from '@fast-check/vitest'
import { describe, expect, it } from 'vitest'
import { conflictKeysFunction, conflictKeysOf, EVERYTHING, interferes, sessionConflictKey } from '../../core/conflicts.ts'
import { createKvStore, encodeKvCommand, type KvCommand } from '../../core/kv.ts'
import type { ClientRequest } from '../../core/types.ts'

const command: fc.Arbitrary<KvCommand> = fc.oneof(
  fc.record({ type: fc.constant('get' as const), key: fc.string() }),
  fc.record({ type: fc.constant('put' as const), key: fc.string(), value: fc.string() }),
  fc.record({ type: fc.constant('delete' as const), key: fc.string() }),
  fc.record({ type: fc.constant('cas' as const), key: fc.string(), expected: fc.option(fc.string()), value: fc.string() }),
)

const request = (clientId: number, c: KvCommand): ClientRequest =>
  ({ clientId, seq: 1, readOnly: c.type === 'get', op: encodeKvCommand(c), signature: new Uint8Array(0) })

describe('conflict keys', () => {
  test.prop([command])('the KV store names exactly the key each command touches', c => {
    expect(createKvStore().keysOf(encodeKvCommand(c))).toEqual([c.key])
  })

  it('a malformed command touches no key (it changes nothing) but still carries its session', () => {
    const keys = conflictKeysFunction(createKvStore())
    expect(createKvStore().keysOf(new Uint8Array([99, 1, 2]))).toEqual([])
    expect(keys({ clientId: 7, seq: 1, readOnly: false, op: new Uint8Array([99]), signature: new Uint8Array(0) })).toEqual([sessionConflictKey(7)])
  })

  test.prop([command, command, fc.integer({ min: 1000, max: 1010 }), fc.integer({ min: 1000, max: 1010 })])(
    'two commands interfere exactly when they share a key or a session', (a, b, ca, cb) => {
      const keys = conflictKeysFunction(createKvStore())
      expect(interferes(keys(request(ca, a)), keys(request(cb, b)))).toBe(a.key === b.key || ca === cb)
    })

  it('user keys cannot collide with session keys', () => {
    const keys = conflictKeysFunction(createKvStore())
    const put = keys(request(1000, { type: 'put', key: sessionConflictKey(2000), value: 'x' }))
    expect(interferes(put, keys(request(2000, { type: 'get', key: 'other' })))).toBe(false)
  })

  it('without keysOf every command interferes with every other', () => {
    const a = conflictKeysOf(undefined, request(1000, { type: 'put', key: 'a', value: '1' }))
    const b = conflictKeysOf(undefined, request(1001, { type: 'put', key: 'b', value: '1' }))
    expect(a).toContain(EVERYTHING)
    expect(interferes(a, b)).toBe(true)
  })
})
