/**
 * Multi-Paxos on the shared replica network (test/support/replica-network.ts). What stays here is Paxos's own view
 * of a run: every persisted acceptance is tracked so that the Synod invariants are checked against the whole history
 * (one value per (slot, ballot), one value chosen per slot, only chosen values committed), promises never go back,
 * the reported commit index is what the host applied, and no replica leads a higher ballot while another holds a read
 * lease. Partitions are by group (`group[id]`), as the scenarios describe them. Host, storage, snapshots, crashes and
 * the network itself are the shared network's.
 */
import type { ClientRequest, NodeId } from '../../core/types.ts'
import { PROMISED_KEY, decodeAccepted, decodePromised } from '../../protocols/multipaxos/acceptor.ts'
import { compareBallots, formatBallot } from '../../protocols/multipaxos/ballot.ts'
import type { Ballot } from '../../protocols/multipaxos/ballot.ts'
import { multipaxos } from '../../protocols/multipaxos/descriptor.ts'
import type { Batch, MultiPaxosMessage } from '../../protocols/multipaxos/messages.ts'
import type { MultiPaxosOptions } from '../../protocols/multipaxos/options.ts'
import type { MultiPaxosReplica } from '../../protocols/multipaxos/replica.ts'
import type { PersistOp } from '../../core/storage.ts'
import { InvariantViolation, ReplicaNetwork, textRequest } from '../support/replica-network.ts'

export function batchKey(batch: Batch): string {
  return batch.map(r => `${r.clientId}:${r.seq}`).join(',')
}

export function request(clientId: number, seq: number, readOnly = false): ClientRequest {
  return textRequest(clientId, seq, `op-${clientId}-${seq}`, readOnly)
}

export interface ClusterOptions {
  n: number
  seed: number | string
  options?: Record<string, unknown>
  /** Take a snapshot every this many applied slots (0: never). */
  snapshotInterval?: number
  /** Options used as given, skipping parseOptions (to show what its checks prevent). */
  unvalidatedOptions?: MultiPaxosOptions
}

/** The network's violation type: negative controls catch it. */
export const InvariantError = InvariantViolation

export class PaxosCluster extends ReplicaNetwork<MultiPaxosMessage, MultiPaxosReplica> {
  declare readonly options: MultiPaxosOptions
  /** Partition group per replica: messages only pass between replicas of the same group. */
  group: number[]
  /** (slot, ballot) -> the value accepted there and by whom, over all time. */
  private readonly acceptances = new Map<string, { value: string; by: Set<NodeId> }>()
  /** slot -> the value chosen there (a Phase 2 quorum accepted it in one ballot). */
  readonly chosen = new Map<number, string>()
  private readonly lastPromised = new Map<NodeId, Ballot>()
  private readonly persistedPromise = new Map<NodeId, Ballot>()

  constructor(o: ClusterOptions) {
    super({
      protocol: multipaxos, n: o.n, seed: o.seed, options: o.options, parsedOptions: o.unvalidatedOptions,
      snapshotInterval: o.snapshotInterval ?? 0, entryKey: batchKey,
    })
    this.group = this.ids.map(() => 0)
    this.observe({
      persisted: (_net, id, ops) => { for (const op of ops) this.checkPersist(id, op) },
      installed: (_net, id, index, applied) => {
        if (index <= applied) this.fail(`replica ${id} installs snapshot ${index} at or below applied ${applied}`)
      },
      committed: (_net, id, entry, key) => {
        const chosen = this.chosen.get(entry.index)
        if (chosen !== key) {
          this.fail(`replica ${id} committed "${key}" at slot ${entry.index}, but ${chosen === undefined ? 'no value was chosen there' : `"${chosen}" was chosen`}`)
        }
      },
      drained: (_net, id) => {
        this.checkPromise(id)
        this.checkStatus(id)
        if (this.options.leaseReads) this.checkLeases()
      },
    })
  }

  override linkOpen(from: NodeId, to: NodeId): boolean {
    const a = this.group[from]
    const b = this.group[to]
    return super.linkOpen(from, to) && (a === undefined || b === undefined || a === b)
  }

  /** Restarting a live replica does nothing (the randomized heal restarts everyone). */
  override restart(id: NodeId): void {
    if (this.isUp(id)) return
    super.restart(id)
    this.checkPromise(id)
  }

