/**
 * Range partitioning of the key space, as CockroachDB ranges and TiKV regions do it: the keys are split at sorted
 * start keys into contiguous ranges, each replicated by one consensus group. A range holds every key from its start
 * (inclusive) to the next range's start (exclusive); the first range starts at '' so every key has exactly one home,
 * and because each key lives in one group, per-key linearizability of the whole store follows from each group's.
 *
 * The map is static (given in cluster.json or by the bench); splitting and merging ranges is future work.
 */
import { ConfigError } from '../errors.ts'

/** A consensus group's number: frames, storage records and the range map name groups by it. */
export type GroupId = number

/** Most groups one deployment may have (group ids fit in 16 bits on the wire and in storage). */
export const MAX_GROUPS = 65_536

export interface KeyRange {
  /** First key of the range (inclusive); the range ends where the next one starts. */
  readonly start: string
  readonly group: GroupId
}

export class RangeMap {
  /** Sorted by start, the first one starting at ''. */
  readonly ranges: readonly KeyRange[]

  constructor(ranges: readonly KeyRange[], field = 'ranges') {
    if (ranges.length === 0) throw new ConfigError(field, 'expected at least one range')
    if (ranges[0]!.start !== '') throw new ConfigError(`${field}[0].start`, `the first range must start at "" so every key has a range, got ${JSON.stringify(ranges[0]!.start)}`)
    const groups = new Set<GroupId>()
    for (const [i, r] of ranges.entries()) {
      if (!Number.isInteger(r.group) || r.group < 0 || r.group >= MAX_GROUPS) {
        throw new ConfigError(`${field}[${i}].group`, `expected an integer from 0 to ${MAX_GROUPS - 1}, got ${JSON.stringify(r.group)}`)
      }
      // One range per group, as CockroachDB's one Raft group per range: a group's snapshot is its range's data.
      if (groups.has(r.group)) throw new ConfigError(`${field}[${i}].group`, `group ${r.group} already holds another range`)
      groups.add(r.group)
      if (i > 0 && !(r.start > ranges[i - 1]!.start)) {
        throw new ConfigError(`${field}[${i}].start`, `range starts must increase strictly, got ${JSON.stringify(r.start)} after ${JSON.stringify(ranges[i - 1]!.start)}`)
      }
    }
    this.ranges = ranges.map(r => ({ start: r.start, group: r.group }))
  }

  /** The group holding `key`: the last range whose start is <= key (binary search). */
  groupOf(key: string): GroupId {
    let lo = 0
    let hi = this.ranges.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.ranges[mid]!.start <= key) lo = mid
      else hi = mid - 1
    }
    return this.ranges[lo]!.group
  }

  get groups(): GroupId[] {
    return this.ranges.map(r => r.group).sort((a, b) => a - b)
  }
}

/**
 * `groups` ranges holding about equally many of `keys` (a workload's key set), groups numbered 0.. in key order: what
 * an operator gets from pre-splitting a table at known boundaries.
 */
export function evenRanges(keys: readonly string[], groups: number): RangeMap {
  if (!Number.isInteger(groups) || groups < 1 || groups > MAX_GROUPS) {
    throw new ConfigError('groups', `expected an integer from 1 to ${MAX_GROUPS}, got ${JSON.stringify(groups)}`)
  }
  const sorted = [...new Set(keys)].sort()
  if (groups > 1 && sorted.length < groups) {
    throw new ConfigError('groups', `${groups} groups need at least as many distinct keys to split at, got ${sorted.length}`)
  }
  const ranges: KeyRange[] = [{ start: '', group: 0 }]
  for (let g = 1; g < groups; g++) ranges.push({ start: sorted[Math.floor(g * sorted.length / groups)]!, group: g })
  return new RangeMap(ranges)
}
