/**
 * One deterministic replica network for any protocol descriptor (etcd-io/raft's test `network`, generalised): the
 * driver that protocol tests and the micro benchmark share, so none of them rebuilds host, storage and network.
 *
 * It plays the host exactly as core/host.ts does (persist and sync, then send, then install a snapshot, answer, apply
 * committed entries through the exactly-once session table, serve reads; snapshot every `snapshotInterval` indexes,
 * honouring the descriptor's required interval), on a MemoryStorage per node (a crash keeps what was synced), with a
 * real state machine (the KV store by default), real signatures (PBFT verifies them) and the descriptor's own client.
 *
 * Time is logical. Two ways to drive it, mixed freely:
 * - `step()`: one tick of a timed network: deliver what is due, tick every replica and client, run the workload.
 *   Messages take one tick plus seeded jitter; loss and duplication are seeded too (`faults`).
 * - hand-driven (`tick(id)`, `propose`, `deliverAt(i)`, `deliverAll()`, `round()`): the test decides what happens
 *   next, message by message, ignoring delays.
 *
 * Safety is checked as it runs: no two honest replicas apply different entries at one index (so applied prefixes
 * agree), a snapshot installed at an index holds the state honest replicas had there, and every result a client
 * accepts is one an honest replica computed. Protocol tests add their own checks (`observe`, `onStep`). A violation
 * throws an InvariantViolation carrying the one-line replay (`replayLine`).
 *
 * It imports only core/, so the bench (which must not import test/) can use it; test/support/replica-network.ts
 * re-exports it with test helpers.
 */
import { bytesEqual, decodeReply, decodeRequest, encodeReply, encodeRequest } from '../../core/codec/client-messages.ts'
import { ConfigError } from '../../core/errors.ts'
import { createKvStore, decodeKvResult, encodeKvCommand, type KvCommand, type KvResult } from '../../core/kv.ts'
import { silentLogger, type Logger } from '../../core/logger.ts'
import type { AnyProtocol, ClientProtocol, Ready, Replica, ReplicaContext } from '../../core/protocol.ts'
import { createRng, type Rng } from '../../core/random.ts'
import { SessionStateMachine } from '../../core/sessions.ts'
import { conflictKeysFunction } from '../../core/conflicts.ts'
import { ConflictOrderCheck } from './conflict-order.ts'
import type { SignatureScheme, SignerName } from '../../core/signer.ts'
import { generatePrivateKey, signatureScheme } from '../../core/signers/index.ts'
import type { StateMachineFactory } from '../../core/state-machine.ts'
import type { DurableState, PersistOp } from '../../core/storage.ts'
import { MemoryStorage } from '../../core/storage/memory-storage.ts'
import type { ClientReply, ClientRequest, CommittedEntry, NodeId, ReadyRead } from '../../core/types.ts'

/** Clients get ids from here up (replicas are 0..n-1). */
export const FIRST_CLIENT_ID = 1000

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ReplicaFactory = (ctx: ReplicaContext<any>) => Replica<any>

export interface NetworkFaults {
  /** Probability that a message is lost when sent. */
  readonly loss?: number
  /** Probability that a message is delivered twice. */
  readonly duplicate?: number
  /** Extra random delay in ticks (0..jitter) on top of one tick, so messages overtake each other. */
  readonly jitter?: number
}

export interface WorkloadOptions {
  /** Keys the KV workload spreads over (default 4). */
  readonly keys?: number
  /** Share of gets among the commands (default 0.3). */
  readonly readRatio?: number
}

export interface ReplicaNetworkOptions {
  readonly protocol: AnyProtocol
  /** Replicas 0..n-1 (or give `ids`). */
  readonly n?: number
  readonly ids?: readonly NodeId[]
  readonly seed?: number | string
  /** Raw protocol options, parsed by the descriptor (as a cluster.json would be). */
  readonly options?: Readonly<Record<string, unknown>>
  /** Options used as given, skipping parseOptions: negative controls that show what its checks prevent. */
  readonly parsedOptions?: unknown
  /**
   * Snapshot the state machine every this many applied indexes; default: the descriptor's required interval, else
   * never (0). A configured interval the descriptor forbids is a ConfigError unless `ignoreRequiredSnapshotInterval`.
   */
  readonly snapshotInterval?: number
  /** Negative controls: use `snapshotInterval` even where the protocol needs another (to show what breaks). */
  readonly ignoreRequiredSnapshotInterval?: boolean
  /** Signature scheme of every node (default 'node'); `signerOf` overrides it per replica (they interoperate). */
  readonly signer?: SignerName
  readonly signerOf?: (id: NodeId) => SignerName
  /** Misbehaving replicas: a strategy name of `protocol.adversary`, or a factory. Excluded from safety checks. */
  readonly byzantine?: ReadonlyMap<NodeId, string | ReplicaFactory>
  /** Honest replicas built by a custom factory (a spy, an instrumented replica). */
  readonly replicaFactories?: ReadonlyMap<NodeId, ReplicaFactory>
  /** Seeded faults applied to every message sent (mutable later through `faults`). */
  readonly faults?: NetworkFaults
  /** Clients created at start (ids FIRST_CLIENT_ID...); more with addClient(). */
  readonly clients?: number
  /** The automatic KV workload that idle clients run in step()/round(); false: clients only do what tests submit. */
  readonly workload?: WorkloadOptions | false
  /** The identity of a committed entry in histories and safety checks (default: "client:seq" joined by ","). */
  readonly entryKey?: (requests: readonly ClientRequest[]) => string
  /** The replicated state machine under the session table (default: the KV store). */
  readonly stateMachine?: StateMachineFactory
  /** Messages cross the wire encoded by the descriptor's codec (default), or as the objects themselves (bench). */
  readonly wire?: 'codec' | 'direct'
  /** Built-in safety checks and per-node histories (default true; the micro bench turns them off). */
  readonly checks?: boolean
  /** 'throw' (default): a violation throws at once; 'record': it is collected in `violations`. */
  readonly onViolation?: 'throw' | 'record'
  /** How to rerun this case, appended to the seed and parameters in every failure (e.g. 'npx vitest run file -t x'). */
  readonly replay?: string
  /** Print replicas' debug lines with the tick to stdout. */
  readonly trace?: boolean
}