  override propose(id: NodeId, req: ClientRequest, from: NodeId = 1000): void {
    super.propose(id, req, from)
  }

  override runUntil(done: () => boolean, maxTicks = 2000, what = 'condition'): number {
    return super.runUntil(done, maxTicks, what)
  }

  /** Deliver message `i`; without `keepCopy` the last message takes its place (the pool reorders as it drains). */
  deliver(i: number, keepCopy = false): void {
    if (keepCopy) { this.deliverAt(i, true); return }
    const q = this.queue
    const last = q.length - 1
    if (i < 0 || i > last) return
    const m = q[i]!
    q[i] = q[last]!
    q[last] = m
    this.deliverAt(last)
  }

  leaders(): NodeId[] {
    return this.ids.filter(id => this.nodes.get(id)?.replica?.status().role === 'leader')
  }

  /** Run until exactly one up replica leads and every up replica agrees; returns it. */
  electLeader(maxTicks = 2000): NodeId {
    this.runUntil(() => {
      const ls = this.leaders()
      if (ls.length !== 1) return false
      return this.ids.every(id => !this.isUp(id) || this.group[id] !== this.group[ls[0]!] ||
        id === ls[0] || this.replica(id).status().leader === ls[0])
    }, maxTicks, 'a single agreed leader')
    return this.leaders()[0]!
  }

  /** A promise never goes back, and an acceptance is recorded (and checked) as it becomes durable. */
  private checkPersist(id: NodeId, op: PersistOp): void {
    if (op.kind === 'put' && op.key === PROMISED_KEY) {
      // Every write is synced at once, so the last promise persisted is the durable one.
      const before = this.persistedPromise.get(id)
      const b = decodePromised(op.value)
      if (before !== undefined && compareBallots(b, before) < 0) {
        this.fail(`replica ${id} persisted promise ${formatBallot(b)} below ${formatBallot(before)}`)
      }
      this.persistedPromise.set(id, b)
    } else if (op.kind === 'entry') {
      const { ballot, value } = decodeAccepted(op.value)
      this.observeAcceptance(id, op.index, ballot, batchKey(value))
    }
  }

  private observeAcceptance(id: NodeId, slot: number, ballot: Ballot, value: string): void {
    const key = `${slot}|${formatBallot(ballot)}`
    let a = this.acceptances.get(key)
    if (a === undefined) {
      a = { value, by: new Set() }
      this.acceptances.set(key, a)
    } else if (a.value !== value) {
      this.fail(`slot ${slot} ballot ${formatBallot(ballot)}: two values accepted ("${a.value}" and "${value}")`)
    }
    a.by.add(id)
    if (a.by.size >= this.options.phase2Quorum) {
      const before = this.chosen.get(slot)
      if (before === undefined) this.chosen.set(slot, value)
      else if (before !== value) {
        this.fail(`slot ${slot}: two values chosen ("${before}", then "${value}" in ballot ${formatBallot(ballot)})`)
      }
    }
  }

  private checkPromise(id: NodeId): void {
    const r = this.nodes.get(id)?.replica
    if (r == null) return
    const p = r.promised
    const last = this.lastPromised.get(id)
    if (last !== undefined && compareBallots(p, last) < 0) {
      this.fail(`replica ${id} promise went back from ${formatBallot(last)} to ${formatBallot(p)}`)
    }
    this.lastPromised.set(id, p)
  }

  private checkStatus(id: NodeId): void {
    const r = this.nodes.get(id)?.replica
    if (r == null) return
    const s = r.status()
    if (s.commitIndex !== this.appliedOf(id)) {
      this.fail(`replica ${id} reports commitIndex ${s.commitIndex} but handed the host up to ${this.appliedOf(id)}`)
    }
  }

  /** While a leader holds a read lease, no replica may lead a higher ballot (it could commit writes the reads miss). */
  private checkLeases(): void {
    for (const holder of this.ids) {
      const h = this.nodes.get(holder)?.replica
      if (h == null || !h.holdsLease()) continue
      for (const other of this.ids) {
        const o = this.nodes.get(other)?.replica
        if (o == null || other === holder || o.status().role !== 'leader') continue
        if (compareBallots(o.promised, h.promised) > 0) {
          this.fail(`replica ${other} leads ballot ${formatBallot(o.promised)} while replica ${holder} ` +
            `still holds a read lease in ballot ${formatBallot(h.promised)}`)
        }
      }
    }
  }
}
