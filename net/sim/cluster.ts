/**
 * A simulated cluster: replicas (each a host over a simulated endpoint and fsync-modelling memory storage), clients,
 * the network, fault injection, and cross-replica safety checks. Everything is derived from one seed.
 */
import { createHash } from 'node:crypto'
import { createClientHost, type ClientHost } from '../../core/client-host.ts'
import { ConfigError } from '../../core/errors.ts'
import { createReplicaHost, resolveSnapshotInterval, type HostObserver, type ReplicaHost } from '../../core/host.ts'
import { createKvStore } from '../../core/kv.ts'
import type { AnyProtocol, ParsedOptions, Replica, ReplicaContext } from '../../core/protocol.ts'
import { createRng, type Rng } from '../../core/random.ts'
import type { Signer, SignerName, Verifier } from '../../core/signer.ts'
import { generatePrivateKey, signatureScheme, SIMULATION_SIGNER } from '../../core/signers/index.ts'
import type { StateMachineFactory } from '../../core/state-machine.ts'
import { MemoryStorage } from '../../core/storage/memory-storage.ts'
import type { CommittedEntry, NodeId } from '../../core/types.ts'
import type { MessageStats } from '../../core/message-stats.ts'
import { describeFault, type FaultAction, type NodeRef, type ScheduledFault } from './faults.ts'
import { validateLatency, validateTopology, type LatencyDistribution, type RegionTopology } from './latency.ts'
import { chargedSigner, chargedVerifier, validateCpuModel, type CpuModel } from './cpu.ts'
import { SimNetwork } from './network.ts'
import { injectNetworkFault } from './network-faults.ts'
import { injectNodeFault, isNodeFault } from './node-faults.ts'
import { ConflictOrderCheck } from './conflict-order.ts'
import { AgreementCheck } from './agreement-check.ts'
import { conflictKeysFunction } from '../../core/conflicts.ts'
import { NodeRuntime } from './node-runtime.ts'
import { Simulator } from './simulator.ts'
import { StorageCorruptionError } from '../../core/storage/record-framing.ts'
import type { Transport } from '../../core/transport.ts'

export const FIRST_CLIENT_ID = 1000

export interface SimClusterOptions {
  readonly protocol: AnyProtocol
  readonly n: number
  readonly seed: number | string
  /** Raw protocol options (validated by the descriptor). */
  readonly protocolOptions?: Readonly<Record<string, unknown>>
  readonly clients?: number
  /** Requests each client keeps in flight, one per session (default 1, so simulated figures stay as they were). */
  readonly clientSessions?: number
  readonly network?: {
    readonly latency?: LatencyDistribution
    readonly regions?: RegionTopology
    /** Region of each replica (index = replica id); clients use `clientRegions`, else `clientRegion`. */
    readonly replicaRegions?: readonly number[]
    readonly clientRegion?: number
    /** Region of each client (index = client number), e.g. clients in every region for leaderless protocols. */
    readonly clientRegions?: readonly number[]
  }
  /** Milliseconds of virtual time per protocol tick (default 10). */
  readonly tickMs?: number
  /** Snapshot every this many applied indexes (default 500). */
  readonly snapshotInterval?: number
  /** Client requests a replica keeps pending at most before it answers busy (ReplicaHostOptions.maxPendingRequests). */
  readonly maxPendingRequests?: number
  /** Virtual time an fsync takes (default 0: durable at once). */
  readonly fsyncMs?: number
  /** Signature scheme (default 'sim': modelled signatures, charged by the CPU model like node:crypto's Ed25519). */
  readonly signer?: SignerName
  /** Replace the replica of chosen ids (Byzantine strategies); return undefined to keep the honest one. */
  readonly replicaFactory?: (id: NodeId) => ((ctx: ReplicaContext) => Replica<unknown>) | undefined
  /** Replicas excluded from the safety check (Byzantine ones may "commit" anything). */
  readonly untrusted?: readonly NodeId[]
  /** At most this many replicas down at once for scheduled faults (default: the protocol's f, at least 1). */
  readonly maxCrashed?: number
  readonly stateMachine?: StateMachineFactory
  /** Processing-time model (net/sim/cpu.ts); default none: nodes work in zero virtual time. */
  readonly cpu?: CpuModel
  /** Decode every frame from its bytes instead of handing trusted senders' messages over (network.ts). */
  readonly decodeEveryFrame?: boolean
  /**
   * Base clock rate of each replica (index = id; 1 = true time, 1.2 = ticks 20% fast): clock drift, so lease reads are
   * tested against their assumption on tick rates. Default: every clock true.
   */
  readonly clockRates?: readonly number[]
}