export type EnvelopeKind = 'protocol' | 'request' | 'reply'

/** A message in flight. */
export interface Envelope {
  readonly kind: EnvelopeKind
  readonly from: NodeId
  readonly to: NodeId
  /** The codec's type name; 'ClientRequest' / 'ClientReply' for client traffic. */
  readonly type: string
  /** The tick at which step() delivers it. */
  readonly at: number
  /** Encoded bytes (wire 'codec') or the message object ('direct'). */
  readonly payload: unknown
}

/** A message as an interceptor sees it, decoded. */
export interface SentMessage<M = unknown> {
  readonly kind: EnvelopeKind
  readonly from: NodeId
  readonly to: NodeId
  readonly message: M | ClientRequest | ClientReply
}

/** Return null to drop the message, a replacement to send that instead, undefined to leave it alone. */
export type Interceptor<M = unknown> = (m: SentMessage<M>) => SentMessage<M> | null | undefined

export interface ServedRead {
  readonly node: NodeId
  readonly request: ClientRequest
  readonly index: number
}

export interface NetworkNode<R> {
  readonly id: NodeId
  /** null while crashed. */
  replica: R | null
  /** Durable state: survives crashes (unsynced writes would not; the network syncs every Ready before sending). */
  readonly storage: MemoryStorage
  /** The replicated state machine with its session table. */
  sm: SessionStateMachine
  appliedIndex: number
  commandsApplied: number
  /** Entry keys applied, by index (index i at [i - 1]); a snapshot install fills in what it covers. */
  history: string[]
  /** Snapshots installed through the protocol (state transfer). */
  installs: number
  /** Initial members this node was started with. */
  members: readonly NodeId[]
  readonly byzantine: boolean
  /** The protocol's own answers (redirects, errors), in order. */
  readonly replies: Array<{ readonly to: NodeId; readonly reply: ClientReply }>
  /** ReadIndex reads as the replica released them (served once applied). */
  readonly reads: ServedRead[]
  starts: number
  readonly rng: Rng
  pendingClients: Map<NodeId, number>
  pendingReads: ReadyRead[]
}

export interface NetworkClient {
  readonly id: NodeId
  readonly proto: ClientProtocol
  seq: number
  outstanding: ClientRequest | null
  submittedAt: number
  /** Ticks at which requests completed. */
  readonly completedAt: number[]
  /** Accepted results by seq. */
  readonly results: Map<number, Uint8Array>
}

/** What protocol tests hook into; every callback may throw (net.fail) to report a violation. */
export interface NetworkObserver<N> {
  /** Before a node's persist ops are written. */
  persisted?(net: N, id: NodeId, ops: readonly PersistOp[]): void
  /** After an honest or Byzantine node applied an entry (`key` as `entryKey` names it). */
  committed?(net: N, id: NodeId, entry: CommittedEntry, key: string): void
  /** A snapshot handed over by the protocol (index may be at or below what was applied: the host then ignores it). */
  installed?(net: N, id: NodeId, index: number, appliedBefore: number): void
  /** After a node's Ready was carried out. */
  drained?(net: N, id: NodeId): void
  /** After every step of the run: a tick, a delivery, a proposal, a crash... */
  step?(net: N): void
}

export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation'
}

const defaultEntryKey = (requests: readonly ClientRequest[]): string => requests.map(r => `${r.clientId}:${r.seq}`).join(',')
const textEncoder = new TextEncoder()

/**
 * `M` is the protocol's message type, `R` its replica type: `replica(id)` returns R so a test reaches
 * protocol-specific state (`new ReplicaNetwork<RaftMessage, RaftReplica>(...)`).
 */
