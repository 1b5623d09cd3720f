/**
 * Range partitioning: every key has exactly one group, the lookup agrees with a linear scan, and bad maps are refused
 * naming the field.
 */
import { fc, test } from '@fast-check/vitest'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../core/errors.ts'
import { evenRanges, RangeMap } from '../../core/groups/range-map.ts'
import { groupsOfNode, ringPlacement } from '../../core/groups/placement.ts'

describe('RangeMap', () => {
  test.prop([fc.uniqueArray(fc.string({ maxLength: 6 }), { minLength: 1, maxLength: 20 }), fc.array(fc.string({ maxLength: 8 }), { maxLength: 50 })])(
    'groupOf(key) is the last range starting at or before the key (binary search equals a scan)', (starts, keys) => {
      const sorted = ['', ...starts.filter(s => s !== '').sort()]
      const map = new RangeMap(sorted.map((start, group) => ({ start, group })))
      for (const key of keys) {
        let expected = 0
        for (const [i, start] of sorted.entries()) if (start <= key) expected = i
        expect(map.groupOf(key)).toBe(expected)
      }
    })

  it('refuses maps that leave keys without a range, overlap, or reuse a group, naming the field', () => {
    expect(() => new RangeMap([])).toThrow(ConfigError)
    expect(() => new RangeMap([{ start: 'a', group: 0 }])).toThrow(/ranges\[0\]\.start: the first range must start at ""/)
    expect(() => new RangeMap([{ start: '', group: 0 }, { start: 'm', group: 1 }, { start: 'c', group: 2 }])).toThrow(/ranges\[2\]\.start: range starts must increase/)
    expect(() => new RangeMap([{ start: '', group: 0 }, { start: 'm', group: 0 }])).toThrow(/ranges\[1\]\.group: group 0 already holds another range/)
    expect(() => new RangeMap([{ start: '', group: -1 }])).toThrow(/ranges\[0\]\.group: expected an integer/)
  })

  it('evenRanges splits a key set into groups holding equal shares', () => {
    const keys = Array.from({ length: 64 }, (_, i) => `k${i}`)
    const map = evenRanges(keys, 8)
    const counts = new Map<number, number>()
    for (const k of keys) counts.set(map.groupOf(k), (counts.get(map.groupOf(k)) ?? 0) + 1)
    expect([...counts.values()]).toEqual(Array(8).fill(8))
    expect(map.groups).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect(() => evenRanges(['a', 'b'], 3)).toThrow(/3 groups need at least as many distinct keys/)
    expect(evenRanges([], 1).groupOf('anything')).toBe(0)
  })
})

describe('ring placement', () => {
  it('puts each group on `replication` distinct nodes and spreads preferred leaders evenly', () => {
    const placements = ringPlacement([...Array(16).keys()], [0, 1, 2, 3, 4], 3)
    for (const p of placements) {
      expect(new Set(p.replicas).size).toBe(3)
      expect(p.preferredLeader).toBe(p.replicas[0])
    }
    const led = [0, 1, 2, 3, 4].map(id => placements.filter(p => p.preferredLeader === id).length)
    expect(Math.max(...led) - Math.min(...led)).toBeLessThanOrEqual(1)
    // Each node replicates its share: 16 groups x 3 replicas over 5 nodes.
    expect([0, 1, 2, 3, 4].map(id => groupsOfNode(placements, id).length).reduce((a, b) => a + b)).toBe(48)
    expect(() => ringPlacement([0], [0, 1], 3)).toThrow(/replication: expected an integer from 1 to the 2 nodes/)
  })
})