export interface InjectedFault {
  readonly at: number
  readonly description: string
  /** Why a scheduled fault was not carried out (e.g. too many replicas already down). */
  readonly skipped?: string
}

export class SimCluster {
  readonly sim = new Simulator()
  readonly network: SimNetwork
  readonly protocol: AnyProtocol
  readonly n: number
  readonly replicaIds: NodeId[]
  readonly clients: ClientHost[] = []
  readonly faultLog: InjectedFault[] = []
  /** State-machine safety violations: two replicas applied different commands at one index. */
  readonly safetyViolations: string[] = []
  /** Frames a host refused (malformed, or a client speaking for another); the first 1000 kept. */
  readonly rejectedFrames: { readonly host: NodeId; readonly from: NodeId; readonly reason: string }[] = []
  rejectedFrameCount = 0
  /** Replicas whose storage was refused at start (corruption detected): down for good, never fed damaged state. */
  readonly refused = new Map<NodeId, string>()
  /**
   * Replicas that restarted with an older state than they acknowledged (a lying fsync no later write revealed): beyond
   * the crash-fault model, like a Byzantine replica, and reported as such.
   */
  readonly amnesiac = new Map<NodeId, string>()
  /** See watchCommitsFrom(). */
  private commitWatchFrom = Infinity
  private firstCommitWatched: number | null = null
  readonly tickMs: number
  readonly snapshotInterval: number
  private readonly o: SimClusterOptions
  private readonly rng: Rng
  private readonly protocolOptions: ParsedOptions
  private readonly hosts = new Map<NodeId, ReplicaHost>()
  private readonly storages = new Map<NodeId, MemoryStorage>()
  private readonly members = new Map<NodeId, readonly NodeId[]>()
  private readonly keys = new Map<NodeId, { privateKey: Uint8Array; publicKey: Uint8Array }>()
  private readonly crashedAt = new Map<NodeId, number>()
  private readonly pausedAt = new Map<NodeId, number>()
  /** The runtime of each replica's current process (a restart gets a fresh one). */
  private readonly runtimes = new Map<NodeId, NodeRuntime>()
  private readonly clockRates = new Map<NodeId, number>()
  private readonly replacing = new Set<NodeId>()
  private nextFreshId = 0
  /** Replicas replaced by fresh ones: never restarted. */
  private readonly retired = new Set<NodeId>()
  /** Total-order protocols: the same batch at the same index on every replica. */
  private readonly agreement = new AgreementCheck()
  private readonly untrusted: ReadonlySet<NodeId>
  /** Partial-order protocols: interfering commands in the same order on every replica (instead of `decided`). */
  private readonly conflictOrder: ConflictOrderCheck | null
  /** Region of every replica and client. */
  private readonly placement: ReadonlyMap<NodeId, number>
  private readonly observer: HostObserver
  private readonly scheme

