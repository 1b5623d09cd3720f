/**
 * The agreement check for partial-order protocols (EPaxos): replicas need not execute the same command at the same
 * index, but every two interfering commands (sharing a conflict key, core/conflicts.ts) must be executed in the same
 * order on every replica (EPaxos §4.2, Consistency). Checked per conflict key: the first replica to execute the p-th
 * command on a key fixes it; every other replica's p-th command on that key must be the same one.
 *
 * A replica that installed a peer's snapshot skipped a stretch of commands it never executes: its next command on
 * each key may lie further along that key's sequence, but never earlier than where it was, and from there on it must
 * follow the sequence again. A replica that restarted from its own snapshot executes again what followed that
 * snapshot: given the local index of what it executes, the check knows from the replica's own past where on each key
 * that snapshot left it (a lookup by command id is ambiguous when one request was executed twice on a key, as a
 * leaderless client's retry at another replica is); without the index its next command on each key is looked up from
 * the start of the remembered sequence.
 */
import type { ClientRequest, NodeId } from '../../core/types.ts'

/** How many recent commands per key the check remembers (memory stays flat in long runs). */
const WINDOW = 20_000

interface KeyOrder {
  /** Position -> id of the command executed there (first seen). */
  readonly sequence: Map<number, string>
  length: number
}

export class ConflictOrderCheck {
  private readonly conflictKeys: (request: ClientRequest) => readonly string[]
  private readonly keys = new Map<string, KeyOrder>()
  /** Replica -> key -> positions executed on the key so far (the next one is expected at that position). */
  private readonly positions = new Map<NodeId, Map<string, number>>()
  /** Replicas whose next command on each key is looked up once (after a snapshot install or a restart). */
  private readonly resync = new Map<NodeId, { readonly from: 'here' | 'start'; readonly done: Set<string> }>()
  /** Replica -> key -> [local index, position after it] of its recent commands on the key (restarts resume from it). */
  private readonly past = new Map<NodeId, Map<string, Array<readonly [number, number]>>>()

  constructor(conflictKeys: (request: ClientRequest) => readonly string[]) {
    this.conflictKeys = conflictKeys
  }

  /**
   * `replica` executed `requests` in this order, as its local entry `index` when given; returns a violation, or null.
   */
  executed(replica: NodeId, requests: readonly ClientRequest[], index?: number): string | null {
    let at = this.positions.get(replica)
    if (at === undefined) this.positions.set(replica, at = new Map())
    let past = this.past.get(replica)
    if (past === undefined) this.past.set(replica, past = new Map())
    if (index !== undefined && this.resync.get(replica)?.from === 'start') {
      // Restarted from its own snapshot after index - 1: on each key it is where it was after that entry.
      this.resync.delete(replica)
      for (const [key, entries] of past) {
        const kept = entries.filter(([i]) => i < index)
        if (kept.length > 0) at.set(key, kept[kept.length - 1]![1])
        else if (entries.length > 0) at.set(key, entries[0]![1] - 1)
        past.set(key, kept)
      }
    }
    for (const request of requests) {
      const id = `${request.clientId}:${request.seq}`
      for (const key of this.conflictKeys(request)) {
        let order = this.keys.get(key)
        if (order === undefined) this.keys.set(key, order = { sequence: new Map(), length: 0 })
        let p = at.get(key) ?? 0
        const resync = this.resync.get(replica)
        if (resync !== undefined && !resync.done.has(key)) {
          resync.done.add(key)
          for (let q = resync.from === 'here' ? p : Math.max(0, order.length - WINDOW); q < order.length; q++) {
            if (order.sequence.get(q) === id) { p = q; break }
          }
        }
        if (p >= order.length) {
          order.sequence.set(p, id)
          order.length = p + 1
          order.sequence.delete(p - WINDOW)
        } else {
          const first = order.sequence.get(p)
          if (first !== undefined && first !== id) {
            return `replica ${replica} executed ${id} as command ${p + 1} on conflict key ${key}, where another replica ` +
              `executed ${first}: interfering commands in different orders`
          }
        }
        at.set(key, p + 1)
        if (index !== undefined) {
          let entries = past.get(key)
          if (entries === undefined) past.set(key, entries = [])
          entries.push([index, p + 1])
          if (entries.length > 2 * WINDOW) entries.splice(0, WINDOW)
        }
      }
    }
    return null
  }

  /** `replica` replaced its state with a peer's snapshot: it may skip ahead on every key. */
  installedSnapshot(replica: NodeId): void {
    this.resync.set(replica, { from: 'here', done: new Set() })
  }

  /** `replica` restarted from its own storage: it executes again what followed its last snapshot. */
  restarted(replica: NodeId): void {
    this.resync.set(replica, { from: 'start', done: new Set() })
  }
}
