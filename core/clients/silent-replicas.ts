/**
 * What one client has learned about which replicas do not answer, shared by all its sessions (and, for a sharded
 * store, by its clients of every group: a node down for one group is down for all of them). A replica is marked when
 * a request sent to it went unanswered and unmarked by any answer from it. Clients skip marked replicas when choosing
 * where to send next, as CockroachDB's DistSender skips nodes whose connection circuit breaker is open; without it a
 * session that had not spoken for a while asks a replica that died meanwhile first, and waits out its whole backed-off
 * timeout there.
 */
import type { NodeId } from '../types.ts'

export class SilentReplicas {
  private readonly marked = new Set<NodeId>()

  mark(id: NodeId): void {
    this.marked.add(id)
  }

  /** An answer came from `id`: it is alive. */
  heard(id: NodeId): void {
    this.marked.delete(id)
  }

  has(id: NodeId): boolean {
    return this.marked.has(id)
  }
}