  constructor(options: SimClusterOptions) {
    this.o = options
    this.protocol = options.protocol
    this.n = options.n
    const sizeError = options.protocol.checkClusterSize(options.n)
    if (sizeError !== null) throw new ConfigError('n', sizeError)
    this.protocolOptions = options.protocol.parseOptions(options.protocolOptions ?? {}, options.n)
    this.tickMs = options.tickMs ?? 10
    if (!(this.tickMs > 0)) throw new ConfigError('tickMs', `must be > 0, got ${this.tickMs}`)
    this.snapshotInterval = resolveSnapshotInterval(options.protocol, this.protocolOptions, options.snapshotInterval, 500)
    this.rng = createRng(options.seed)
    this.scheme = signatureScheme(options.signer ?? SIMULATION_SIGNER)
    const latency = options.network?.latency ?? { kind: 'uniform', minMs: 0.2, maxMs: 1 }
    validateLatency(latency, 'network.latency')
    if (options.network?.regions !== undefined) validateTopology(options.network.regions)
    const placement = new Map<NodeId, number>()
    this.replicaIds = [...Array(options.n).keys()]
    this.untrusted = new Set(options.untrusted ?? [])
    if (options.cpu !== undefined) validateCpuModel(options.cpu)
    this.network = new SimNetwork(this.sim, this.rng.fork('network'), {
      latency, ...(options.network?.regions !== undefined ? { regions: options.network.regions } : {}), placement,
      ...(options.cpu !== undefined ? { cpu: options.cpu } : {}),
      ...(options.decodeEveryFrame === true ? { decodeEveryFrame: true } : {}),
    })
    for (const id of this.untrusted) this.network.untrusted.add(id)
    const keyRng = this.rng.fork('keys')
    const clientCount = options.clients ?? 0
    const allIds = [...this.replicaIds, ...Array.from({ length: clientCount }, (_, i) => FIRST_CLIENT_ID + i)]
    for (const id of allIds) {
      const privateKey = generatePrivateKey(keyRng)
      this.keys.set(id, { privateKey, publicKey: this.scheme.publicKeyOf(privateKey) })
    }
    const regionCount = options.network?.regions?.names.length ?? 1
    const replicaRegions = options.network?.replicaRegions
    if (replicaRegions !== undefined && replicaRegions.length !== options.n) {
      throw new ConfigError('network.replicaRegions', `expected ${options.n} region indexes, got ${replicaRegions.length}`)
    }
    for (const id of this.replicaIds) {
      const r = replicaRegions?.[id] ?? 0
      if (!(r >= 0 && r < regionCount)) throw new ConfigError('network.replicaRegions', `region ${r} of replica ${id} does not exist`)
      placement.set(id, r)
    }
    const clientRegions = options.network?.clientRegions
    if (clientRegions !== undefined && clientRegions.length !== clientCount) {
      throw new ConfigError('network.clientRegions', `expected ${clientCount} region indexes (one per client), got ${clientRegions.length}`)
    }
    for (let i = 0; i < clientCount; i++) {
      const r = clientRegions?.[i] ?? options.network?.clientRegion ?? 0
      if (!(Number.isInteger(r) && r >= 0 && r < regionCount)) throw new ConfigError('network.clientRegions', `region ${r} of client ${i} does not exist`)
      placement.set(FIRST_CLIENT_ID + i, r)
    }
    this.placement = placement
    this.conflictOrder = options.protocol.order === 'partial'
      ? new ConflictOrderCheck(conflictKeysFunction((options.stateMachine ?? createKvStore)()))
      : null

    this.observer = {
      applied: (host, entry) => this.checkApplied(host, entry),
      installedSnapshot: host => this.conflictOrder?.installedSnapshot(host),
      rejected: (host, from, reason) => {
        this.rejectedFrameCount++
        if (this.rejectedFrames.length < 1000) this.rejectedFrames.push({ host, from, reason })
      },
    }
    for (const [id, rate] of (options.clockRates ?? []).entries()) {
      if (!(rate > 0) || !Number.isFinite(rate)) throw new ConfigError('clockRates', `replica ${id}: rate must be > 0, got ${rate}`)
      this.clockRates.set(id, rate)
    }
    for (const id of this.replicaIds) {
      this.storages.set(id, this.newStorage(id))
      this.members.set(id, this.replicaIds)
      this.startHost(id)
    }
    for (let i = 0; i < clientCount; i++) this.clients.push(this.newClient(FIRST_CLIENT_ID + i))
  }