export class ReplicaNetwork<M = unknown, R extends Replica<M> = Replica<M>> {
  readonly protocol: AnyProtocol
  readonly seed: number | string
  readonly ids: NodeId[]
  readonly n: number
  readonly rawOptions: Readonly<Record<string, unknown>>
  /** Parsed by the descriptor; handed to every replica and client. */
  readonly options: unknown
  readonly snapshotInterval: number
  /** The driver's own randomness (tests may draw from it: it is part of the seeded run). */
  readonly rng: Rng
  now = 0
  readonly nodes = new Map<NodeId, NetworkNode<R>>()
  readonly clients: NetworkClient[] = []
  /** In flight, in send order. Tests may filter or reorder it. */
  queue: Envelope[] = []
  /** Directed links that lose everything, `${from}>${to}` (checked on delivery). */
  readonly blocked = new Set<string>()
  /** Protocol message types lost when sent (e.g. every 'Checkpoint'). */
  readonly blockedTypes = new Set<string>()
  faults: NetworkFaults
  /** Idle clients submit workload commands in step()/round(). */
  workloadOn: boolean
  /** Protocol messages sent, by type (counted when sent, before loss). */
  readonly sentByType = new Map<string, number>()
  delivered = 0
  /** Every reply the protocol gave itself (redirects, errors), with the replica that gave it. */
  readonly replies: Array<{ readonly from: NodeId; readonly to: NodeId; readonly reply: ClientReply }> = []
  /** Index -> key of the entry honest replicas applied there (first seen). */
  readonly committed = new Map<number, string>()
  /** "client:seq" -> the result honest replicas computed. */
  readonly results = new Map<string, Uint8Array>()
  readonly violations: string[] = []
  /** Largest batch any replica applied. */
  maxBatch = 0
  readonly checks: boolean

  private readonly o: ReplicaNetworkOptions
  private readonly netRng: Rng
  private readonly workloadRng: Rng
  private readonly scheme: SignatureScheme
  private readonly keys = new Map<NodeId, { privateKey: Uint8Array; publicKey: Uint8Array }>()
  private readonly entryKey: (requests: readonly ClientRequest[]) => string
  private readonly makeStateMachine: StateMachineFactory
  private readonly conflictKeys: (request: ClientRequest) => readonly string[]
  /** Partial-order protocols: interfering commands in the same order everywhere (instead of `committed` by index). */
  private readonly conflictOrder: ConflictOrderCheck | null
  private readonly direct: boolean
  private readonly observers: Array<NetworkObserver<this>> = []
  private readonly interceptors: Array<Interceptor<M>> = []
  /** Snapshot bytes honest replicas took at an index: an installed snapshot there must hold the same. */
  private readonly stateAt = new Map<number, Uint8Array>()
  private readonly workload: Required<WorkloadOptions>

  constructor(o: ReplicaNetworkOptions) {
    this.o = o
    this.protocol = o.protocol
    this.seed = o.seed ?? 1
    this.ids = o.ids !== undefined ? [...o.ids] : [...Array(o.n ?? o.protocol.replicasFor(1)).keys()]
    this.n = this.ids.length
    this.rawOptions = o.options ?? {}
    this.options = o.parsedOptions !== undefined ? o.parsedOptions : o.protocol.parseOptions(this.rawOptions, this.n)
    const required = o.protocol.requiredSnapshotInterval?.(this.options)
    if (required !== undefined && o.snapshotInterval !== undefined && o.snapshotInterval !== required &&
      o.ignoreRequiredSnapshotInterval !== true) {
      throw new ConfigError('snapshotInterval', `${o.protocol.name} needs the host to snapshot every ${required} indexes, got ${o.snapshotInterval}`)
    }
    this.snapshotInterval = o.snapshotInterval ?? required ?? 0
    this.rng = createRng(this.seed)
    this.netRng = this.rng.fork('network')
    this.workloadRng = this.rng.fork('workload')
    this.scheme = signatureScheme(o.signer ?? 'node')
    this.faults = o.faults ?? {}
    this.entryKey = o.entryKey ?? defaultEntryKey
    this.makeStateMachine = o.stateMachine ?? createKvStore
    this.conflictKeys = conflictKeysFunction(this.makeStateMachine())
    this.conflictOrder = o.protocol.order === 'partial' ? new ConflictOrderCheck(this.conflictKeys) : null
    this.direct = o.wire === 'direct'
    this.checks = o.checks ?? true
    this.workloadOn = o.workload !== false
    this.workload = { keys: 4, readRatio: 0.3, ...(o.workload === false ? {} : o.workload) }
    for (const id of this.ids) this.keyOf(id)
    for (let i = 0; i < (o.clients ?? 0); i++) this.keyOf(FIRST_CLIENT_ID + i)
    // A copy: nodes added later (addNode) must not change the initial members earlier replicas recover with.
    const initial = [...this.ids]
    for (const id of initial) this.addNode(id, initial)
    for (let i = 0; i < (o.clients ?? 0); i++) this.addClient(FIRST_CLIENT_ID + i)
  }

  // ---- setup ----

  /** Start a node with empty storage; `members` are its initial voters (a joining server passes []). */
  addNode(id: NodeId, members: readonly NodeId[] = [...this.ids]): NetworkNode<R> {
    if (this.nodes.has(id)) throw new Error(`node ${id} exists`)
    if (!this.ids.includes(id)) this.ids.push(id)
    const node: NetworkNode<R> = {
      id, replica: null, storage: new MemoryStorage(), sm: new SessionStateMachine(this.makeStateMachine()),
      appliedIndex: 0, commandsApplied: 0, history: [], installs: 0, members, byzantine: this.o.byzantine?.has(id) ?? false,
      replies: [], reads: [], starts: 0, rng: this.rng.fork(`replica-${id}`), pendingClients: new Map(), pendingReads: [],
    }
    this.nodes.set(id, node)
    this.start(node)
    return node
  }

