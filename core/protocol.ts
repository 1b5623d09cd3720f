/**
 * The plug-in contract. A protocol is a pure, deterministic, synchronous state machine (etcd-io/raft style): no I/O,
 * no timers, no clock, no Math.random, no promises. Inputs are method calls; outputs accumulate and are drained by the
 * host with `ready()`, which carries them out in the one safe order: persist (and sync), then send, then apply
 * committed entries and answer clients.
 */
import type { Rng } from './random.ts'
import type { SilentReplicas } from './clients/silent-replicas.ts'
import type { Signer, Verifier } from './signer.ts'
import type { DurableState, PersistOp } from './storage.ts'
import type {
  ClientReply, ClientRequest, CommittedEntry, NodeId, Outbound, ReadyRead, ReplicaStatus,
} from './types.ts'
import type { Logger } from './logger.ts'

/** Everything a replica produced since the last `ready()`. */
export interface Ready<M> {
  /** Written and synced before anything else in this Ready leaves the host. */
  readonly persist: PersistOp[]
  readonly messages: Outbound<M>[]
  /** A snapshot (Raft InstallSnapshot, PBFT state transfer) the host restores before applying `committed`. */
  installSnapshot: { readonly index: number; readonly data: Uint8Array } | null
  /** Decided log positions, in order, contiguous with what was applied before. */
  committed: CommittedEntry[]
  /** Answers the protocol gives itself: redirects to the leader, errors. Results of commands come from the host. */
  readonly replies: Array<{ readonly to: NodeId; readonly reply: ClientReply }>
  /** Linearizable reads to serve once `index` is applied (Raft ReadIndex). */
  readonly reads: ReadyRead[]
}

export interface Replica<M> {
  /** One logical clock tick; all timeouts are counted in ticks. */
  tick(): void
  /** A replica-to-replica message; `from` is the authenticated sender. */
  receive(from: NodeId, message: M): void
  /** A client's command arrived at this replica (`from` is the authenticated client or forwarding replica). */
  propose(request: ClientRequest, from: NodeId): void
  /** A read-only command; protocols without a read path leave this out and the host proposes it instead. */
  read?(request: ClientRequest, from: NodeId): void
  /**
   * The host snapshotted the state machine right after applying `index` (every `snapshotInterval` indexes). Raft and
   * Paxos compact their logs; PBFT hashes `data` into its CHECKPOINT.
   */
  snapshotTaken(index: number, data: Uint8Array): void
  ready(): Ready<M>
  /**
   * The persist of the oldest Ready (with writes) not yet reported is durable: hosts call it once per such Ready, in
   * order. Protocols that send `beforeSync` messages count their own writes only from here.
   */
  synced?(): void
  status(): ReplicaStatus
  /**
   * Administrative inputs (etcd's ProposeConfChange, leader transfer), for protocols that support them: returns null
   * when the change was started (it takes effect once committed; watch `membership()`), else why it was refused.
   */
  admin?(command: AdminCommand): string | null
  /** The configuration this replica currently uses (protocols with membership changes). */
  membership?(): Membership
  /**
   * A canonical digest of what the replica stores, for protocols whose state lives in the replica rather than in the
   * host's state machine (quorum-kv): after the last heal the simulator compares the digests of eventually consistent
   * protocols' replicas to check that they converged.
   */
  stateDigest?(): string
}

/** Administrative inputs a protocol may support (Replica.admin). */
export type AdminCommand =
  /** Add a non-voting member that receives the log; it must catch up before it can be promoted. */
  | { readonly kind: 'add-learner'; readonly id: NodeId }
  /** Make a caught-up learner a voter (refused until it has caught up: it must not vote on what it lacks). */
  | { readonly kind: 'promote'; readonly id: NodeId }
  /** Remove a voter or learner (e.g. one whose storage was refused, before a fresh replica takes its place). */
  | { readonly kind: 'remove'; readonly id: NodeId }
  /** Hand leadership to `to` (Raft §3.10). */
  | { readonly kind: 'transfer-leadership'; readonly to: NodeId }

export interface Membership {
  readonly voters: readonly NodeId[]
  readonly learners: readonly NodeId[]
  /** Whether this configuration is committed (a change in progress is used before it commits, Raft §4.1). */
  readonly committed: boolean
}

/** What a replica is given at creation; `O` is the protocol's options type (what its `parseOptions` returns). */
export interface ReplicaContext<O = unknown> {
  readonly id: NodeId
  /** The initial voting members, sorted. */
  readonly members: readonly NodeId[]
  /** Protocol options, already validated and completed by the descriptor's `parseOptions`. */
  readonly options: O
  /** Seeded randomness (election timeouts, backoff). */
  readonly rng: Rng
  /** This replica's key (Byzantine protocols sign with it). */
  readonly signer: Signer
  readonly verifier: Verifier
  /** Public key of any replica or admitted client, undefined for strangers. */
  readonly publicKeyOf: (id: NodeId) => Uint8Array | undefined
  /** What survived the last crash; empty on first start. */
  readonly recovered: DurableState
  /**
   * The request's conflict keys (core/conflicts.ts): its state-machine keys and its session. Two commands interfere
   * iff their keys intersect; partial-order protocols order exactly those.
   */
  readonly conflictKeys: (request: ClientRequest) => readonly string[]
  readonly log: Logger
}

/** Client-side half of a protocol: how requests are routed and when a result is accepted. Pure, like a replica. */
export interface ClientProtocol {
  /** Start a request (the client has no other outstanding). */
  submit(request: ClientRequest): void
  receive(from: NodeId, reply: ClientReply): void
  tick(): void
  ready(): ClientReady
}

export interface ClientReady {
  readonly messages: Outbound<ClientRequest>[]
  /** The accepted outcome of the outstanding request, once known. */
  readonly completed: { readonly seq: number; readonly result: Uint8Array } | null
}