  private newStorage(id: NodeId): MemoryStorage {
    const fsyncMs = this.o.fsyncMs ?? 0
    // The fsync finishes in the kernel, but its completion runs in the process: a paused node sees it late. Hosts never
    // reuse what they persist, so the storage keeps their arrays rather than copying every record.
    return new MemoryStorage({ defer: fn => { this.runtimeOf(id).after(fsyncMs, fn) }, adoptWrites: true })
  }

  private runtimeOf(id: NodeId): NodeRuntime {
    let r = this.runtimes.get(id)
    if (r === undefined) {
      r = new NodeRuntime(this.sim)
      this.runtimes.set(id, r)
    }
    return r
  }

  /** The node's signer; with a CPU model every signature costs the node `signUs` of virtual time. */
  private signerOf(id: NodeId): Signer {
    return chargedSigner(this.network, this.o.cpu, id, this.scheme.signer(this.keys.get(id)!.privateKey))
  }

  private verifierOf(id: NodeId): Verifier {
    return chargedVerifier(this.network, this.o.cpu, id, this.scheme.verifier)
  }

  private startHost(id: NodeId): ReplicaHost | null {
    const factory = this.o.replicaFactory?.(id)
    // A replaced (Byzantine) replica may send anything: its frames are decoded from their bytes, never handed over.
    if (factory !== undefined) this.network.untrusted.add(id)
    const runtime = new NodeRuntime(this.sim)
    this.runtimes.set(id, runtime)
    const endpoint = this.network.endpoint(id)
    // Frames reach the host through its process: while it is paused they wait.
    const transport: Transport = {
      id, stats: endpoint.stats, send: (to, frame) => endpoint.send(to, frame),
      // Only a paused node pays for a closure per frame: this is the simulator's hottest path.
      onFrame: handler => endpoint.onFrame((from, frame) => {
        if (runtime.isPaused) runtime.run(() => handler(from, frame))
        else handler(from, frame)
      }),
    }
    const host = createReplicaHost({
      descriptor: this.protocol,
      id,
      members: this.members.get(id)!,
      protocolOptions: this.protocolOptions,
      transport,
      storage: this.storages.get(id)!,
      runtime,
      stateMachine: (this.o.stateMachine ?? createKvStore)(),
      rng: this.rng.fork(`replica-${id}-${this.sim.now()}`),
      signer: this.signerOf(id),
      verifier: this.verifierOf(id),
      publicKeyOf: other => this.keys.get(other)?.publicKey,
      tickMs: this.tickMs,
      snapshotInterval: this.snapshotInterval,
      ...(this.o.maxPendingRequests !== undefined ? { maxPendingRequests: this.o.maxPendingRequests } : {}),
      observer: this.observer,
      ...(factory !== undefined ? { replicaFactory: factory } : {}),
    })
    host.setClockRate(this.clockRates.get(id) ?? 1)
    this.network.setDown(id, false)
    this.conflictOrder?.restarted(id)
    try {
      host.start()
    } catch (e) {
      // A replica must refuse damaged storage rather than start from it: it stays down, as an operator would find it.
      if (!(e instanceof StorageCorruptionError)) throw e
      host.stop()
      this.network.setDown(id, true)
      this.hosts.delete(id)
      this.refused.set(id, e.message)
      return null
    }
    this.hosts.set(id, host)
    const lost = this.storages.get(id)!.undetectedLoss
    if (lost !== null && !this.amnesiac.has(id)) {
      // A lying fsync whose loss no later write revealed: the replica restarted having forgotten what it acknowledged.
      this.amnesiac.set(id, lost)
      this.faultLog.push({ at: this.sim.now(), description: `replica ${id} restarted without writes a lying fsync lost, undetected: ${lost}` })
    }
    return host
  }

