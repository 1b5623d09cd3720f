/**
 * The process share of fault injection (power loss, restart, outages beyond f, pauses), the same for a single-group
 * cluster's replicas and a multi-group cluster's nodes; disk, clock and membership faults are each cluster's own.
 */
import type { NodeId } from '../../core/types.ts'
import type { FaultAction, NodeRef } from './faults.ts'

export type NodeFaultAction = Extract<FaultAction, { kind: 'crash' | 'restart' | 'crash-all' | 'restart-all' | 'pause' | 'resume' }>

export function isNodeFault(action: FaultAction): action is NodeFaultAction {
  switch (action.kind) {
    case 'crash': case 'restart': case 'crash-all': case 'restart-all': case 'pause': case 'resume': return true
    default: return false
  }
}

/** What the faults act on: the cluster's replicas (or nodes) and their state. */
export interface NodeFaultTarget {
  readonly crashedAt: ReadonlyMap<NodeId, number>
  readonly pausedAt: ReadonlyMap<NodeId, number>
  /** Down for good (damaged storage refused): they count against the crash budget. */
  readonly refused: ReadonlyMap<NodeId, string>
  isUp(id: NodeId): boolean
  up(): NodeId[]
  crash(id: NodeId): void
  /** False if it refused its storage. */
  restart(id: NodeId): boolean
  pause(id: NodeId): void
  resume(id: NodeId): void
}

/**
 * Carry out a process fault; returns what happened for the fault log. At most `maxCrashed` down at once (refused ones
 * included); `noun` names what is crashed in the log ('replica', 'node').
 */
export function injectNodeFault(t: NodeFaultTarget, action: NodeFaultAction, resolve: (ref: NodeRef) => NodeId | null,
  maxCrashed: number, noun: string): string {
  switch (action.kind) {
    case 'crash': {
      const id = resolve(action.node)
      if (id === null) return `skipped: no such ${noun} now`
      if (!t.isUp(id)) return `skipped: ${noun} ${id} is already down`
      const down = t.crashedAt.size + t.refused.size
      if (down >= maxCrashed) return `skipped: ${down} ${noun}s already down (max ${maxCrashed})`
      t.crash(id)
      return `crashed ${id}`
    }
    case 'restart': {
      const id = resolve(action.node)
      if (id === null || t.isUp(id) || t.refused.has(id)) return 'skipped: nothing to restart'
      return t.restart(id) ? `restarted ${id}` : `${id} refused its storage: ${t.refused.get(id)}`
    }
    case 'restart-all': {
      const down = [...t.crashedAt.keys()].sort((a, b) => a - b)
      if (down.length === 0) return 'nothing down'
      const refused = down.filter(id => !t.restart(id))
      const started = down.filter(id => !refused.includes(id))
      // Reasons stay in `refused` (and the report): the outcome names ids only, so tools can read it.
      return [started.length > 0 ? `restarted ${started.join(', ')}` : '', refused.length > 0 ? `${refused.join(', ')} refused its storage` : '']
        .filter(x => x !== '').join('; ')
    }
    case 'crash-all': {
      // An outage beyond f: everything loses power; recovery must come from storage alone.
      const up = t.up().sort((a, b) => a - b)
      for (const id of up) t.crash(id)
      return up.length === 0 ? 'nothing up' : `crashed ${up.join(', ')}`
    }
    case 'pause': {
      const id = resolve(action.node)
      if (id === null || !t.isUp(id) || t.pausedAt.has(id)) return `skipped: no running ${noun} to pause`
      t.pause(id)
      return `paused ${id}`
    }
    case 'resume': {
      if (action.node === 'all') {
        const paused = [...t.pausedAt.keys()].sort((a, b) => a - b)
        for (const id of paused) t.resume(id)
        return paused.length === 0 ? 'nothing paused' : `resumed ${paused.join(', ')}`
      }
      const id = resolve(action.node)
      if (id === null || !t.pausedAt.has(id)) return 'skipped: nothing paused'
      t.resume(id)
      return `resumed ${id}`
    }
  }
}
