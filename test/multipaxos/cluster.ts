/**
 * An in-test driver for Multi-Paxos replicas (in the spirit of etcd-io/raft's raft_test.go `network`): a message pool
 * with seeded loss, duplication and reordering, partitions, crashes with recovery from a per-replica durable record
 * built from the PersistOps exactly as a host keeps them, and a host emulation that applies committed batches, takes
 * snapshots and installs shipped ones. Every persisted acceptance is tracked, so the safety invariants are checked
 * after every step against the whole history.
 */
import { createRng, hash32 } from '../../core/random.ts'
import type { Rng } from '../../core/random.ts'
import { silentLogger } from '../../core/logger.ts'
import type { DurableState, PersistOp } from '../../core/storage.ts'
import type { ClientReply, ClientRequest, CommittedEntry, NodeId } from '../../core/types.ts'
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import { PROMISED_KEY, decodeAccepted, decodePromised } from '../../protocols/multipaxos/acceptor.ts'
import { compareBallots, formatBallot } from '../../protocols/multipaxos/ballot.ts'
import type { Ballot } from '../../protocols/multipaxos/ballot.ts'
import { multiPaxosCodec } from '../../protocols/multipaxos/messages.ts'
import type { Batch, MultiPaxosMessage } from '../../protocols/multipaxos/messages.ts'
import { parseMultiPaxosOptions } from '../../protocols/multipaxos/options.ts'
import type { MultiPaxosOptions } from '../../protocols/multipaxos/options.ts'
import { MultiPaxosReplica } from '../../protocols/multipaxos/replica.ts'

export function batchKey(batch: Batch): string {
  return batch.map(r => `${r.clientId}:${r.seq}`).join(',')
}

export function request(clientId: number, seq: number, readOnly = false): ClientRequest {
  return { clientId, seq, readOnly, op: new TextEncoder().encode(`op-${clientId}-${seq}`), signature: new Uint8Array(0) }
}

interface Durable {
  hard: Map<string, Uint8Array>
  log: Map<number, Uint8Array>
  snapshot: { index: number; meta: Uint8Array; data: Uint8Array } | null
}

interface HostState {
  applied: number
  state: number
  sinceSnapshot: number
}

interface InFlightMessage {
  from: NodeId
  to: NodeId
  bytes: Uint8Array
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

export class InvariantError extends Error {
  override readonly name = 'InvariantError'
}

function encodeHostSnapshot(index: number, state: number): Uint8Array {
  return new BinaryWriter(16).uvarint(index).uvarint(state).finish()
}

function decodeHostSnapshot(data: Uint8Array): { index: number; state: number } {
  const r = new BinaryReader(data, 'test snapshot')
  return { index: r.uvarint(), state: r.uvarint() }
}

export class PaxosCluster {
  readonly n: number
  readonly ids: NodeId[]
  readonly options: MultiPaxosOptions
  readonly rng: Rng
  readonly snapshotInterval: number
  replicas: Array<MultiPaxosReplica | null>
  readonly durable: Durable[]
  private readonly hosts: HostState[]
  pool: InFlightMessage[] = []
  /** Partition group per replica: messages only pass between replicas of the same group. */
  group: number[]
  readonly replies: Array<{ from: NodeId; to: NodeId; reply: ClientReply }> = []
  // History, for the invariants.
  /** (slot, ballot) -> the value accepted there and by whom, over all time. */
  private readonly acceptances = new Map<string, { value: string; by: Set<NodeId> }>()
  /** slot -> the value chosen there (a Phase 2 quorum accepted it in one ballot). */
  readonly chosen = new Map<number, string>()
  /** slot -> value committed by the first replica that committed it. */
  readonly committed = new Map<number, string>()
  /** slot -> state-machine state after applying it (snapshots are checked against it). */
  private readonly stateAt = new Map<number, number>()
  private readonly lastPromised: Ballot[]
  private restarts = 0
  messagesDelivered = 0
  readonly sentByType = new Map<string, number>()

