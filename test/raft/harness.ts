/**
 * A tiny in-test host and network for driving Raft replicas directly (in the spirit of etcd-io/raft's raft_test.go
 * `network`). Each node has what a real host has: a durable record of every PersistOp (so a crash can recreate the
 * replica from it), a state machine (here: the list of applied request keys, which makes state-machine safety easy
 * to check), snapshots every `snapshotInterval` applied entries, and served reads. Every message goes through the
 * binary codec, so the codec is exercised on every delivery.
 */
import type { ReplicaContext } from '../../core/protocol.ts'
import { parseRaftOptions, type RaftOptions } from '../../protocols/raft/options.ts'
import type { DurableState, PersistOp } from '../../core/storage.ts'
import type { ClientReply, ClientRequest, NodeId } from '../../core/types.ts'
import { createLogger } from '../../core/logger.ts'
import type { Rng } from '../../core/random.ts'
import { createRng } from '../../core/random.ts'
import type { RaftMessage } from '../../protocols/raft/messages.ts'
import { raftCodec } from '../../protocols/raft/messages.ts'
import { RaftReplica } from '../../protocols/raft/replica.ts'

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()

/** What a host's storage holds after applying PersistOps with every write synced. */
export class DurableRecord {
  readonly hard = new Map<string, Uint8Array>()
  readonly log = new Map<number, Uint8Array>()
  snapshot: { index: number; meta: Uint8Array; data: Uint8Array } | null = null

  apply(ops: readonly PersistOp[]): void {
    for (const op of ops) {
      switch (op.kind) {
        case 'put': this.hard.set(op.key, op.value.slice()); break
        case 'entry': this.log.set(op.index, op.value.slice()); break
        case 'truncate': for (const i of [...this.log.keys()]) if (i >= op.from) this.log.delete(i); break
        case 'snapshot':
          this.snapshot = { index: op.index, meta: op.meta.slice(), data: op.data.slice() }
          for (const i of [...this.log.keys()]) if (i <= op.index) this.log.delete(i)
          break
      }
    }
  }

  state(): DurableState {
    const log = [...this.log.entries()].sort((a, b) => a[0] - b[0]).map(([index, value]) => ({ index, value }))
    return { hard: new Map(this.hard), log, snapshot: this.snapshot }
  }
}

export function request(clientId: number, seq: number, text = `c${clientId}#${seq}`): ClientRequest {
  return { clientId, seq, readOnly: false, op: textEncoder.encode(text), signature: new Uint8Array(0) }
}

export function readRequest(clientId: number, seq: number): ClientRequest {
  return { clientId, seq, readOnly: true, op: textEncoder.encode('read'), signature: new Uint8Array(0) }
}

/** The identity of a committed entry as the state machine sees it. */
export function entryKey(requests: readonly ClientRequest[]): string {
  return requests.length === 0 ? '-' : requests.map(r => textDecoder.decode(r.op)).join(',')
}

export interface ServedRead {
  readonly node: NodeId
  readonly request: ClientRequest
  readonly index: number
}

export interface Delivery {
  readonly from: NodeId
  readonly to: NodeId
  readonly bytes: Uint8Array
}

export interface NodeHost {
  readonly id: NodeId
  replica: RaftReplica | null
  readonly durable: DurableRecord
  /** The state machine: applied entry keys by position (index i at [i - 1]). */
  applied: string[]
  readonly replies: Array<{ to: NodeId; reply: ClientReply }>
  readonly reads: ServedRead[]
  members: readonly NodeId[]
}

export interface ClusterOptions {
  readonly seed?: number | string
  readonly options?: Readonly<Record<string, unknown>>
  /** Snapshot (and compact) every this many applied entries; 0 = never. */
  readonly snapshotInterval?: number
}

/** Observers see every commit as it is applied (the invariant checker records them). */
export type CommitObserver = (node: NodeId, index: number, key: string, term: number) => void

