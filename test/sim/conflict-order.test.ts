/**
 * The partial-order agreement check: it must flag two replicas that execute interfering commands in different orders,
 * and accept any interleaving of commands that do not interfere, across snapshot installs and restarts.
 */
import { describe, expect, it } from 'vitest'
import { conflictKeysFunction } from '../../core/conflicts.ts'
import { createKvStore, encodeKvCommand } from '../../core/kv.ts'
import type { ClientRequest } from '../../core/types.ts'
import { ConflictOrderCheck } from '../../net/sim/conflict-order.ts'

const put = (clientId: number, seq: number, key: string): ClientRequest =>
  ({ clientId, seq, readOnly: false, op: encodeKvCommand({ type: 'put', key, value: `${clientId}.${seq}` }), signature: new Uint8Array(0) })

const newCheck = () => new ConflictOrderCheck(conflictKeysFunction(createKvStore()))

describe('conflict order check', () => {
  const a = put(1000, 1, 'x')
  const b = put(1001, 1, 'x')
  const c = put(1002, 1, 'y')

  it('accepts non-interfering commands in any order', () => {
    const check = newCheck()
    expect(check.executed(0, [a, c])).toBeNull()
    expect(check.executed(1, [c, a])).toBeNull()
  })

  it('flags interfering commands executed in different orders, naming the key', () => {
    const check = newCheck()
    expect(check.executed(0, [a, b])).toBeNull()
    expect(check.executed(1, [b])).toMatch(/conflict key k:x/)
  })

  it('flags a session executed out of order even on different keys', () => {
    const check = newCheck()
    const first = put(1000, 1, 'x')
    const second = put(1000, 2, 'y')
    expect(check.executed(0, [first, second])).toBeNull()
    expect(check.executed(1, [second])).toMatch(/conflict key s:1000/)
  })

  it('lets a replica skip ahead after installing a snapshot, then holds it to the order again', () => {
    const check = newCheck()
    const d = put(1003, 1, 'x')
    expect(check.executed(0, [a, b, d])).toBeNull()
    check.installedSnapshot(1)
    expect(check.executed(1, [d])).toBeNull()
    const e = put(1004, 1, 'x')
    const f = put(1005, 1, 'x')
    expect(check.executed(0, [e])).toBeNull()
    expect(check.executed(1, [f])).toMatch(/interfering commands in different orders/)
  })

  it('lets a restarted replica execute again what followed its snapshot', () => {
    const check = newCheck()
    expect(check.executed(0, [a, b])).toBeNull()
    check.restarted(0)
    expect(check.executed(0, [b])).toBeNull()
    expect(check.executed(1, [a, b])).toBeNull()
  })

  it('a command executed twice on a key (a retry elsewhere) does not confuse a restarted replica, and a misorder is still caught', () => {
    const check = newCheck()
    const retry = put(1000, 1, 'x') // the same request as `a`, committed again in another instance
    const d = put(1003, 1, 'x')
    for (const replica of [0, 1]) {
      expect(check.executed(replica, [a], 1)).toBeNull()
      expect(check.executed(replica, [b], 2)).toBeNull()
      expect(check.executed(replica, [retry], 3)).toBeNull()
      expect(check.executed(replica, [d], 4)).toBeNull()
    }
    // Replica 0 restarts from a snapshot taken after index 2: it executes the retry and `d` again.
    check.restarted(0)
    expect(check.executed(0, [retry], 3)).toBeNull()
    expect(check.executed(0, [d], 4)).toBeNull()
    // Replica 1 restarts from the same point but then executes something else where `d` was.
    check.restarted(1)
    expect(check.executed(1, [retry], 3)).toBeNull()
    expect(check.executed(1, [put(1004, 1, 'x')], 4)).toMatch(/interfering commands in different orders/)
  })
})