  constructor(o: ClusterOptions) {
    this.n = o.n
    this.ids = Array.from({ length: o.n }, (_, i) => i)
    this.options = o.unvalidatedOptions ?? parseMultiPaxosOptions(o.options ?? {}, o.n)
    this.rng = createRng(`cluster/${o.seed}`)
    this.snapshotInterval = o.snapshotInterval ?? 0
    this.durable = this.ids.map(() => ({ hard: new Map(), log: new Map(), snapshot: null }))
    this.hosts = this.ids.map(() => ({ applied: 0, state: 0, sinceSnapshot: 0 }))
    this.lastPromised = this.ids.map(() => ({ round: 0, id: 0 }))
    this.group = this.ids.map(() => 0)
    this.replicas = this.ids.map(id => this.create(id))
  }

  private create(id: NodeId): MultiPaxosReplica {
    const d = this.durable[id]!
    const recovered: DurableState = {
      hard: new Map(d.hard),
      log: [...d.log.entries()].sort((a, b) => a[0] - b[0]).map(([index, value]) => ({ index, value })),
      snapshot: d.snapshot,
    }
    const host = this.hosts[id]!
    if (d.snapshot !== null) {
      const s = decodeHostSnapshot(d.snapshot.data)
      host.applied = s.index
      host.state = s.state
    } else {
      host.applied = 0
      host.state = 0
    }
    host.sinceSnapshot = 0
    return new MultiPaxosReplica({
      id,
      members: this.ids,
      options: this.options,
      rng: createRng(`replica/${id}/${this.restarts++}/${String(this.rng.next())}`),
      signer: { publicKey: new Uint8Array(32), sign: () => new Uint8Array(64) },
      verifier: { verify: () => false },
      publicKeyOf: () => undefined,
      recovered,
      log: silentLogger,
    })
  }

  replica(id: NodeId): MultiPaxosReplica {
    const r = this.replicas[id]
    if (r == null) throw new Error(`replica ${id} is down`)
    return r
  }

  isUp(id: NodeId): boolean {
    return this.replicas[id] != null
  }

  /** Crash: volatile state and anything not yet drained is lost; the durable record stays. */
  crash(id: NodeId): void {
    this.replicas[id] = null
  }

  restart(id: NodeId): void {
    if (this.replicas[id] != null) return
    this.replicas[id] = this.create(id)
    this.checkPromise(id)
  }

  /** Drain every replica's Ready: persist (durable at once, as after sync), then send, then apply. */
  flush(): void {
    for (const id of this.ids) {
      const r = this.replicas[id]
      if (r == null) continue
      const ready = r.ready()
      for (const op of ready.persist) this.persist(id, op)
      for (const m of ready.messages) {
        const bytes = multiPaxosCodec.encode(m.message)
        const type = multiPaxosCodec.typeName(m.message)
        this.sentByType.set(type, (this.sentByType.get(type) ?? 0) + 1)
        this.pool.push({ from: id, to: m.to, bytes })
      }
      for (const rep of ready.replies) this.replies.push({ from: id, to: rep.to, reply: rep.reply })
      if (ready.installSnapshot !== null) this.install(id, ready.installSnapshot.index, ready.installSnapshot.data)
      for (const e of ready.committed) this.apply(id, e)
      this.checkPromise(id)
      this.checkStatus(id)
    }
    if (this.options.leaseReads) this.checkLeases()
  }

  /** While a leader holds a read lease, no replica may lead a higher ballot (it could commit writes the reads miss). */
  private checkLeases(): void {
    for (const holder of this.ids) {
      const h = this.replicas[holder]
      if (h == null || !h.holdsLease()) continue
      for (const other of this.ids) {
        const o = this.replicas[other]
        if (o == null || other === holder || o.status().role !== 'leader') continue
        if (compareBallots(o.promised, h.promised) > 0) {
          throw new InvariantError(`replica ${other} leads ballot ${formatBallot(o.promised)} while replica ${holder} ` +
            `still holds a read lease in ballot ${formatBallot(h.promised)}`)
        }
      }
    }
  }

