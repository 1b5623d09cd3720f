/** The memory storage's paged log records behave as a plain map from index to bytes, ranges included. */
import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import { LogRecords } from '../../core/storage/log-records.ts'

type Op =
  | { readonly kind: 'set'; readonly index: number; readonly byte: number }
  | { readonly kind: 'delete'; readonly index: number }
  | { readonly kind: 'deleteFrom'; readonly index: number }
  | { readonly kind: 'deleteThrough'; readonly index: number }

// Indexes near page boundaries, inside pages and far apart (sparse numbering), so every path is taken.
const index = fc.oneof(fc.integer({ min: 0, max: 1200 }), fc.integer({ min: 0, max: 2 ** 40 }), fc.constantFrom(0, 255, 256, 257, 511, 512))
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), index, byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), index }),
  fc.record({ kind: fc.constant('deleteFrom' as const), index }),
  fc.record({ kind: fc.constant('deleteThrough' as const), index }),
)

describe('log records', () => {
  test.prop([fc.array(op, { maxLength: 300 })])('match a Map after any sequence of writes, deletes and range deletes', ops => {
    const records = new LogRecords()
    const model = new Map<number, Uint8Array>()
    for (const o of ops) {
      if (o.kind === 'set') { const v = new Uint8Array([o.byte]); records.set(o.index, v); model.set(o.index, v) }
      else if (o.kind === 'delete') { records.delete(o.index); model.delete(o.index) }
      else if (o.kind === 'deleteFrom') { records.deleteFrom(o.index); for (const k of [...model.keys()]) if (k >= o.index) model.delete(k) }
      else { records.deleteThrough(o.index); for (const k of [...model.keys()]) if (k <= o.index) model.delete(k) }
      expect(records.size).toBe(model.size)
    }
    expect(records.indexes()).toEqual([...model.keys()].sort((a, b) => a - b))
    for (const [k, v] of model) expect(records.get(k)).toBe(v)
    for (const o of ops) if (!model.has(o.index)) expect(records.get(o.index)).toBeUndefined()
  })

  it('refuses an index that is not a non-negative integer', () => {
    const records = new LogRecords()
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 60]) {
      expect(() => records.set(bad, new Uint8Array(1))).toThrow(/log index must be a non-negative integer/)
    }
  })
})
