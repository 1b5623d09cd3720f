/**
 * Raft's safety properties (Figure 3 of the paper) as a checker that can run after every step of any driver:
 *   Election Safety       at most one leader per term;
 *   Leader Append-Only    a leader never overwrites or deletes entries in its log;
 *   Log Matching          logs with an entry of the same index and term are identical up to it;
 *   Leader Completeness   an entry committed in a term is in the log of every leader of a later term;
 *   State Machine Safety  no two servers apply different entries at the same index.
 * It keeps the history it needs (leaders seen per term, each leader's log, every commit seen).
 */
import type { NodeId } from '../../core/types.ts'
import type { Entry } from '../../protocols/raft/messages.ts'
import type { RaftReplica } from '../../protocols/raft/replica.ts'
import type { RaftMessage } from '../../protocols/raft/messages.ts'
import type { ReplicaNetwork } from '../support/replica-network.ts'

/** Any replica network running Raft (the Raft harness's Cluster is one). */
type Cluster = ReplicaNetwork<RaftMessage, RaftReplica>

const textDecoder = new TextDecoder()

export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation'
}

function describeEntry(e: Entry): string {
  if (e.type === 'command') return `${e.term}:${textDecoder.decode(e.request.op)}`
  if (e.type === 'config') return `${e.term}:config[${e.config.voters.join(' ')}|${e.config.learners.join(' ')}]`
  return `${e.term}:noop`
}

/** The state machine's view of an entry (what the harness records as applied). */
function appliedKey(e: Entry): string {
  return e.type === 'command' ? textDecoder.decode(e.request.op) : '-'
}

interface CommitRecord {
  readonly key: string
  /** The earliest term in which any server was seen applying it (the committing leader's term). */
  term: number
}

export class RaftInvariants {
  private readonly leaderOfTerm = new Map<number, NodeId>()
  private readonly leaderLogs = new Map<NodeId, { term: number; lastIndex: number; entries: Map<number, number> }>()
  private readonly committed = new Map<number, CommitRecord>()
  checks = 0

  constructor(cluster: Cluster) {
    cluster.observe({ committed: (net, node, entry, key) => this.observeCommit(node, entry.index, key, net.replica(node).term) })
  }

  /** Check after every step of the network, not only when the test asks. */
  static watch(cluster: Cluster): RaftInvariants {
    const inv = new RaftInvariants(cluster)
    cluster.onStep(() => inv.check(cluster))
    return inv
  }

  private observeCommit(node: NodeId, index: number, key: string, term: number): void {
    const seen = this.committed.get(index)
    if (seen === undefined) {
      this.committed.set(index, { key, term })
    } else if (seen.key !== key) {
      throw new InvariantViolation(`State Machine Safety: node ${node} applied ${key} at ${index}, another applied ${seen.key}`)
    } else if (term < seen.term) {
      seen.term = term
    }
  }

  /** Highest index known committed anywhere. */
  get maxCommitted(): number {
    let max = 0
    for (const i of this.committed.keys()) if (i > max) max = i
    return max
  }

  check(cluster: Cluster): void {
    this.checks++
    const replicas = cluster.up.map(n => n.replica!)
    for (const r of replicas) {
      if (r.commitIndex > r.log.lastIndex) {
        throw new InvariantViolation(`node ${r.id}: commitIndex ${r.commitIndex} beyond last index ${r.log.lastIndex}`)
      }
      if (r.role === 'leader') {
        this.checkElectionSafety(r)
        this.checkLeaderAppendOnly(r)
        this.checkLeaderCompleteness(r)
      }
    }
    for (let i = 0; i < replicas.length; i++) {
      for (let j = i + 1; j < replicas.length; j++) this.checkLogMatching(replicas[i]!, replicas[j]!)
    }
  }

  private checkElectionSafety(r: RaftReplica): void {
    const known = this.leaderOfTerm.get(r.term)
    if (known !== undefined && known !== r.id) {
      throw new InvariantViolation(`Election Safety: nodes ${known} and ${r.id} both led term ${r.term}`)
    }
    this.leaderOfTerm.set(r.term, r.id)
  }

  private checkLeaderAppendOnly(r: RaftReplica): void {
    const before = this.leaderLogs.get(r.id)
    if (before !== undefined && before.term === r.term) {
      if (r.log.lastIndex < before.lastIndex) {
        throw new InvariantViolation(`Leader Append-Only: leader ${r.id} log shrank from ${before.lastIndex} to ${r.log.lastIndex}`)
      }
      for (const [index, term] of before.entries) {
        const now = r.log.term(index)
        if (now !== undefined && now !== term) {
          throw new InvariantViolation(`Leader Append-Only: leader ${r.id} replaced entry ${index} (term ${term} -> ${now})`)
        }
      }
    }
    const entries = new Map<number, number>()
    // Only the tail is rechecked each time: the prefix was checked when it was the tail.
    for (let i = Math.max(r.log.firstIndex, r.log.lastIndex - 64); i <= r.log.lastIndex; i++) entries.set(i, r.log.term(i)!)
    this.leaderLogs.set(r.id, { term: r.term, lastIndex: r.log.lastIndex, entries })
  }

  private checkLeaderCompleteness(r: RaftReplica): void {
    for (const [index, c] of this.committed) {
      if (c.term >= r.term) continue
      if (index > r.log.lastIndex) {
        throw new InvariantViolation(`Leader Completeness: leader ${r.id} of term ${r.term} lacks entry ${index} committed in term ${c.term}`)
      }
      const e = r.log.entry(index)
      if (e !== undefined && appliedKey(e) !== c.key) {
        throw new InvariantViolation(`Leader Completeness: leader ${r.id} of term ${r.term} has ${describeEntry(e)} at ${index}, committed ${c.key}`)
      }
    }
  }

  private checkLogMatching(a: RaftReplica, b: RaftReplica): void {
    const lo = Math.max(a.log.firstIndex, b.log.firstIndex)
    let i = Math.min(a.log.lastIndex, b.log.lastIndex)
    while (i >= lo && a.log.term(i) !== b.log.term(i)) i--
    for (; i >= lo; i--) {
      const ea = a.log.entry(i)!
      const eb = b.log.entry(i)!
      if (ea.term !== eb.term || describeEntry(ea) !== describeEntry(eb)) {
        throw new InvariantViolation(`Log Matching: nodes ${a.id} and ${b.id} agree above ${i} but differ at ${i}: ${describeEntry(ea)} vs ${describeEntry(eb)}`)
      }
    }
  }
}