  /** Write one PersistOp to replica `id`'s durable record (as the host does before sending), checking it. */
  persist(id: NodeId, op: PersistOp): void {
    const d = this.durable[id]!
    switch (op.kind) {
      case 'put':
        if (op.key === PROMISED_KEY) {
          const before = d.hard.get(PROMISED_KEY)
          const b = decodePromised(op.value)
          if (before !== undefined && compareBallots(b, decodePromised(before)) < 0) {
            throw new InvariantError(`replica ${id} persisted promise ${formatBallot(b)} below ${formatBallot(decodePromised(before))}`)
          }
        }
        d.hard.set(op.key, op.value)
        break
      case 'entry': {
        d.log.set(op.index, op.value)
        const { ballot, value } = decodeAccepted(op.value)
        this.observeAcceptance(id, op.index, ballot, batchKey(value))
        break
      }
      case 'truncate':
        for (const k of d.log.keys()) if (k >= op.from) d.log.delete(k)
        break
      case 'snapshot':
        d.snapshot = { index: op.index, meta: op.meta, data: op.data }
        for (const k of d.log.keys()) if (k <= op.index) d.log.delete(k)
        break
    }
  }

  private observeAcceptance(id: NodeId, slot: number, ballot: Ballot, value: string): void {
    const key = `${slot}|${formatBallot(ballot)}`
    let a = this.acceptances.get(key)
    if (a === undefined) {
      a = { value, by: new Set() }
      this.acceptances.set(key, a)
    } else if (a.value !== value) {
      throw new InvariantError(`slot ${slot} ballot ${formatBallot(ballot)}: two values accepted ("${a.value}" and "${value}")`)
    }
    a.by.add(id)
    if (a.by.size >= this.options.phase2Quorum) {
      const before = this.chosen.get(slot)
      if (before === undefined) this.chosen.set(slot, value)
      else if (before !== value) {
        throw new InvariantError(`slot ${slot}: two values chosen ("${before}", then "${value}" in ballot ${formatBallot(ballot)})`)
      }
    }
  }

  private checkPromise(id: NodeId): void {
    const r = this.replicas[id]
    if (r == null) return
    const p = r.promised
    if (compareBallots(p, this.lastPromised[id]!) < 0) {
      throw new InvariantError(`replica ${id} promise went back from ${formatBallot(this.lastPromised[id]!)} to ${formatBallot(p)}`)
    }
    this.lastPromised[id] = p
  }

  private checkStatus(id: NodeId): void {
    const s = this.replica(id).status()
    if (s.commitIndex !== this.hosts[id]!.applied) {
      throw new InvariantError(`replica ${id} reports commitIndex ${s.commitIndex} but handed the host up to ${this.hosts[id]!.applied}`)
    }
  }

  private install(id: NodeId, index: number, data: Uint8Array): void {
    const host = this.hosts[id]!
    const s = decodeHostSnapshot(data)
    if (s.index !== index) throw new InvariantError(`replica ${id} installs snapshot ${index} holding state of ${s.index}`)
    if (index <= host.applied) throw new InvariantError(`replica ${id} installs snapshot ${index} at or below applied ${host.applied}`)
    const expected = this.stateAt.get(index)
    if (expected !== undefined && expected !== s.state) throw new InvariantError(`snapshot at ${index} differs from the state there`)
    host.applied = index
    host.state = s.state
    host.sinceSnapshot = 0
  }

