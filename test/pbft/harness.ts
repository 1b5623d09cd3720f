/**
 * A small, seeded, in-test driver for PBFT replicas (in the manner of etcd-io/raft's raft_test.go `network`): it plays
 * host (persist, send, apply through the session table, snapshot every K, reply from every replica), network (delays
 * in ticks, loss, duplication, reordering, crashes and restarts) and clients (PbftClient over a KV workload), and
 * checks safety as it goes: no two correct replicas apply different batches at one index, and every result a client
 * accepts is the one correct replicas computed.
 */
import { decodeReply, encodeReply, encodeRequest, decodeRequest, bytesEqual } from '../../core/codec/client-messages.ts'
import { createKvStore, encodeKvCommand } from '../../core/kv.ts'
import type { Replica } from '../../core/protocol.ts'
import { createRng, type Rng } from '../../core/random.ts'
import { SessionStateMachine } from '../../core/sessions.ts'
import type { SignerName } from '../../core/signer.ts'
import { generatePrivateKey, signatureScheme } from '../../core/signers/index.ts'
import type { DurableState } from '../../core/storage.ts'
import type { ClientRequest, CommittedEntry, NodeId } from '../../core/types.ts'
import { silentLogger, type Logger } from '../../core/logger.ts'
import type { ClientProtocol } from '../../core/protocol.ts'
import { pbft } from '../../protocols/pbft/descriptor.ts'
import { encodeBatch } from '../../protocols/pbft/digest.ts'
import { pbftCodec, type PbftMessage } from '../../protocols/pbft/messages.ts'
import { parsePbftOptions, type PbftContext, type PbftOptions } from '../../protocols/pbft/options.ts'
import { PbftReplica } from '../../protocols/pbft/replica.ts'

export const FIRST_CLIENT = 1000

export interface NetworkFaults {
  /** Probability a message is lost. */
  readonly loss?: number
  /** Probability a message is delivered twice. */
  readonly duplicate?: number
  /** Extra random delay (ticks) on top of one tick: messages overtake each other. */
  readonly jitter?: number
}

export type ReplicaFactory = (ctx: PbftContext) => Replica<PbftMessage>

export interface HarnessOptions {
  readonly n: number
  readonly seed: number | string
  readonly clients?: number
  readonly options?: Readonly<Record<string, unknown>>
  readonly signer?: SignerName
  /** Per-replica signer implementation (they must interoperate); defaults to `signer`. */
  readonly signerOf?: (id: NodeId) => SignerName
  readonly network?: NetworkFaults
  /** Byzantine replicas: id -> factory (excluded from safety checks). */
  readonly byzantine?: ReadonlyMap<NodeId, ReplicaFactory>
  /** The host's snapshot interval (default: the checkpoint interval, as it must be). */
  readonly snapshotInterval?: number
  /** Print the replicas' debug log lines (with the tick) to stdout. */
  readonly trace?: boolean
}

interface Durable {
  hard: Map<string, Uint8Array>
  log: Map<number, Uint8Array>
  snapshot: { index: number; meta: Uint8Array; data: Uint8Array } | null
}

interface Node {
  readonly id: NodeId
  replica: Replica<PbftMessage> | null
  sm: SessionStateMachine
  applied: number
  /** Snapshots installed by state transfer. */
  installs: number
  readonly durable: Durable
  readonly rng: Rng
}

interface ClientState {
  readonly id: NodeId
  readonly proto: ClientProtocol
  seq: number
  outstanding: ClientRequest | null
  submittedAt: number
  readonly completedAt: number[]
}

type Envelope =
  | { readonly kind: 'protocol'; readonly from: NodeId; readonly to: NodeId; readonly bytes: Uint8Array }
  | { readonly kind: 'request'; readonly from: NodeId; readonly to: NodeId; readonly bytes: Uint8Array }
  | { readonly kind: 'reply'; readonly from: NodeId; readonly to: NodeId; readonly bytes: Uint8Array }

