/**
 * The agreement check for partial-order protocols (EPaxos): replicas need not execute the same command at the same
 * index, but every two interfering commands (sharing a conflict key, core/conflicts.ts) must be executed in the same
 * order on every replica (EPaxos §4.2, Consistency). Checked per conflict key: the first replica to execute the p-th
 * command on a key fixes it; every other replica's p-th command on that key must be the same one.
 *
 * A replica that installed a peer's snapshot skipped a stretch of commands it never executes: its next command on
 * each key may lie further along that key's sequence, but never earlier than where it was, and from there on it must
 * follow the sequence again. A replica that restarted from its own snapshot executes again what followed that
 * snapshot: its next command on each key is looked up from the start of the remembered sequence.
 *
 * One request may be executed several times on a key (a client's retry at another replica of a leaderless protocol
 * is a second command with the same id, which the session table then skips as a duplicate), so a lookup can find
 * several places: the check keeps every place that fits and narrows them down with the commands that follow.
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
  /** Replica -> key -> the places it may be at after a lookup that found its command more than once. */
  private readonly ambiguous = new Map<NodeId, Map<string, number[]>>()

  constructor(conflictKeys: (request: ClientRequest) => readonly string[]) {
    this.conflictKeys = conflictKeys
  }

  /** `replica` executed `requests` in this order; returns a violation, or null. */
  executed(replica: NodeId, requests: readonly ClientRequest[]): string | null {
    let at = this.positions.get(replica)
    if (at === undefined) this.positions.set(replica, at = new Map())
    for (const request of requests) {
      const id = `${request.clientId}:${request.seq}`
      for (const key of this.conflictKeys(request)) {
        let order = this.keys.get(key)
        if (order === undefined) this.keys.set(key, order = { sequence: new Map(), length: 0 })
        let p = at.get(key) ?? 0
        const resync = this.resync.get(replica)
        let places = this.ambiguous.get(replica)?.get(key)
        if (resync !== undefined && !resync.done.has(key)) {
          resync.done.add(key)
          const found: number[] = []
          for (let q = resync.from === 'here' ? p : Math.max(0, order.length - WINDOW); q < order.length; q++) {
            if (order.sequence.get(q) === id) found.push(q)
          }
          if (found.length > 0) p = found[0]!
          places = found.length > 1 ? found : undefined
          this.setAmbiguous(replica, key, places)
          if (places !== undefined) { at.set(key, p + 1); continue }
        } else if (places !== undefined) {
          // Each remaining place moves on by one; only those where this command fits (or that run past the end) stay.
          const next = places.map(q => q + 1).filter(q => q >= order.length || order.sequence.get(q) === id)
          if (next.length === 0) {
            this.setAmbiguous(replica, key, undefined)
            return `replica ${replica} executed ${id} on conflict key ${key} where no replica executed it at any of the ` +
              `places it may have been at: interfering commands in different orders`
          }
          p = next[0]!
          places = next.length > 1 ? next : undefined
          this.setAmbiguous(replica, key, places)
          if (places !== undefined) { at.set(key, p + 1); continue }
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
      }
    }
    return null
  }

  private setAmbiguous(replica: NodeId, key: string, places: number[] | undefined): void {
    let byKey = this.ambiguous.get(replica)
    if (places === undefined) { byKey?.delete(key); return }
    if (byKey === undefined) this.ambiguous.set(replica, byKey = new Map())
    byKey.set(key, places)
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