  private apply(id: NodeId, e: CommittedEntry): void {
    const host = this.hosts[id]!
    if (e.index !== host.applied + 1) {
      throw new InvariantError(`replica ${id} committed slot ${e.index} after ${host.applied} (not contiguous)`)
    }
    const key = batchKey(e.requests)
    const chosen = this.chosen.get(e.index)
    if (chosen !== key) {
      throw new InvariantError(`replica ${id} committed "${key}" at slot ${e.index}, but ${chosen === undefined ? 'no value was chosen there' : `"${chosen}" was chosen`}`)
    }
    const first = this.committed.get(e.index)
    if (first === undefined) this.committed.set(e.index, key)
    else if (first !== key) throw new InvariantError(`slot ${e.index}: replica ${id} committed "${key}", another "${first}"`)
    host.applied = e.index
    host.state = hash32(`${host.state}/${key}`)
    const known = this.stateAt.get(e.index)
    if (known === undefined) this.stateAt.set(e.index, host.state)
    else if (known !== host.state) throw new InvariantError(`replica ${id} state after slot ${e.index} differs`)
    if (this.snapshotInterval > 0 && ++host.sinceSnapshot >= this.snapshotInterval) {
      host.sinceSnapshot = 0
      this.replica(id).snapshotTaken(e.index, encodeHostSnapshot(e.index, host.state))
    }
  }

  applied(id: NodeId): number {
    return this.hosts[id]!.applied
  }

  /** Deliver message `i` of the pool (dropped if the link is cut or the receiver is down); reorders the pool. */
  deliver(i: number, keepCopy = false): void {
    const m = this.pool[i]!
    if (!keepCopy) {
      this.pool[i] = this.pool[this.pool.length - 1]!
      this.pool.pop()
    }
    this.handle(m)
  }

  private handle(m: InFlightMessage): void {
    const r = this.replicas[m.to]
    if (r == null || this.group[m.from] !== this.group[m.to]) return
    this.messagesDelivered++
    r.receive(m.from, multiPaxosCodec.decode(m.bytes))
    this.flush()
  }

  /** Deliver everything in flight in FIFO order, including what it provokes, up to `limit` messages. */
  deliverAll(limit = 100_000): void {
    let head = 0
    for (let k = 0; k < limit && head < this.pool.length; k++) {
      this.handle(this.pool[head++]!)
      if (head > 4096) { this.pool = this.pool.slice(head); head = 0 }
    }
    this.pool = this.pool.slice(head)
  }

  /** Remove in-flight messages matching `drop` (a targeted loss); returns how many. */
  dropWhere(drop: (from: NodeId, to: NodeId, m: MultiPaxosMessage) => boolean): number {
    const before = this.pool.length
    this.pool = this.pool.filter(x => !drop(x.from, x.to, multiPaxosCodec.decode(x.bytes)))
    return before - this.pool.length
  }

  /** The in-flight messages, decoded. */
  inFlight(): Array<{ from: NodeId; to: NodeId; message: MultiPaxosMessage }> {
    return this.pool.map(x => ({ from: x.from, to: x.to, message: multiPaxosCodec.decode(x.bytes) }))
  }

  tick(id: NodeId): void {
    const r = this.replicas[id]
    if (r == null) return
    r.tick()
    this.flush()
  }

  tickAll(): void {
    for (const id of this.ids) this.tick(id)
  }

  propose(id: NodeId, req: ClientRequest, from = 1000): void {
    this.replica(id).propose(req, from)
    this.flush()
  }

  leaders(): NodeId[] {
    return this.ids.filter(id => this.replicas[id]?.status().role === 'leader')
  }

  /** Tick and deliver (in order) until `done` holds; returns the ticks it took or throws after `maxTicks`. */
  runUntil(done: () => boolean, maxTicks = 2000, what = 'condition'): number {
    for (let t = 0; t < maxTicks; t++) {
      if (done()) return t
      this.tickAll()
      this.deliverAll()
    }
    if (done()) return maxTicks
    throw new Error(`${what} not reached within ${maxTicks} ticks`)
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
}
