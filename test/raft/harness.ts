/**
 * Raft on the shared replica network (test/support/replica-network.ts): what Raft tests add is only Raft's view of
 * it: entries named by their command text ('-' for a no-op), elections, the leader, and a Raft-specific description
 * for failure messages. Host, storage, network, crashes and the state machine are the shared network's.
 */
import type { ClientRequest, NodeId } from '../../core/types.ts'
import type { RaftMessage } from '../../protocols/raft/messages.ts'
import { raft } from '../../protocols/raft/descriptor.ts'
import type { RaftReplica } from '../../protocols/raft/replica.ts'
import { ReplicaNetwork, textRequest } from '../support/replica-network.ts'

const textDecoder = new TextDecoder()

export function request(clientId: number, seq: number, text = `c${clientId}#${seq}`): ClientRequest {
  return textRequest(clientId, seq, text)
}

export function readRequest(clientId: number, seq: number): ClientRequest {
  return textRequest(clientId, seq, 'read', true)
}

/** The identity of a committed entry as the state machine sees it. */
export function entryKey(requests: readonly ClientRequest[]): string {
  return requests.length === 0 ? '-' : requests.map(r => textDecoder.decode(r.op)).join(',')
}

export interface ClusterOptions {
  readonly seed?: number | string
  readonly options?: Readonly<Record<string, unknown>>
  /** Snapshot (and compact) every this many applied entries; 0 = never. */
  readonly snapshotInterval?: number
}

export class Cluster extends ReplicaNetwork<RaftMessage, RaftReplica> {
  constructor(ids: readonly NodeId[], opts: ClusterOptions = {}) {
    super({ protocol: raft, ids, seed: opts.seed ?? 1, options: opts.options, snapshotInterval: opts.snapshotInterval ?? 0, entryKey })
  }

  /** Elect `id` by letting it time out first (others are not ticked), then wait for its no-op to commit. */
  elect(id: NodeId): RaftReplica {
    const r = this.replica(id)
    for (let i = 0; i < 1000 && r.role !== 'leader'; i++) {
      this.tick(id)
      this.stabilize()
    }
    if (r.role !== 'leader') throw new Error(`node ${id} was not elected`)
    this.stabilize()
    return r
  }

  leaders(): RaftReplica[] {
    return this.up.map(n => n.replica!).filter(r => r.role === 'leader')
  }

  /** The leader of the highest term among live nodes, if any. */
  leader(): RaftReplica | undefined {
    return this.leaders().sort((a, b) => b.term - a.term)[0]
  }

  override describe(): string {
    return [...this.nodes.values()].map(n => {
      const r = n.replica
      if (r === null) {
        const d = n.storage.load()
        return `  ${n.id}: down (durable log ${d.log.length}, snapshot ${d.snapshot?.index ?? 0})`
      }
      const c = r.configuration
      const progress = r.role === 'leader'
        ? ' progress ' + [...c.voters, ...c.learners].filter(p => p !== r.id).map(p => {
          const pr = r.progressOf(p)
          return pr === undefined ? `${p}:?` : `${p}:${pr.state}/${pr.match}/${pr.next}/${pr.inflight}`
        }).join(' ')
        : ''
      return `  ${n.id}: ${r.role} term ${r.term} vote ${r.votedFor} leader ${r.leader} commit ${r.commitIndex} ` +
        `log ${r.log.firstIndex}..${r.log.lastIndex} applied ${n.appliedIndex} ` +
        `voters [${c.voters.join(' ')}] learners [${c.learners.join(' ')}]${progress}`
    }).join('\n')
  }
}