export class PbftHarness {
  readonly n: number
  readonly ids: NodeId[]
  readonly rng: Rng
  readonly options: PbftOptions
  readonly checkpointInterval: number
  readonly snapshotInterval: number
  now = 0
  readonly nodes = new Map<NodeId, Node>()
  readonly clients: ClientState[] = []
  /** Honest decisions by index (encoded batch), first seen. */
  readonly decided = new Map<number, Uint8Array>()
  /** Results correct replicas computed, by "client:seq". */
  readonly results = new Map<string, Uint8Array>()
  readonly violations: string[] = []
  readonly messageCounts = new Map<string, number>()
  /** Largest batch any replica applied. */
  maxBatch = 0
  private readonly queue = new Map<number, Envelope[]>()
  private readonly keys = new Map<NodeId, { privateKey: Uint8Array; publicKey: Uint8Array }>()
  private readonly scheme
  private readonly schemeOf: (id: NodeId) => ReturnType<typeof signatureScheme>
  private readonly byzantine: ReadonlyMap<NodeId, ReplicaFactory>
  private readonly down = new Set<NodeId>()
  /** Links cut (from -> to), for partitions. */
  readonly cut = new Set<string>()
  /** Protocol message types the network loses (e.g. every 'Checkpoint'). */
  readonly blockedTypes = new Set<string>()
  network: NetworkFaults
  /** Stop generating new client requests (to let the system quiesce). */
  workloadOn = true
  private readonly trace: boolean

  constructor(o: HarnessOptions) {
    this.n = o.n
    this.ids = [...Array(o.n).keys()]
    this.rng = createRng(o.seed)
    this.options = parsePbftOptions(o.options ?? {})
    this.checkpointInterval = this.options.checkpointInterval
    this.snapshotInterval = o.snapshotInterval ?? this.checkpointInterval
    this.scheme = signatureScheme(o.signer ?? 'node')
    this.schemeOf = id => o.signerOf !== undefined && id < o.n ? signatureScheme(o.signerOf(id)) : this.scheme
    this.network = o.network ?? {}
    this.byzantine = o.byzantine ?? new Map()
    this.trace = o.trace ?? false
    const keyRng = this.rng.fork('keys')
    const clientIds = Array.from({ length: o.clients ?? 1 }, (_, i) => FIRST_CLIENT + i)
    for (const id of [...this.ids, ...clientIds]) {
      const privateKey = generatePrivateKey(keyRng)
      this.keys.set(id, { privateKey, publicKey: this.scheme.publicKeyOf(privateKey) })
    }
    for (const id of this.ids) {
      const node: Node = {
        id, replica: null, sm: new SessionStateMachine(createKvStore()), applied: 0, installs: 0,
        durable: { hard: new Map(), log: new Map(), snapshot: null }, rng: this.rng.fork(`replica-${id}`),
      }
      this.nodes.set(id, node)
      this.startReplica(node)
    }
    for (const id of clientIds) {
      const proto = pbft.createClient({
        id, replicas: this.ids, options: this.options, rng: this.rng.fork(`client-${id}`),
        signer: this.scheme.signer(this.keys.get(id)!.privateKey),
      })
      this.clients.push({ id, proto, seq: 0, outstanding: null, submittedAt: 0, completedAt: [] })
    }
  }

  isHonest(id: NodeId): boolean {
    return !this.byzantine.has(id)
  }

  context(id: NodeId, recovered: DurableState): PbftContext {
    return {
      id, members: this.ids, options: this.options, rng: this.nodes.get(id)!.rng.fork(`run-${this.now}`),
      signer: this.schemeOf(id).signer(this.keys.get(id)!.privateKey), verifier: this.schemeOf(id).verifier,
      publicKeyOf: peer => this.keys.get(peer)?.publicKey, recovered, log: this.trace ? this.traceLogger(id) : silentLogger,
    }
  }

  private traceLogger(id: NodeId): Logger {
    const log = ((format: string, ...args: unknown[]) => {
      let i = 0
      console.log(`t=${this.now} r${id} ` + format.replace(/%[sd]/g, () => String(args[i++])))
    }) as Logger
    Object.defineProperty(log, 'enabled', { value: true })
    return log
  }

  private startReplica(node: Node): void {
    const d = node.durable
    const recovered: DurableState = {
      hard: new Map(d.hard),
      log: [...d.log.entries()].sort((a, b) => a[0] - b[0]).map(([index, value]) => ({ index, value })),
      snapshot: d.snapshot,
    }
    node.sm = new SessionStateMachine(createKvStore())
    node.applied = 0
    if (d.snapshot !== null) {
      node.sm.restore(d.snapshot.data)
      node.applied = d.snapshot.index
    }
    const factory = this.byzantine.get(node.id) ?? ((ctx: PbftContext) => new PbftReplica(ctx))
    node.replica = factory(this.context(node.id, recovered))
    this.drain(node)
  }

  /** The honest replica object of `id` (for introspection). */
  replica(id: NodeId): PbftReplica {
    const r = this.nodes.get(id)!.replica
    if (!(r instanceof PbftReplica)) throw new Error(`replica ${id} is not an honest PbftReplica`)
    return r
  }