export interface ClientContext<O = unknown> {
  readonly id: NodeId
  readonly replicas: readonly NodeId[]
  /**
   * The replica to try first: the nearest one where the deployment knows (the simulator's region placement), else one
   * spread over the replicas by client. Leaderless protocols keep sending there; leader-based ones are redirected.
   */
  readonly preferredReplica: NodeId
  /** The same parsed options the replicas get. */
  readonly options: O
  readonly rng: Rng
  readonly signer: Signer
  /** Replicas this client's other sessions found silent (optional: leader-following clients skip them first). */
  readonly silentReplicas?: SilentReplicas
}

export interface MessageCodec<M> {
  encode(message: M): Uint8Array
  /** Throws `CodecError` naming what is malformed. */
  decode(bytes: Uint8Array): M
  /** The message type name used for counting (e.g. 'AppendEntries'). */
  typeName(message: M): string
}

export type FaultModel = 'crash' | 'byzantine'

/**
 * Everything the registry, hosts, the simulator and the bench know about a protocol. `M` is its message type, `O` its
 * parsed options: `parseOptions` is the one place raw options (a cluster.json object, `--option k=v`) become `O`, and
 * every factory below receives that `O`, so no protocol re-parses or casts its options.
 */
export interface ProtocolDescriptor<M = unknown, O = unknown> {
  readonly name: string
  readonly description: string
  readonly faultModel: FaultModel
  /** Cluster size needed to tolerate f faults (2f+1, 3f+1; the baseline: 1 and only f = 0). */
  replicasFor(f: number): number
  /** Faults tolerated by n replicas. */
  faultsTolerated(n: number): number
  /** null when n is a usable cluster size, else a one-line reason. */
  checkClusterSize(n: number): string | null
  /** Validate and complete options (defaults filled); throws `ConfigError` naming the bad field. */
  parseOptions(raw: Readonly<Record<string, unknown>>, n: number): O
  readonly codec: MessageCodec<M>
  createReplica(ctx: ReplicaContext<O>): Replica<M>
  createClient(ctx: ClientContext<O>): ClientProtocol
  /** Which replicas send the command's result to the client: the one it was proposed at, or all (PBFT). */
  readonly replyFrom: 'proposer' | 'all'
  /**
   * How committed entries relate across replicas (default 'total').
   * - 'total': a log; every replica commits the same batch at the same index.
   * - 'partial' (EPaxos): only interfering commands (sharing a conflict key, ReplicaContext.conflictKeys) are ordered,
   *   the same way on every replica, and `CommittedEntry.index` is the replica's own execution counter. The simulator
   *   checks the order per conflict key. A replica keeps its executed frontier in its snapshots' `meta`, and installs
   *   a peer's state under its own next index.
   */
  readonly order?: 'total' | 'partial'
  /**
   * No replica leads (EPaxos, quorum-kv): `status().leader` is null and replies carry no leader hint; clients stay with
   * their preferred replica; a fault aimed at `leader` hits the busiest replica (most client requests received).
   */
  readonly leaderless?: boolean
  /**
   * What its histories promise (default 'linearizable'). 'eventual' (a Dynamo-style store): the checker still judges
   * every history, but a run reports the verdict instead of failing on it, and passes if it stayed available and its
   * replicas converged (Replica.stateDigest) after the last heal.
   */
  readonly consistency?: 'linearizable' | 'eventual'
  /**
   * Replica-to-replica messages per committed command in steady state at batch size 1, by message type; the bench
   * compares the transport's counters with it.
   */
  theoreticalMessages(n: number): Readonly<Record<string, number>>
  /**
   * When the protocol depends on where the host snapshots (PBFT digests the state at every checkpoint), the interval
   * it needs for these options; hosts then use it, and a different configured interval is an error.
   */
  requiredSnapshotInterval?(options: O): number
  /**
   * What these options assume about time, if anything (leases do): the simulator's random schedules stay within it,
   * and a run that breaks it on purpose says so, so a violation it causes is expected, not a protocol bug.
   */
  timingAssumptions?(options: O): TimingAssumptions | undefined
  /**
   * The administrative inputs its replicas accept (Replica.admin), so the CLI, fault schedules and the bench can tell
   * before trying whether a protocol supports membership changes or leader transfer. Absent: none.
   */
  readonly adminCommands?: readonly AdminCommand['kind'][]
  /** Byzantine protocols: misbehaving replicas by strategy name, for the simulator, tests and benchmarks. */
  readonly adversary?: {
    readonly strategies: readonly string[]
    /**
     * Strategies whose harm shows only when the faulty replica leads (a primary that equivocates or censors): the bench
     * places them on the primary by default and reports the backup placement beside it.
     */
    readonly primaryOnly?: readonly string[]
    createReplica(strategy: string, ctx: ReplicaContext<O>): Replica<M>
  }
}

export interface TimingAssumptions {
  /** Two replicas' tick rates must differ by less than this factor (e.g. 1.1: within 10%). */
  readonly maxClockRateRatio: number
  /** Whether a replica may stop for a while (a GC pause, SIGSTOP) without breaking safety. */
  readonly pauseSafe: boolean
  /** The assumption in words, for reports. */
  readonly statement: string
}

/**
 * A protocol of any message and options type. Hosts, the simulator and the registry hold protocols whose types
 * differ; they only ever pass a message from a protocol's codec to the same protocol's replica, and options from a
 * protocol's `parseOptions` to the same protocol's factories, so both types are erased here.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProtocol = ProtocolDescriptor<any, any>

/** Parsed options as hosts hold them: produced by one protocol's `parseOptions`, opaque to everyone else. */
export type ParsedOptions = unknown
