/**
 * The `groups` section of cluster.json: a sharded store of `count` consensus groups over the cluster's replicas, each
 * group replicated by `replication` of them (ring placement, core/groups/placement.ts) and holding one key range.
 *
 *   "groups": { "count": 64, "replication": 3, "ranges": [{ "start": "", "group": 0 }, { "start": "k109", "group": 1 }, ...] }
 *
 * The range map is static and must not depend on a workload, so it is written out as split points (the sorted start
 * keys, compared as strings: hash-free lexicographic ranges, as CockroachDB's). `cluster init --groups N` writes an
 * even split of the documented key space `k0..k<keys-1>` (the benchmarks' and `consensus kv` examples' keys; keys=1000
 * unless `--group-keys` says otherwise); a config that gives `count` but no `ranges` gets that same split. Any other
 * key still has exactly one group: the range whose start is the last one <= the key.
 *
 * Absent section: one group over every replica, today's behaviour and on-disk layout.
 */
import { z } from 'zod'
import { ConfigError } from '../core/errors.ts'
import { ringPlacement, type GroupPlacement } from '../core/groups/placement.ts'
import { evenRanges, MAX_GROUPS, RangeMap, type KeyRange } from '../core/groups/range-map.ts'
import type { AnyProtocol } from '../core/protocol.ts'

/** Keys `k0..k<DEFAULT_GROUP_KEYS-1>`: the key space split points are drawn from unless told otherwise. */
export const DEFAULT_GROUP_KEYS = 1000

export const groupsSchema = z.object({
  /** Consensus groups (one key range each). */
  count: z.number().int().min(1).max(MAX_GROUPS),
  /** Replicas per group (default: every replica). */
  replication: z.number().int().min(1).optional(),
  /** Split points, first start "" (default: the even split of k0..k999). */
  ranges: z.array(z.object({ start: z.string(), group: z.number().int().min(0) }).strict()).optional(),
}).strict()

export type GroupsConfig = z.infer<typeof groupsSchema>

/** The keys split points are chosen from: `k0..k<keys-1>`. */
export function groupKeySpace(keys: number): string[] {
  return Array.from({ length: keys }, (_, i) => `k${i}`)
}

/** An even split of `k0..k<keys-1>` into `count` ranges, as written to cluster.json. */
export function evenKeySpaceRanges(count: number, keys = DEFAULT_GROUP_KEYS): KeyRange[] {
  if (!Number.isInteger(keys) || keys < count) throw new ConfigError('groupKeys', `${count} groups need a key space of at least ${count} keys, got ${keys}`)
  return [...evenRanges(groupKeySpace(keys), count).ranges]
}

/** The range map and placements a validated `groups` section describes. */
export interface ClusterGroups {
  readonly ranges: RangeMap
  readonly placements: readonly GroupPlacement[]
  readonly replication: number
}

/** Check the section against the cluster (field errors under `groups.`) and derive ranges and placements. */
export function resolveGroups(groups: GroupsConfig, replicaIds: readonly number[], protocol: AnyProtocol): ClusterGroups {
  const replication = groups.replication ?? replicaIds.length
  if (replication > replicaIds.length) {
    throw new ConfigError('groups.replication', `expected at most the ${replicaIds.length} replicas, got ${replication}`)
  }
  const sizeError = protocol.checkClusterSize(replication)
  if (sizeError !== null) throw new ConfigError('groups.replication', sizeError)
  let list: readonly KeyRange[]
  if (groups.ranges === undefined) {
    if (groups.count > DEFAULT_GROUP_KEYS) {
      throw new ConfigError('groups.ranges', `${groups.count} groups need explicit split points (the default key space has ${DEFAULT_GROUP_KEYS} keys)`)
    }
    list = evenKeySpaceRanges(groups.count)
  } else {
    list = groups.ranges
    if (list.length !== groups.count) throw new ConfigError('groups.ranges', `expected ${groups.count} ranges (groups.count), got ${list.length}`)
    for (const [i, r] of list.entries()) {
      if (r.group >= groups.count) throw new ConfigError(`groups.ranges[${i}].group`, `expected a group from 0 to ${groups.count - 1}, got ${r.group}`)
    }
  }
  const ranges = new RangeMap(list, 'groups.ranges')
  return { ranges, placements: ringPlacement(ranges.groups, [...replicaIds].sort((a, b) => a - b), replication), replication }
}