  /** Cut every link between the two groups (both directions). */
  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) for (const y of b) { this.cut.add(`${x}>${y}`); this.cut.add(`${y}>${x}`) }
  }

  heal(): void {
    this.cut.clear()
  }

  crash(id: NodeId): void {
    const node = this.nodes.get(id)!
    node.replica = null
    this.down.add(id)
  }

  restart(id: NodeId): void {
    const node = this.nodes.get(id)!
    this.down.delete(id)
    this.startReplica(node)
  }

  isDown(id: NodeId): boolean {
    return this.down.has(id)
  }

  private enqueue(e: Envelope): void {
    const net = this.network
    if (this.cut.has(`${e.from}>${e.to}`)) return
    if (net.loss !== undefined && this.rng.chance(net.loss)) return
    const copies = net.duplicate !== undefined && this.rng.chance(net.duplicate) ? 2 : 1
    for (let i = 0; i < copies; i++) {
      const at = this.now + 1 + (net.jitter !== undefined && net.jitter > 0 ? this.rng.int(net.jitter + 1) : 0)
      const list = this.queue.get(at) ?? []
      list.push(e)
      this.queue.set(at, list)
    }
  }

  /** Carry out a replica's outputs: persist, send, install snapshot, apply, reply, snapshot every K. */
  drain(node: Node): void {
    for (let rounds = 0; node.replica !== null; rounds++) {
      if (rounds > 1000) throw new Error(`replica ${node.id} keeps producing output`)
      const ready = node.replica.ready()
      if (ready.persist.length === 0 && ready.messages.length === 0 && ready.committed.length === 0 &&
        ready.replies.length === 0 && ready.installSnapshot === null) return
      for (const op of ready.persist) {
        const d = node.durable
        if (op.kind === 'put') d.hard.set(op.key, op.value.slice())
        else if (op.kind === 'entry') d.log.set(op.index, op.value.slice())
        else if (op.kind === 'truncate') { for (const i of [...d.log.keys()]) if (i >= op.from) d.log.delete(i) }
        else {
          d.snapshot = { index: op.index, meta: op.meta.slice(), data: op.data.slice() }
          for (const i of [...d.log.keys()]) if (i <= op.index) d.log.delete(i)
        }
      }
      for (const { to, message } of ready.messages) {
        const type = pbftCodec.typeName(message)
        this.messageCounts.set(type, (this.messageCounts.get(type) ?? 0) + 1)
        if (this.blockedTypes.has(type)) continue
        this.enqueue({ kind: 'protocol', from: node.id, to, bytes: pbftCodec.encode(message) })
      }
      if (ready.installSnapshot !== null && ready.installSnapshot.index > node.applied) {
        node.sm.restore(ready.installSnapshot.data)
        node.applied = ready.installSnapshot.index
        node.installs++
      }
      for (const { to, reply } of ready.replies) this.enqueue({ kind: 'reply', from: node.id, to, bytes: encodeReply(reply) })
      for (const entry of ready.committed) this.apply(node, entry)
    }
  }

  private apply(node: Node, entry: CommittedEntry): void {
    if (entry.index <= node.applied) return
    if (entry.index !== node.applied + 1) {
      this.violations.push(`replica ${node.id} committed index ${entry.index} after ${node.applied}`)
      return
    }
    const honest = this.isHonest(node.id)
    this.maxBatch = Math.max(this.maxBatch, entry.requests.length)
    if (honest) {
      const bytes = encodeBatch(entry.requests)
      const first = this.decided.get(entry.index)
      if (first === undefined) this.decided.set(entry.index, bytes)
      else if (!bytesEqual(first, bytes)) this.violations.push(`replica ${node.id} decided a different batch at index ${entry.index}`)
    }
    for (const request of entry.requests) {
      const { result, duplicate } = node.sm.apply(request)
      // A duplicate (a retry ordered again) answers from the session table, or as stale once the client moved on.
      if (honest && !duplicate) {
        const key = `${request.clientId}:${request.seq}`
        const known = this.results.get(key)
        if (known === undefined) this.results.set(key, result)
        else if (!bytesEqual(known, result)) this.violations.push(`replica ${node.id} computed another result for ${key}`)
      }
      const status = node.replica!.status()
      // A Byzantine replica's host lies to clients too: they must still accept only what f+1 replicas agree on.
      const answer = honest ? result : new TextEncoder().encode(`lie from ${node.id}`)
      this.enqueue({
        kind: 'reply', from: node.id, to: request.clientId, bytes: encodeReply({
          clientId: request.clientId, seq: request.seq, status: 'ok', result: answer, leaderHint: status.leader ?? -1,
          epoch: status.epoch, error: '',
        }),
      })
    }
    node.applied = entry.index
    if (entry.index % this.snapshotInterval === 0) node.replica!.snapshotTaken(entry.index, node.sm.snapshot())
  }

  /** One tick: deliver what is due, tick everyone, generate workload. */
  step(): void {
    this.now++
    const due = this.queue.get(this.now) ?? []
    this.queue.delete(this.now)
    for (const e of due) this.deliver(e)
    for (const node of this.nodes.values()) {
      if (node.replica === null) continue
      node.replica.tick()
      this.drain(node)
    }
    for (const c of this.clients) {
      if (c.outstanding === null && this.workloadOn) this.submit(c)
      c.proto.tick()
      this.drainClient(c)
    }
  }

  private deliver(e: Envelope): void {
    if (e.kind === 'reply') {
      const c = this.clients.find(x => x.id === e.to)
      if (c === undefined) return
      c.proto.receive(e.from, decodeReply(e.bytes))
      this.drainClient(c)
      return
    }
    const node = this.nodes.get(e.to)
    if (node === undefined || node.replica === null) return
    if (e.kind === 'request') node.replica.propose(decodeRequest(e.bytes), e.from)
    else node.replica.receive(e.from, pbftCodec.decode(e.bytes))
    this.drain(node)
  }

  private submit(c: ClientState): void {
    c.seq++
    const key = `k${this.rng.int(4)}`
    const op = this.rng.chance(0.3)
      ? encodeKvCommand({ type: 'get', key })
      : encodeKvCommand({ type: 'put', key, value: `${c.id}-${c.seq}` })
    const request: ClientRequest = { clientId: c.id, seq: c.seq, readOnly: false, op, signature: new Uint8Array(0) }
    c.outstanding = request
    c.submittedAt = this.now
    c.proto.submit(request)
    this.drainClient(c)
  }

  private drainClient(c: ClientState): void {
    const out = c.proto.ready()
    for (const { to, message } of out.messages) this.enqueue({ kind: 'request', from: c.id, to, bytes: encodeRequest(message) })
    if (out.completed !== null && c.outstanding !== null && out.completed.seq === c.outstanding.seq) {
      const key = `${c.id}:${out.completed.seq}`
      const known = this.results.get(key)
      if (known === undefined) this.violations.push(`client ${c.id} accepted ${key} that no correct replica computed`)
      else if (!bytesEqual(known, out.completed.result)) this.violations.push(`client ${c.id} accepted a wrong result for ${key}`)
      c.outstanding = null
      c.completedAt.push(this.now)
    }
  }

  run(ticks: number): void {
    for (let i = 0; i < ticks; i++) this.step()
  }

  /** Run until `done()` or `limit` ticks; returns whether `done()` held. */
  runUntil(done: () => boolean, limit: number): boolean {
    for (let i = 0; i < limit; i++) {
      if (done()) return true
      this.step()
    }
    return done()
  }

  get completedRequests(): number {
    return this.clients.reduce((s, c) => s + c.completedAt.length, 0)
  }

  /** Highest index applied by every live correct replica. */
  minAppliedHonest(): number {
    let m = Infinity
    for (const node of this.nodes.values()) if (this.isHonest(node.id) && node.replica !== null) m = Math.min(m, node.applied)
    return m
  }

  appliedOf(id: NodeId): number {
    return this.nodes.get(id)!.applied
  }

  /** Drop counters summed over correct replicas. */
  drops(): Record<string, number> {
    const total: Record<string, number> = {}
    for (const id of this.ids) {
      const r = this.nodes.get(id)!.replica
      if (!(r instanceof PbftReplica)) continue
      for (const [k, v] of Object.entries(r.dropCounts())) total[k] = (total[k] ?? 0) + v
    }
    return total
  }

  /** Deliver one hand-made protocol message to a replica right now (bad-input tests). */
  inject(from: NodeId, to: NodeId, message: PbftMessage): void {
    const node = this.nodes.get(to)!
    node.replica!.receive(from, pbftCodec.decode(pbftCodec.encode(message)))
    this.drain(node)
  }

  get verifier() {
    return this.scheme.verifier
  }

  /** The state machine snapshot of a replica (to compare replicas' states). */
  stateOf(id: NodeId): Uint8Array {
    return this.nodes.get(id)!.sm.snapshot()
  }

  installsOf(id: NodeId): number {
    return this.nodes.get(id)!.installs
  }

  durableLogSize(id: NodeId): number {
    return this.nodes.get(id)!.durable.log.size
  }

  signerOf(id: NodeId) {
    return this.scheme.signer(this.keys.get(id)!.privateKey)
  }
}

/** A one-line command that replays a failing seeded case. */
export function replayLine(file: string, testName: string, seed: number | string): string {
  return `replay: PBFT_SEED=${seed} npx vitest run ${file} -t "${testName}"`
}