  /** A client running the descriptor's client protocol (PBFT's signs and waits for f+1 matching replies). */
  addClient(id: NodeId = FIRST_CLIENT_ID + this.clients.length): NetworkClient {
    const replicas = this.ids.filter(x => this.nodes.has(x))
    const proto = this.protocol.createClient({
      id, replicas, options: this.options, rng: this.rng.fork(`client-${id}`), signer: this.signerOf(id),
      preferredReplica: replicas[(id - FIRST_CLIENT_ID) % replicas.length]!,
    })
    const c: NetworkClient = { id, proto, seq: 0, outstanding: null, submittedAt: 0, completedAt: [], results: new Map() }
    this.clients.push(c)
    return c
  }

  /** Add a check or a recorder; returns a function that removes it. */
  observe(observer: NetworkObserver<this>): () => void {
    this.observers.push(observer)
    return () => { const i = this.observers.indexOf(observer); if (i >= 0) this.observers.splice(i, 1) }
  }

  /** A protocol invariant checked after every step. */
  onStep(check: (net: this) => void): () => void {
    return this.observe({ step: check })
  }

  /** Drop or rewrite messages as they are sent; returns a function that removes the interceptor. */
  intercept(fn: Interceptor<M>): () => void {
    this.interceptors.push(fn)
    return () => { const i = this.interceptors.indexOf(fn); if (i >= 0) this.interceptors.splice(i, 1) }
  }

  /** The context a replica gets (tests that build a replica by hand). */
  context(id: NodeId, recovered: DurableState): ReplicaContext {
    const node = this.nodes.get(id)
    const scheme = this.schemeOf(id)
    return {
      id, members: node?.members ?? [...this.ids], options: this.options,
      rng: (node?.rng ?? this.rng).fork(`start-${node?.starts ?? 0}-${this.now}`),
      signer: scheme.signer(this.keyOf(id).privateKey), verifier: scheme.verifier,
      publicKeyOf: peer => this.keys.get(peer)?.publicKey, recovered, conflictKeys: this.conflictKeys,
      log: this.o.trace === true ? this.traceLogger(id) : silentLogger,
    }
  }

  // ---- accessors ----

  node(id: NodeId): NetworkNode<R> {
    const n = this.nodes.get(id)
    if (n === undefined) throw new Error(`no node ${id}`)
    return n
  }

  replica(id: NodeId): R {
    const r = this.node(id).replica
    if (r === null) throw new Error(`node ${id} is down`)
    return r
  }

  get up(): Array<NetworkNode<R>> {
    return [...this.nodes.values()].filter(n => n.replica !== null)
  }

  isUp(id: NodeId): boolean {
    return this.nodes.get(id)?.replica != null
  }

  isDown(id: NodeId): boolean {
    return !this.isUp(id)
  }

  isHonest(id: NodeId): boolean {
    return !(this.nodes.get(id)?.byzantine ?? false)
  }

  appliedOf(id: NodeId): number {
    return this.node(id).appliedIndex
  }

  /** Entry keys node `id` applied, by index. */
  historyOf(id: NodeId): string[] {
    return this.node(id).history
  }

  stateMachineOf(id: NodeId): SessionStateMachine {
    return this.node(id).sm
  }

  /** The state machine's snapshot bytes (equal bytes, equal state). */
  stateOf(id: NodeId): Uint8Array {
    return this.node(id).sm.snapshot()
  }

  /** What node `id` would recover on restart. */
  durable(id: NodeId): DurableState {
    return this.node(id).storage.load()
  }

  installsOf(id: NodeId): number {
    return this.node(id).installs
  }

  /** Lowest applied index among live honest replicas. */
  minAppliedHonest(): number {
    let m = Infinity
    for (const node of this.nodes.values()) if (!node.byzantine && node.replica !== null) m = Math.min(m, node.appliedIndex)
    return m
  }

  get completedRequests(): number {
    return this.clients.reduce((s, c) => s + c.completedAt.length, 0)
  }

  client(id: NodeId): NetworkClient {
    const c = this.clients.find(x => x.id === id)
    if (c === undefined) throw new Error(`no client ${id}`)
    return c
  }

  signerOf(id: NodeId) {
    return this.schemeOf(id).signer(this.keyOf(id).privateKey)
  }

  get verifier() {
    return this.scheme.verifier
  }

  publicKeyOf(id: NodeId): Uint8Array | undefined {
    return this.keys.get(id)?.publicKey
  }

  /** The seed and parameters of this run, and how to replay it, on one line. */
  replayLine(): string {
    const params = [
      `seed=${JSON.stringify(this.seed)}`, `protocol=${this.protocol.name}`, `n=${this.n}`,
      `options=${JSON.stringify(this.rawOptions)}`, `snapshotInterval=${this.snapshotInterval}`,
      `faults=${JSON.stringify(this.faults)}`, `tick=${this.now}`,
    ].join(' ')
    return `replay: ${params}${this.o.replay !== undefined ? ` :: ${this.o.replay}` : ''}`
  }

  /** Report a safety violation: thrown at once (with the replay line) or recorded. */
  fail(message: string): void {
    this.violations.push(message)
    if (this.o.onViolation !== 'record') throw new InvariantViolation(`${message}\n${this.replayLine()}`)
  }

  // ---- faults ----

  crash(id: NodeId): void {
    const node = this.node(id)
    node.replica = null
    node.storage.crash()
    node.pendingClients = new Map()
    node.pendingReads = []
    this.afterStep()
  }

  restart(id: NodeId): void {
    const node = this.node(id)
    if (node.replica !== null) throw new Error(`node ${id} is up`)
    this.start(node)
    this.afterStep()
  }

