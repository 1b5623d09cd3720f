/**
 * The network's share of fault injection (partitions, cut links, loss, duplication, reordering), the same for a
 * single-group cluster and a multi-group one; node faults (crash, pause, disk) are each cluster's own.
 */
import type { NodeId } from '../../core/types.ts'
import type { FaultAction, NodeRef } from './faults.ts'
import type { SimNetwork } from './network.ts'

export type NetworkFaultAction = Extract<FaultAction, { kind: 'partition' | 'isolate' | 'oneway' | 'heal' | 'loss' | 'dup' | 'reorder' }>

export function isNetworkFault(action: FaultAction): action is NetworkFaultAction {
  switch (action.kind) {
    case 'partition': case 'isolate': case 'oneway': case 'heal': case 'loss': case 'dup': case 'reorder': return true
    default: return false
  }
}

/**
 * Carry out a network fault; returns what happened for the fault log. `resolve` turns a node reference into a node
 * (null: none now); `everyone` is every node and client an isolated node is cut from.
 */
export function injectNetworkFault(network: SimNetwork, action: NetworkFaultAction, resolve: (ref: NodeRef) => NodeId | null,
  everyone: () => readonly NodeId[]): string {
  switch (action.kind) {
    case 'partition':
      network.heal()
      network.partition(action.groups)
      return `partitioned ${action.groups.map(g => g.join('.')).join(' | ')}`
    case 'isolate': {
      const id = resolve(action.node)
      if (id === null) return 'skipped: no such replica now'
      network.heal()
      network.isolate(id, everyone())
      return `isolated ${id}`
    }
    case 'oneway': {
      const from = resolve(action.from)
      const to = resolve(action.to)
      if (from === null || to === null || from === to) return 'skipped: no such link now'
      network.block(from, to)
      return `cut ${from} -> ${to}`
    }
    case 'heal':
      network.heal()
      return 'healed'
    case 'loss': network.faults.loss = action.p; return `loss ${action.p}`
    case 'dup': network.faults.duplicate = action.p; return `duplicate ${action.p}`
    case 'reorder': network.faults.reorder = action.p; return `reorder ${action.p}`
  }
}