  private newClient(id: NodeId): ClientHost {
    return createClientHost({
      descriptor: this.protocol,
      id,
      replicas: this.replicaIds,
      preferredReplica: this.nearestReplica(id),
      protocolOptions: this.protocolOptions,
      transport: this.network.endpoint(id),
      runtime: this.sim,
      rng: this.rng.fork(`client-${id}`),
      signer: this.signerOf(id),
      tickMs: this.tickMs,
      ...(this.o.clientSessions !== undefined ? { sessions: this.o.clientSessions } : {}),
    })
  }

  /**
   * The replica a client should ask first: one in its own region (spread over them by client), else one in the region
   * with the shortest round trip. Without regions, clients are spread over all replicas.
   */
  private nearestReplica(client: NodeId): NodeId {
    const rtt = this.o.network?.regions?.rttMs
    const home = this.placement.get(client) ?? 0
    const distance = (id: NodeId) => rtt === undefined ? 0 : rtt[home]![this.placement.get(id) ?? 0]!
    const best = Math.min(...this.replicaIds.map(distance))
    const nearest = this.replicaIds.filter(id => distance(id) === best)
    // The clients of one region take its replicas in turn.
    let rank = 0
    for (let c = FIRST_CLIENT_ID; c < client; c++) if ((this.placement.get(c) ?? 0) === home) rank++
    return nearest[rank % nearest.length]!
  }

  /** The region index of a replica or client (0 without regions). */
  regionOf(id: NodeId): number {
    return this.placement.get(id) ?? 0
  }

  /** The running host of replica `id`; throws if it is down. */
  host(id: NodeId): ReplicaHost {
    const h = this.hosts.get(id)
    if (h === undefined || this.network.isDown(id)) throw new Error(`replica ${id} is not running`)
    return h
  }

  /** The replica object itself (tests call protocol-specific methods such as membership changes on it). */
  replica<R = Replica<unknown>>(id: NodeId): R {
    return this.host(id).replica as R
  }

  storage(id: NodeId): MemoryStorage {
    return this.storages.get(id)!
  }

  isUp(id: NodeId): boolean {
    return this.hosts.has(id) && !this.network.isDown(id)
  }

  get upReplicas(): NodeId[] {
    return [...this.hosts.keys()].filter(id => this.isUp(id))
  }

  /**
   * The live replica that claims leadership with the highest epoch, or null. Leaderless protocols have no leader: the
   * busiest live replica (most client requests received, lowest id on ties) stands in for it.
   */
  leader(): NodeId | null {
    if (this.protocol.leaderless === true) return this.busiestReplica()
    let best: NodeId | null = null
    let bestEpoch = -1
    for (const id of this.upReplicas) {
      const s = this.hosts.get(id)!.status()
      if (s.leader === id && s.epoch > bestEpoch) { best = id; bestEpoch = s.epoch }
    }
    return best
  }

  /** stateDigest() of every up honest replica that has one (eventual consistency: did they converge?). */
  stateDigests(): Record<NodeId, string> {
    const out: Record<NodeId, string> = {}
    for (const id of this.upReplicas.sort((a, b) => a - b)) {
      if (this.untrusted.has(id)) continue
      const digest = this.hosts.get(id)!.replica.stateDigest?.()
      if (digest !== undefined) out[id] = digest
    }
    return out
  }

  /**
   * Which up honest replicas hold a different state from the most advanced one (highest applied index, lowest id on
   * ties), and every such replica's applied index: after the final heal and the settle, a replica still behind is one
   * the protocol left out (it would be no fault slack if another replica failed). Compares state machine snapshots.
   */
  replicasBehind(): { readonly replicas: NodeId[]; readonly applied: Record<NodeId, number> } {
    const applied: Record<NodeId, number> = {}
    const digests = new Map<NodeId, string>()
    let ahead: NodeId | null = null
    for (const id of this.upReplicas.sort((a, b) => a - b)) {
      if (this.untrusted.has(id)) continue
      const host = this.hosts.get(id)!
      applied[id] = host.status().appliedIndex
      digests.set(id, createHash('sha256').update(host.stateMachine.snapshot()).digest('hex'))
      if (ahead === null || applied[id] > applied[ahead]!) ahead = id
    }
    const reference = ahead === null ? undefined : digests.get(ahead)
    return { replicas: [...digests].filter(([, d]) => d !== reference).map(([id]) => id), applied }
  }

