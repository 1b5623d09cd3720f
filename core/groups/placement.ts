/**
 * Which nodes replicate each group, and which of them should lead it. Replicas of group g are the `replication`
 * nodes from g mod n on (a ring, as consistent-hashing stores place ranges), and its preferred leader is the first of
 * them, so with as many groups as nodes (or more) every node leads about the same number of groups: the leaders'
 * CPU and disk work is spread, which is what lets throughput grow with groups.
 */
import { ConfigError } from '../errors.ts'
import type { NodeId } from '../types.ts'
import type { GroupId } from './range-map.ts'

export interface GroupPlacement {
  readonly group: GroupId
  /** The nodes that replicate the group (its members), preferred leader first. */
  readonly replicas: readonly NodeId[]
  readonly preferredLeader: NodeId
}

export function ringPlacement(groups: readonly GroupId[], nodes: readonly NodeId[], replication: number): GroupPlacement[] {
  if (!Number.isInteger(replication) || replication < 1 || replication > nodes.length) {
    throw new ConfigError('replication', `expected an integer from 1 to the ${nodes.length} nodes, got ${JSON.stringify(replication)}`)
  }
  return groups.map(group => {
    const replicas = Array.from({ length: replication }, (_, i) => nodes[(group + i) % nodes.length]!)
    return { group, replicas, preferredLeader: replicas[0]! }
  })
}

/** The groups node `id` takes part in. */
export function groupsOfNode(placements: readonly GroupPlacement[], id: NodeId): GroupPlacement[] {
  return placements.filter(p => p.replicas.includes(id))
}