export class Cluster {
  readonly nodes = new Map<NodeId, NodeHost>()
  /** Messages sent and not yet delivered, in send order. */
  queue: Delivery[] = []
  readonly rng: Rng
  readonly options: RaftOptions
  readonly snapshotInterval: number
  /** Directed links that drop everything: `${from}>${to}`. */
  readonly blocked = new Set<string>()
  readonly sentByType = new Map<string, number>()
  commitObservers: CommitObserver[] = []
  private readonly seed: string

  constructor(ids: readonly NodeId[], opts: ClusterOptions = {}) {
    this.seed = String(opts.seed ?? 1)
    this.rng = createRng(`${this.seed}/network`)
    this.options = parseRaftOptions(opts.options ?? {})
    this.snapshotInterval = opts.snapshotInterval ?? 0
    for (const id of ids) this.addNode(id, ids)
  }

  /** Start a fresh node with empty storage and the given initial members (a joining server passes []). */
  addNode(id: NodeId, members: readonly NodeId[]): NodeHost {
    const host: NodeHost = { id, replica: null, durable: new DurableRecord(), applied: [], replies: [], reads: [], members }
    this.nodes.set(id, host)
    this.start(host)
    return host
  }

  private start(host: NodeHost): void {
    const recovered = host.durable.state()
    const ctx: ReplicaContext<RaftOptions> = {
      id: host.id,
      members: host.members,
      options: this.options,
      rng: createRng(`${this.seed}/replica-${host.id}/${this.rng.int(1 << 30)}`),
      signer: { publicKey: new Uint8Array(32), sign: () => new Uint8Array(64) },
      verifier: { verify: () => false },
      publicKeyOf: () => undefined,
      recovered,
      log: createLogger(`consensus:raft:${host.id}`),
    }
    // The host restores the state machine from the durable snapshot, then the replica continues after it.
    host.applied = recovered.snapshot === null ? [] : decodeState(recovered.snapshot.data)
    host.replica = new RaftReplica(ctx)
  }

  node(id: NodeId): NodeHost {
    const n = this.nodes.get(id)
    if (n === undefined) throw new Error(`no node ${id}`)
    return n
  }

  replica(id: NodeId): RaftReplica {
    const r = this.node(id).replica
    if (r === null) throw new Error(`node ${id} is down`)
    return r
  }

  get up(): NodeHost[] {
    return [...this.nodes.values()].filter(n => n.replica !== null)
  }

  /** Lose all volatile state; messages already in flight stay in the network. */
  crash(id: NodeId): void {
    this.node(id).replica = null
  }

  restart(id: NodeId): void {
    const host = this.node(id)
    if (host.replica !== null) throw new Error(`node ${id} is up`)
    this.start(host)
  }

  /** Carry out a node's Ready the way the real host does: persist, send, install snapshot, apply, answer. */
  drain(id: NodeId): void {
    const host = this.node(id)
    const r = host.replica
    if (r === null) return
    const ready = r.ready()
    host.durable.apply(ready.persist)
    for (const { to, message } of ready.messages) {
      this.sentByType.set(message.type, (this.sentByType.get(message.type) ?? 0) + 1)
      this.queue.push({ from: id, to, bytes: raftCodec.encode(message) })
    }
    if (ready.installSnapshot !== null) {
      host.applied = decodeState(ready.installSnapshot.data)
      if (host.applied.length !== ready.installSnapshot.index) {
        throw new Error(`node ${id}: snapshot at ${ready.installSnapshot.index} holds ${host.applied.length} entries`)
      }
    }
    for (const e of ready.committed) {
      if (e.index !== host.applied.length + 1) {
        throw new Error(`node ${id}: committed index ${e.index} is not contiguous with applied ${host.applied.length}`)
      }
      const key = entryKey(e.requests)
      host.applied.push(key)
      for (const observe of this.commitObservers) observe(id, e.index, key, r.term)
      if (this.snapshotInterval > 0 && e.index % this.snapshotInterval === 0) {
        r.snapshotTaken(e.index, encodeState(host.applied))
      }
    }
    for (const reply of ready.replies) host.replies.push(reply)
    for (const read of ready.reads) host.reads.push({ node: id, request: read.request, index: read.index })
    // snapshotTaken may have produced persist ops: carry them out now, as the host's next cycle would.
    if (this.snapshotInterval > 0 && ready.committed.length > 0) this.drain(id)
  }