  private busiestReplica(): NodeId | null {
    let best: NodeId | null = null
    let most = -1
    for (const id of this.upReplicas.sort((a, b) => a - b)) {
      if (this.untrusted.has(id)) continue
      const received = this.hosts.get(id)!.status().requestsReceived
      if (received > most) { best = id; most = received }
    }
    return best
  }

  /** Power loss: the host stops, unsynced writes are lost, messages to it are dropped. */
  crash(id: NodeId): void {
    const h = this.hosts.get(id)
    if (h === undefined || this.network.isDown(id)) return
    h.stop()
    this.runtimes.get(id)?.discard()
    this.pausedAt.delete(id)
    this.storages.get(id)!.crash()
    this.network.setDown(id, true)
    this.crashedAt.set(id, this.sim.now())
  }

  /** Start a fresh process for `id` that recovers from its storage (false if it refused the storage). */
  restart(id: NodeId): boolean {
    if (!this.network.isDown(id) || this.refused.has(id) || this.retired.has(id)) return false
    this.crashedAt.delete(id)
    return this.startHost(id) !== null
  }

  /** Stop `id` processing (it keeps its state; what arrives waits), as a long GC pause or SIGSTOP would. */
  pause(id: NodeId): void {
    if (!this.isUp(id) || this.pausedAt.has(id)) return
    this.runtimeOf(id).pause()
    this.pausedAt.set(id, this.sim.now())
  }

  resume(id: NodeId): void {
    if (!this.pausedAt.delete(id)) return
    this.runtimeOf(id).resume()
  }

  isPaused(id: NodeId): boolean {
    return this.pausedAt.has(id)
  }

  /** Set replica `id`'s clock rate (clock drift) from its next tick on. */
  setClockRate(id: NodeId, rate: number): void {
    this.hosts.get(id)?.setClockRate(rate)
  }

  private baseClockRate(id: NodeId): number {
    return this.clockRates.get(id) ?? 1
  }

  /** Start a new, empty replica (membership changes): `members` is what it is told at creation. */
  addReplica(id: NodeId, members: readonly NodeId[]): ReplicaHost {
    if (this.hosts.has(id)) throw new Error(`replica ${id} exists`)
    if (!this.keys.has(id)) {
      const privateKey = generatePrivateKey(this.rng.fork(`key-${id}`))
      this.keys.set(id, { privateKey, publicKey: this.scheme.publicKeyOf(privateKey) })
    }
    this.storages.set(id, this.newStorage(id))
    this.members.set(id, members)
    if (!this.replicaIds.includes(id)) this.replicaIds.push(id)
    const host = this.startHost(id)
    if (host === null) throw new Error(`replica ${id} refused its fresh storage`)
    return host
  }

  /** Replica-to-replica counters (the protocol channel of replicas only). */
  replicaStats(): MessageStats {
    return this.network.totals(this.replicaIds)
  }