  isolate(id: NodeId): void {
    for (const other of [...this.nodes.keys(), ...this.clients.map(c => c.id)]) {
      if (other === id) continue
      this.blocked.add(`${id}>${other}`)
      this.blocked.add(`${other}>${id}`)
    }
  }

  /** Split into groups that cannot talk to each other (replaces any earlier partition). */
  partition(...groups: ReadonlyArray<readonly NodeId[]>): void {
    this.heal()
    for (const a of groups) for (const b of groups) {
      if (a === b) continue
      for (const x of a) for (const y of b) this.blocked.add(`${x}>${y}`)
    }
  }

  /** Cut one directed link (one-way loss). */
  block(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`)
  }

  heal(): void {
    this.blocked.clear()
  }

  /** Whether a message from `from` reaches `to` now (subclasses add their own partitions). */
  linkOpen(from: NodeId, to: NodeId): boolean {
    return !this.blocked.has(`${from}>${to}`)
  }

  // ---- the host ----

  /** Carry out node `id`'s Ready (after a test gave its replica an input directly). */
  drain(id: NodeId): void {
    this.drainNode(this.node(id))
  }

  drainAll(): void {
    for (const node of this.nodes.values()) this.drainNode(node)
  }

  /** Persist ops written and synced for node `id` (as the host does before sending what depends on them). */
  persist(id: NodeId, ops: readonly PersistOp[]): void {
    if (ops.length === 0) return
    for (const ob of this.observers) ob.persisted?.(this, id, ops)
    const storage = this.node(id).storage
    storage.write(ops)
    storage.sync(() => {})
  }

  private start(node: NetworkNode<R>): void {
    const recovered = node.storage.load()
    node.sm = new SessionStateMachine(this.makeStateMachine())
    node.appliedIndex = 0
    node.history = []
    this.conflictOrder?.restarted(node.id)
    if (recovered.snapshot !== null) {
      node.sm.restore(recovered.snapshot.data)
      node.appliedIndex = recovered.snapshot.index
      if (this.checks) node.history = this.historyPrefix(recovered.snapshot.index)
    }
    node.pendingClients = new Map()
    node.pendingReads = []
    const ctx = this.context(node.id, recovered)
    node.starts++
    const bad = this.o.byzantine?.get(node.id)
    let replica: Replica<unknown>
    if (bad === undefined) replica = (this.o.replicaFactories?.get(node.id) ?? this.protocol.createReplica)(ctx)
    else if (typeof bad === 'string') {
      if (this.protocol.adversary === undefined) throw new ConfigError('byzantine', `${this.protocol.name} has no Byzantine strategies`)
      replica = this.protocol.adversary.createReplica(bad, ctx)
    } else replica = bad(ctx)
    node.replica = replica as R
    this.drainNode(node)
  }

  private drainNode(node: NetworkNode<R>): void {
    for (let rounds = 0; node.replica !== null; rounds++) {
      if (rounds > 1000) throw new Error(`replica ${node.id} keeps producing output`)
      const ready = node.replica.ready() as Ready<M>
      if (ready.persist.length === 0 && ready.messages.length === 0 && ready.committed.length === 0 &&
        ready.replies.length === 0 && ready.reads.length === 0 && ready.installSnapshot === null) return
      this.release(node, ready)
      for (const ob of this.observers) ob.drained?.(this, node.id)
      // Storage here syncs at once, so `beforeSync` messages need no head start; the replica hears of it after the
      // Ready, as from a host (its reaction goes into the next Ready).
      if (ready.persist.length > 0) node.replica?.synced?.()
    }
  }

  /** core/host.ts's order: persist+sync, send, install snapshot, protocol replies, apply, reads. */
  private release(node: NetworkNode<R>, ready: Ready<M>): void {
    this.persist(node.id, ready.persist)
    for (const { to, message } of ready.messages) this.send('protocol', node.id, to, message)
    const snap = ready.installSnapshot
    if (snap !== null) {
      for (const ob of this.observers) ob.installed?.(this, node.id, snap.index, node.appliedIndex)
      if (snap.index > node.appliedIndex) this.install(node, snap.index, snap.data)
    }
    for (const { to, reply } of ready.replies) {
      if (node.pendingClients.get(reply.clientId) === reply.seq) node.pendingClients.delete(reply.clientId)
      node.replies.push({ to, reply })
      this.replies.push({ from: node.id, to, reply })
      this.send('reply', node.id, to, reply)
    }
    for (const entry of ready.committed) {
      this.apply(node, entry)
      if (node.replica === null) return
    }
    for (const read of ready.reads) {
      node.reads.push({ node: node.id, request: read.request, index: read.index })
      node.pendingReads.push(read)
    }
    if (node.pendingReads.length > 0) this.serveReads(node)
  }

  private install(node: NetworkNode<R>, index: number, data: Uint8Array): void {
    // A partial-order replica's state at a local index is its own: only the per-key order is compared.
    this.conflictOrder?.installedSnapshot(node.id)
    if (this.checks && !node.byzantine && this.conflictOrder === null) {
      const known = this.stateAt.get(index)
      if (known !== undefined && !bytesEqual(known, data)) {
        this.fail(`node ${node.id} installed a snapshot at ${index} that differs from the state honest replicas had there`)
      }
    }
    node.sm.restore(data)
    node.appliedIndex = index
    if (this.checks) node.history = this.historyPrefix(index)
    node.installs++
  }

  private historyPrefix(index: number): string[] {
    const out: string[] = []
    for (let i = 1; i <= index; i++) out.push(this.committed.get(i) ?? '?')
    return out
  }

  private apply(node: NetworkNode<R>, entry: CommittedEntry): void {
    if (entry.index <= node.appliedIndex) return // covered by an installed snapshot
    if (entry.index !== node.appliedIndex + 1) {
      this.fail(`node ${node.id} committed index ${entry.index} after ${node.appliedIndex}: committed indexes must be contiguous`)
      return
    }
    const honest = !node.byzantine
    const key = this.checks || this.observers.length > 0 ? this.entryKey(entry.requests) : ''
    if (this.checks && this.conflictOrder !== null) {
      if (honest) {
        const violation = this.conflictOrder.executed(node.id, entry.requests, entry.index)
        if (violation !== null) this.fail(`state machine safety: ${violation}`)
      }
      node.history.push(key)
    } else if (this.checks) {
      if (honest) {
        const first = this.committed.get(entry.index)
        if (first === undefined) this.committed.set(entry.index, key)
        else if (first !== key) this.fail(`state machine safety: node ${node.id} applied "${key}" at ${entry.index}, another honest replica "${first}"`)
      }
      node.history.push(key)
    }
    this.maxBatch = Math.max(this.maxBatch, entry.requests.length)
    const all = this.protocol.replyFrom === 'all'
    for (const request of entry.requests) {
      const { result, duplicate } = node.sm.apply(request)
      if (this.checks && honest && !duplicate) this.recordResult(node.id, request, result)
      if (all || node.pendingClients.get(request.clientId) === request.seq) {
        node.pendingClients.delete(request.clientId)
        // A Byzantine replica's host lies to clients too: they must still accept only what the protocol guarantees.
        this.sendResult(node, request, honest ? result : textEncoder.encode(`lie from ${node.id}`))
      }
    }
    node.appliedIndex = entry.index
    node.commandsApplied += entry.requests.length
    for (const ob of this.observers) ob.committed?.(this, node.id, entry, key)
    if (this.snapshotInterval > 0 && entry.index % this.snapshotInterval === 0 && node.replica !== null) {
      const data = node.sm.snapshot()
      if (this.checks && honest && this.conflictOrder === null && !this.stateAt.has(entry.index)) this.stateAt.set(entry.index, data)
      node.replica.snapshotTaken(entry.index, data)
    }
  }

  private recordResult(id: NodeId, request: ClientRequest, result: Uint8Array): void {
    const key = `${request.clientId}:${request.seq}`
    const known = this.results.get(key)
    if (known === undefined) this.results.set(key, result)
    else if (!request.readOnly && !bytesEqual(known, result)) this.fail(`node ${id} computed another result for ${key}`)
  }

  private serveReads(node: NetworkNode<R>): void {
    const waiting: ReadyRead[] = []
    for (const read of node.pendingReads) {
      if (read.index > node.appliedIndex) { waiting.push(read); continue }
      node.pendingClients.delete(read.request.clientId)
      const result = node.sm.query(read.request)
      if (this.checks && !node.byzantine) this.recordResult(node.id, read.request, result)
      this.sendResult(node, read.request, result)
    }
    node.pendingReads = waiting
  }

  private sendResult(node: NetworkNode<R>, request: ClientRequest, result: Uint8Array): void {
    const status = node.replica!.status()
    this.send('reply', node.id, request.clientId, {
      clientId: request.clientId, seq: request.seq, status: 'ok', result, leaderHint: status.leader ?? -1,
      epoch: status.epoch, error: '',
    } satisfies ClientReply)
  }

  // ---- the network ----

  private send(kind: EnvelopeKind, from: NodeId, to: NodeId, message: unknown): void {
    // Replies to an address with no client behind it have nowhere to go (tests that propose directly).
    if (kind === 'reply' && !this.clients.some(c => c.id === to)) return
    let m: SentMessage<M> = { kind, from, to, message: message as M }
    for (const fn of this.interceptors) {
      const out = fn(m)
      if (out === null) return
      if (out !== undefined) m = out
    }
    let type: string
    let payload: unknown
    if (m.kind === 'protocol') {
      const codec = this.protocol.codec
      type = codec.typeName(m.message)
      this.sentByType.set(type, (this.sentByType.get(type) ?? 0) + 1)
      if (this.blockedTypes.has(type)) return
      payload = this.direct ? m.message : codec.encode(m.message)
    } else if (m.kind === 'request') {
      type = 'ClientRequest'
      payload = this.direct ? m.message : encodeRequest(m.message as ClientRequest)
    } else {
      type = 'ClientReply'
      payload = this.direct ? m.message : encodeReply(m.message as ClientReply)
    }
    const f = this.faults
    if (f.loss !== undefined && f.loss > 0 && this.netRng.chance(f.loss)) return
    const copies = f.duplicate !== undefined && f.duplicate > 0 && this.netRng.chance(f.duplicate) ? 2 : 1
    for (let i = 0; i < copies; i++) {
      const at = this.now + 1 + (f.jitter !== undefined && f.jitter > 0 ? this.netRng.int(f.jitter + 1) : 0)
      this.queue.push({ kind: m.kind, from: m.from, to: m.to, type, at, payload })
    }
  }

  /** The message an envelope carries, decoded (a fresh copy per call with the codec wire). */
  decode(e: Envelope): M | ClientRequest | ClientReply {
    if (this.direct) return e.payload as M
    const bytes = e.payload as Uint8Array
    if (e.kind === 'protocol') return this.protocol.codec.decode(bytes) as M
    return e.kind === 'request' ? decodeRequest(bytes) : decodeReply(bytes)
  }

  /** The protocol message at a queue position. */
  peek(position: number): { from: NodeId; to: NodeId; message: M } {
    const e = this.queue[position]
    if (e === undefined || e.kind !== 'protocol') throw new Error(`no protocol message at position ${position}`)
    return { from: e.from, to: e.to, message: this.decode(e) as M }
  }

  /** Protocol messages in flight, decoded. */
  inFlight(): Array<{ from: NodeId; to: NodeId; message: M }> {
    return this.queue.filter(e => e.kind === 'protocol').map(e => ({ from: e.from, to: e.to, message: this.decode(e) as M }))
  }

  /** Lose the in-flight protocol messages matching `drop`; returns how many. */
  dropWhere(drop: (from: NodeId, to: NodeId, message: M) => boolean): number {
    const before = this.queue.length
    this.queue = this.queue.filter(e => e.kind !== 'protocol' || !drop(e.from, e.to, this.decode(e) as M))
    return before - this.queue.length
  }

  /** Deliver the message at `position` now (lost if its link is cut or the receiver is down); `keep` duplicates it. */
  deliverAt(position: number, keep = false): void {
    const e = this.queue[position]
    if (e === undefined) return
    if (!keep) this.queue.splice(position, 1)
    this.handle(e)
    this.afterStep()
  }

  /** Deliver in send order, including what deliveries provoke, until quiet or `limit` deliveries; returns how many. */
  deliverAll(limit = 100_000): number {
    let k = 0
    while (k < limit && this.queue.length > 0) {
      // shift() is O(n): take a batch at a time.
      const batch = this.queue
      this.queue = []
      let i = 0
      for (; i < batch.length && k < limit; i++, k++) {
        this.handle(batch[i]!)
        this.afterStep()
      }
      this.queue = i < batch.length ? [...batch.slice(i), ...this.queue] : this.queue
    }
    return k
  }

  /** Deliver until quiet; throws if it does not quiesce within `limit` deliveries (livelock). */
  stabilize(limit = 100_000): void {
    this.deliverAll(limit)
    if (this.queue.length > 0) throw new Error(`network did not quiesce within ${limit} deliveries\n${this.describe()}`)
  }

  private handle(e: Envelope): void {
    if (!this.linkOpen(e.from, e.to)) return
    if (e.kind === 'reply') {
      const c = this.clients.find(x => x.id === e.to)
      if (c === undefined) return
      this.delivered++
      c.proto.receive(e.from, this.decode(e) as ClientReply)
      this.drainClient(c)
      return
    }
    const node = this.nodes.get(e.to)
    if (node === undefined || node.replica === null) return
    this.delivered++
    if (e.kind === 'request') {
      const request = this.decode(e) as ClientRequest
      // As the host: the sender is authenticated, a client may only speak for itself.
      if (request.clientId !== e.from) return
      this.inputRequest(node, request, e.from)
    } else {
      node.replica.receive(e.from, this.decode(e) as M)
    }
    this.drainNode(node)
  }

  private inputRequest(node: NetworkNode<R>, request: ClientRequest, from: NodeId): void {
    node.pendingClients.set(request.clientId, request.seq)
    const r = node.replica!
    if (request.readOnly && r.read !== undefined) r.read(request, from)
    else r.propose(request, from)
  }

  // ---- inputs and time ----

  /** One logical tick at one replica. */
  tick(id: NodeId): void {
    const node = this.node(id)
    if (node.replica === null) return
    node.replica.tick()
    this.drainNode(node)
    this.afterStep()
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) for (const id of [...this.nodes.keys()]) this.tick(id)
  }

  /** A client command handed to replica `id` directly (as if it had arrived from `from`). */
  propose(id: NodeId, request: ClientRequest, from: NodeId = request.clientId): void {
    const node = this.node(id)
    if (node.replica === null) throw new Error(`node ${id} is down`)
    node.pendingClients.set(request.clientId, request.seq)
    node.replica.propose(request, from)
    this.drainNode(node)
    this.afterStep()
  }

  /** A read-only command handed to replica `id` (its read path, or propose if it has none). */
  read(id: NodeId, request: ClientRequest, from: NodeId = request.clientId): void {
    const node = this.node(id)
    if (node.replica === null) throw new Error(`node ${id} is down`)
    this.inputRequest(node, request, from)
    this.drainNode(node)
    this.afterStep()
  }

  /** One tick of the timed network: deliver what is due, tick replicas, then clients (and their workload). */
  step(): void {
    this.now++
    const due: Envelope[] = []
    const later: Envelope[] = []
    for (const e of this.queue) (e.at <= this.now ? due : later).push(e)
    this.queue = later
    for (const e of due) this.handle(e)
    for (const node of [...this.nodes.values()]) {
      if (node.replica === null) continue
      node.replica.tick()
      this.drainNode(node)
    }
    this.tickClients()
    this.afterStep()
  }

  run(ticks: number): void {
    for (let i = 0; i < ticks; i++) this.step()
  }

  /** step() until `done()` holds or `limit` ticks passed; returns whether it holds. */
  stepUntil(done: () => boolean, limit: number): boolean {
    for (let i = 0; i < limit; i++) {
      if (done()) return true
      this.step()
    }
    return done()
  }

  /** A lock-step round: every replica and client ticks once, then everything in flight is delivered. */
  round(): void {
    this.now++
    this.tickAll()
    this.tickClients()
    this.deliverAll()
  }

  /** round() until `done()` holds; returns the rounds it took, throws after `maxTicks` naming `what`. */
  runUntil(done: () => boolean, maxTicks = 500, what = 'condition'): number {
    for (let t = 0; t < maxTicks; t++) {
      if (done()) return t
      this.round()
    }
    if (done()) return maxTicks
    throw new Error(`${what} not reached within ${maxTicks} ticks\n${this.describe()}\n${this.replayLine()}`)
  }

  /** One line per node, for failure messages (protocol subclasses say more). */
  describe(): string {
    return [...this.nodes.values()].map(n => {
      if (n.replica === null) return `  ${n.id}: down (applied ${n.appliedIndex})`
      const s = n.replica.status()
      return `  ${n.id}: ${s.role} epoch ${s.epoch} leader ${s.leader} commit ${s.commitIndex} applied ${n.appliedIndex} log ${s.logSize}`
    }).join('\n')
  }

  // ---- clients ----

  /** Client `clientId` submits a command (its next seq); returns the request. */
  submit(clientId: NodeId, op: Uint8Array, readOnly = false): ClientRequest {
    const c = this.client(clientId)
    if (c.outstanding !== null) throw new Error(`client ${clientId} already has request ${c.outstanding.seq} outstanding`)
    c.seq++
    const request: ClientRequest = { clientId, seq: c.seq, readOnly, op, signature: new Uint8Array(0) }
    c.outstanding = request
    c.submittedAt = this.now
    c.proto.submit(request)
    this.drainClient(c)
    return request
  }

  submitKv(clientId: NodeId, command: KvCommand): ClientRequest {
    return this.submit(clientId, encodeKvCommand(command), command.type === 'get')
  }

  /**
   * A KV command from `clientId`, stepped until the client accepts its result (throws after `limit` ticks);
   * returns the decoded result.
   */
  commitKv(clientId: NodeId, command: KvCommand, limit = 1000): KvResult {
    const req = this.submitKv(clientId, command)
    const c = this.client(clientId)
    if (!this.stepUntil(() => c.results.has(req.seq), limit)) {
      throw new Error(`client ${clientId} request ${req.seq} not completed within ${limit} ticks\n${this.describe()}\n${this.replayLine()}`)
    }
    return decodeKvResult(c.results.get(req.seq)!)
  }

  private tickClients(): void {
    for (const c of this.clients) {
      if (c.outstanding === null && this.workloadOn && this.o.workload !== false) this.submitWorkload(c)
      c.proto.tick()
      this.drainClient(c)
    }
  }

  private submitWorkload(c: NetworkClient): void {
    const key = `k${this.workloadRng.int(this.workload.keys)}`
    const command: KvCommand = this.workloadRng.chance(this.workload.readRatio)
      ? { type: 'get', key }
      : { type: 'put', key, value: `${c.id}-${c.seq + 1}` }
    // Writes and reads both go through the log here (readOnly false), as the PBFT workload always did.
    this.submit(c.id, encodeKvCommand(command))
  }

  private drainClient(c: NetworkClient): void {
    const out = c.proto.ready()
    for (const { to, message } of out.messages) this.send('request', c.id, to, message)
    if (out.completed !== null && c.outstanding !== null && out.completed.seq === c.outstanding.seq) {
      const key = `${c.id}:${out.completed.seq}`
      if (this.checks) {
        const known = this.results.get(key)
        if (known === undefined) this.fail(`client ${c.id} accepted ${key} that no honest replica computed`)
        else if (!bytesEqual(known, out.completed.result)) this.fail(`client ${c.id} accepted a wrong result for ${key}`)
      }
      c.results.set(out.completed.seq, out.completed.result)
      c.outstanding = null
      c.completedAt.push(this.now)
    }
  }

  // ---- internals ----

  private afterStep(): void {
    for (const ob of this.observers) ob.step?.(this)
  }

  private keyOf(id: NodeId): { privateKey: Uint8Array; publicKey: Uint8Array } {
    let k = this.keys.get(id)
    if (k === undefined) {
      const privateKey = generatePrivateKey(this.rng.fork(`key-${id}`))
      k = { privateKey, publicKey: this.schemeOf(id).publicKeyOf(privateKey) }
      this.keys.set(id, k)
    }
    return k
  }

  private schemeOf(id: NodeId): SignatureScheme {
    return this.o.signerOf !== undefined && this.ids.includes(id) && id < FIRST_CLIENT_ID ? signatureScheme(this.o.signerOf(id)) : this.scheme
  }

  private traceLogger(id: NodeId): Logger {
    const log = ((format: string, ...args: unknown[]) => {
      let i = 0
      console.log(`t=${this.now} r${id} ` + format.replace(/%[sdjo]/g, () => String(args[i++])))
    }) as Logger
    Object.defineProperty(log, 'enabled', { value: true })
    return log
  }
}

export function createReplicaNetwork<M = unknown, R extends Replica<M> = Replica<M>>(o: ReplicaNetworkOptions): ReplicaNetwork<M, R> {
  return new ReplicaNetwork<M, R>(o)
}