  drainAll(): void {
    for (const id of this.nodes.keys()) this.drain(id)
  }

  tick(id: NodeId): void {
    const r = this.node(id).replica
    if (r === null) return
    r.tick()
    this.drain(id)
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) for (const id of this.nodes.keys()) this.tick(id)
  }

  /** Deliver (or lose, if the link is blocked or the node is down) the message at `position` in the queue. */
  deliverAt(position: number): void {
    const [d] = this.queue.splice(position, 1)
    if (d === undefined) return
    const target = this.nodes.get(d.to)
    if (target === undefined || target.replica === null || this.blocked.has(`${d.from}>${d.to}`)) return
    target.replica.receive(d.from, raftCodec.decode(d.bytes))
    this.drain(d.to)
  }

  /** Deliver in order until the network is quiet (or `limit` deliveries, to stop livelock in a test). */
  stabilize(limit = 100_000): void {
    let n = 0
    while (this.queue.length > 0) {
      if (++n > limit) throw new Error('network did not quiesce')
      this.deliverAt(0)
    }
  }

  /** Tick everyone and deliver, until `done` holds; throws after `maxTicks`. */
  runUntil(done: () => boolean, maxTicks = 500): void {
    for (let t = 0; t < maxTicks; t++) {
      if (done()) return
      this.tickAll()
      this.stabilize()
    }
    if (!done()) throw new Error(`condition not reached within ${maxTicks} ticks\n${this.describe()}`)
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

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue
      this.blocked.add(`${id}>${other}`)
      this.blocked.add(`${other}>${id}`)
    }
  }

  /** Split into groups that cannot talk to each other. */
  partition(...groups: NodeId[][]): void {
    this.heal()
    for (const a of groups) for (const b of groups) {
      if (a === b) continue
      for (const x of a) for (const y of b) this.blocked.add(`${x}>${y}`)
    }
  }

  heal(): void {
    this.blocked.clear()
  }

  propose(id: NodeId, req: ClientRequest, from = req.clientId): void {
    this.replica(id).propose(req, from)
    this.drain(id)
  }

  read(id: NodeId, req: ClientRequest, from = req.clientId): void {
    this.replica(id).read(req, from)
    this.drain(id)
  }

  /** One line per node, for failure messages. */
  describe(): string {
    return [...this.nodes.values()].map(n => {
      const r = n.replica
      if (r === null) return `  ${n.id}: down (durable log ${n.durable.log.size}, snapshot ${n.durable.snapshot?.index ?? 0})`
      const c = r.configuration
      const progress = r.role === 'leader'
        ? ' progress ' + [...c.voters, ...c.learners].filter(p => p !== r.id).map(p => {
          const pr = r.progressOf(p)
          return pr === undefined ? `${p}:?` : `${p}:${pr.state}/${pr.match}/${pr.next}/${pr.inflight}`
        }).join(' ')
        : ''
      return `  ${n.id}: ${r.role} term ${r.term} vote ${r.votedFor} leader ${r.leader} commit ${r.commitIndex} ` +
        `log ${r.log.firstIndex}..${r.log.lastIndex} applied ${n.applied.length} ` +
        `voters [${c.voters.join(' ')}] learners [${c.learners.join(' ')}]${progress}`
    }).join('\n')
  }

  /** Decoded copy of the message at a queue position (tests that inspect traffic). */
  peek(position: number): { from: NodeId; to: NodeId; message: RaftMessage } {
    const d = this.queue[position]!
    return { from: d.from, to: d.to, message: raftCodec.decode(d.bytes) }
  }
}

/** The test state machine's snapshot: the applied keys (plain JSON is fine here: it never crosses a wire). */
export function encodeState(applied: readonly string[]): Uint8Array {
  return textEncoder.encode(JSON.stringify(applied))
}

export function decodeState(data: Uint8Array): string[] {
  return JSON.parse(textDecoder.decode(data)) as string[]
}