  /** Carry out a fault now; returns what happened for the fault log. */
  inject(action: FaultAction): string {
    const maxCrashed = this.o.maxCrashed ?? Math.max(1, this.protocol.faultsTolerated(this.n))
    const oldest = (since: ReadonlyMap<NodeId, number>): NodeId | null => {
      let first: NodeId | null = null
      for (const [id, t] of since) if (first === null || t < since.get(first)!) first = id
      return first
    }
    const resolve = (ref: NodeRef): NodeId | null => {
      if (ref === 'leader') return this.leader()
      if (ref === 'crashed') return oldest(this.crashedAt)
      if (ref === 'paused') return oldest(this.pausedAt)
      if (ref === 'refused') return [...this.refused.keys()].find(id => !this.replacing.has(id)) ?? null
      if (ref === 'all') return null
      return ref
    }
    if (isNodeFault(action)) {
      return injectNodeFault({
        crashedAt: this.crashedAt, pausedAt: this.pausedAt, refused: this.refused, isUp: id => this.isUp(id),
        up: () => this.upReplicas, crash: id => this.crash(id), restart: id => this.restart(id),
        pause: id => this.pause(id), resume: id => this.resume(id),
      }, action, resolve, maxCrashed, 'replica')
    }
    switch (action.kind) {
      case 'clock': {
        if (action.node === 'all') {
          for (const id of this.replicaIds) this.setClockRate(id, this.baseClockRate(id) * action.rate)
          return action.rate === 1 ? 'clocks back to their base rates' : `every clock at ${action.rate}x its base rate`
        }
        const id = resolve(action.node)
        if (id === null || !this.hosts.has(id)) return 'skipped: no such replica now'
        this.setClockRate(id, this.baseClockRate(id) * action.rate)
        return `clock of ${id} at ${action.rate}x`
      }
      case 'corrupt': {
        const id = resolve(action.node)
        if (id === null || this.refused.has(id)) return 'skipped: no such replica now'
        // Damaging a further replica's disk beyond the crash budget would only show that quorums need replicas; and a
        // refused replica stays down for good, so damage is limited to the faults the protocol tolerates (the
        // baseline's budget of one crash is for crashes it recovers from).
        const lasting = Math.min(maxCrashed, this.protocol.faultsTolerated(this.n))
        if (this.refused.size + this.crashedAt.size >= lasting) return `skipped: ${lasting} replicas already down or damaged (tolerated: ${lasting})`
        const what = this.storages.get(id)!.corrupt(this.rng.fork(`corrupt-${id}-${this.sim.now()}`))
        return what === null ? `skipped: replica ${id} has stored nothing yet` : `storage of ${id}: ${what}`
      }
      case 'replace': {
        const id = resolve(action.node)
        if (id === null) return action.node === 'refused' ? 'skipped: no refused replica to replace' : 'skipped: no such replica now'
        return this.replace(id)
      }
      case 'transfer': {
        const id = resolve(action.node)
        const leader = this.leader()
        if (id === null || leader === null) return 'skipped: no leader or target now'
        const refusal = this.hosts.get(leader)!.admin({ kind: 'transfer-leadership', to: id })
        return refusal === null ? `leader ${leader} transfers to ${id}` : `skipped: ${refusal}`
      }
      case 'lose-sync': {
        const id = resolve(action.node)
        if (id === null || this.refused.has(id)) return 'skipped: no such replica now'
        this.storages.get(id)!.loseNextSync()
        return `the next fsync of ${id} will lie`
      }
      default:
        return injectNetworkFault(this.network, action, resolve, () => [...this.replicaIds, ...this.clients.map(c => c.id)])
    }
  }

  /** Schedule faults at their times (relative to now). */
  schedule(faults: readonly ScheduledFault[]): void {
    const start = this.sim.now()
    for (const f of faults) {
      this.sim.at(start + f.at, () => {
        const outcome = this.inject(f.action)
        this.faultLog.push({
          at: this.sim.now(),
          description: `${describeFault(f)} -> ${outcome}`,
          ...(outcome.startsWith('skipped') ? { skipped: outcome } : {}),
        })
      })
    }
  }

  /**
   * The operator's way back for a replica whose storage was refused (or any replica): a fresh replica with a new id
   * takes its place through membership changes, one server at a time: remove the old one, add the new one as a
   * learner, promote it once it has caught up (it must not vote on what it lacks). Runs as a background procedure,
   * step by step as the leader accepts each change; progress goes to the fault log. Reusing the old id with an empty
   * disk would be unsafe: the replica may have voted or acknowledged entries it no longer knows of.
   */
  replace(old: NodeId): string {
    const running = this.upReplicas[0]
    if (running === undefined) return 'skipped: no replica running'
    const probe = this.hosts.get(running)!.replica
    if (probe.admin === undefined || probe.membership === undefined) return `skipped: ${this.protocol.name} has no membership changes`
    if (this.replacing.has(old)) return `skipped: replica ${old} is already being replaced`
    // Ids are reserved when a replacement starts, so two running at once never pick the same one.
    this.nextFreshId = Math.max(this.nextFreshId, ...this.replicaIds.map(id => id + 1))
    const fresh = this.nextFreshId++
    this.replacing.add(old)
    const deadline = this.sim.now() + 30_000
    const log = (what: string) => this.faultLog.push({ at: this.sim.now(), description: `replace ${old}: ${what}` })
    const step = (): void => {
      const leader = this.leader()
      const host = leader === null ? undefined : this.hosts.get(leader)
      const m = host?.replica.membership?.()
      if (host !== undefined && m !== undefined) {
        let refusal: string | null = 'waiting'
        if (m.voters.includes(old) || m.learners.includes(old)) {
          refusal = host.admin({ kind: 'remove', id: old })
          if (refusal === null) log(`removal of ${old} proposed at leader ${leader}`)
        } else if (!this.hosts.has(fresh)) {
          this.addReplica(fresh, [])
          log(`started fresh replica ${fresh}`)
        } else if (!m.voters.includes(fresh) && !m.learners.includes(fresh)) {
          refusal = host.admin({ kind: 'add-learner', id: fresh })
          if (refusal === null) log(`learner ${fresh} proposed`)
        } else if (m.learners.includes(fresh)) {
          refusal = host.admin({ kind: 'promote', id: fresh })
          if (refusal === null) log(`promotion of ${fresh} proposed (caught up)`)
        } else {
          // The replaced replica is gone for good (stopped if it still ran): it no longer counts against the budget.
          if (this.isUp(old)) this.crash(old)
          this.retired.add(old)
          this.refused.delete(old)
          this.crashedAt.delete(old)
          this.replacing.delete(old)
          log(`done: ${fresh} is a voter in place of ${old}`)
          return
        }
      }
      if (this.sim.now() >= deadline) { this.replacing.delete(old); log('gave up after 30 s'); return }
      this.sim.setTimer(50, step)
    }
    this.sim.setTimer(0, step)
    return `replacing ${old} by fresh replica ${fresh}`
  }

  /** Note the first index newly committed (applied by an honest replica) at or after virtual time `t`. */
  watchCommitsFrom(t: number): void {
    this.commitWatchFrom = t
    this.firstCommitWatched = null
  }

  /** Virtual time of the first new commit since watchCommitsFrom's time, or null if none yet. */
  get firstCommitSinceWatch(): number | null {
    return this.firstCommitWatched
  }

  /** Everything healed, every replica up (but those that refused their storage), resumed, clocks at base rates. */
  healAll(): void {
    this.network.heal()
    this.network.faults.loss = this.network.faults.duplicate = this.network.faults.reorder = 0
    for (const id of [...this.pausedAt.keys()]) this.resume(id)
    for (const id of [...this.crashedAt.keys()]) this.restart(id)
    for (const id of this.replicaIds) this.setClockRate(id, this.baseClockRate(id))
  }

  private checkApplied(host: NodeId, entry: CommittedEntry): void {
    if (this.untrusted.has(host)) return
    if (this.conflictOrder !== null) {
      if (this.firstCommitWatched === null && this.sim.now() >= this.commitWatchFrom) this.firstCommitWatched = this.sim.now()
      const violation = this.conflictOrder.executed(host, entry.requests, entry.index)
      if (violation !== null && this.safetyViolations.length < 20) this.safetyViolations.push(violation)
      return
    }
    const outcome = this.agreement.applied(host, entry)
    if (outcome === 'first') {
      if (this.firstCommitWatched === null && this.sim.now() >= this.commitWatchFrom) this.firstCommitWatched = this.sim.now()
    } else if (outcome !== 'same' && this.safetyViolations.length < 20) {
      this.safetyViolations.push(outcome)
    }
  }
}

export function createSimCluster(options: SimClusterOptions): SimCluster {
  return new SimCluster(options)
}
