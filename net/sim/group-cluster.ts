/**
 * A simulated multi-group deployment: `nodes` nodes, each a GroupNode hosting its share of `groups` consensus groups
 * (ring placement, `replication` replicas per group, preferred leaders spread), one shared group-commit log per node,
 * one simulated connection per node pair carrying every group's frames, and clients that route by key through the
 * range map. Faults act on nodes (a crash takes down every group on the node, a restart recovers all of them from the
 * node's one log) and on the network; the same seed gives the same trace.
 *
 * Safety is checked per group (the same batch at the same index on every replica of a group; per-key order for
 * partial-order protocols), and histories across groups go to the same per-key linearizability checker: each key
 * lives in one group, so the store is linearizable when every group is.
 */
import { ConfigError } from '../../core/errors.ts'
import { createGroupClient, type GroupClient } from '../../core/groups/group-client.ts'
import { createGroupNode, type GroupNode } from '../../core/groups/group-node.ts'
import { ringPlacement, type GroupPlacement } from '../../core/groups/placement.ts'
import type { GroupId, RangeMap } from '../../core/groups/range-map.ts'
import type { HostObserver } from '../../core/host.ts'
import { createKvStore } from '../../core/kv.ts'
import { MessageStats } from '../../core/message-stats.ts'
import type { AnyProtocol } from '../../core/protocol.ts'
import { createRng, type Rng } from '../../core/random.ts'
import type { SignerName } from '../../core/signer.ts'
import { generatePrivateKey, signatureScheme, SIMULATION_SIGNER } from '../../core/signers/index.ts'
import type { StateMachineFactory } from '../../core/state-machine.ts'
import { GroupedMemoryStorage } from '../../core/storage/grouped-memory-storage.ts'
import { StorageCorruptionError } from '../../core/storage/record-framing.ts'
import type { Transport } from '../../core/transport.ts'
import type { CommittedEntry, NodeId } from '../../core/types.ts'
import { conflictKeysFunction } from '../../core/conflicts.ts'
import { AgreementCheck } from './agreement-check.ts'
import { FIRST_CLIENT_ID, type InjectedFault } from './cluster.ts'
import { ConflictOrderCheck } from './conflict-order.ts'
import { chargedSigner, chargedVerifier, validateCpuModel, type CpuModel } from './cpu.ts'
import { describeFault, type FaultAction, type NodeRef, type ScheduledFault } from './faults.ts'
import { validateLatency, type LatencyDistribution } from './latency.ts'
import { SimNetwork } from './network.ts'
import { injectNetworkFault, isNetworkFault } from './network-faults.ts'
import { injectNodeFault, isNodeFault } from './node-faults.ts'
import { NodeRuntime } from './node-runtime.ts'
import { Simulator } from './simulator.ts'

/**
 * Share of a frame's fixed CPU cost (cpu.ts receiveUs / sendUs) that is protocol work (decode, the protocol step,
 * host bookkeeping) rather than transport work (syscall, framing, encryption). A wire frame carrying k group frames
 * costs the node one frame's fixed cost plus this share for each of the k - 1 others: coalescing saves the transport
 * part only. An assumption, stated here and in the bench report, not a measurement.
 */
export const INNER_FRAME_SHARE = 0.5

export interface SimGroupClusterOptions {
  readonly protocol: AnyProtocol
  /** Nodes (each hosts many groups). */
  readonly nodes: number
  /** The key ranges, one per group (groups are the range map's). */
  readonly ranges: RangeMap
  /** Replicas per group (default: every node). */
  readonly replication?: number
  readonly seed: number | string
  readonly protocolOptions?: Readonly<Record<string, unknown>>
  readonly clients?: number
  /** Requests each client keeps in flight per group (default 1). */
  readonly clientSessions?: number
  readonly latency?: LatencyDistribution
  readonly tickMs?: number
  readonly snapshotInterval?: number
  /** Virtual time one fsync of a node's shared log takes (default 0). */
  readonly fsyncMs?: number
  readonly signer?: SignerName
  readonly cpu?: CpuModel
  readonly stateMachine?: StateMachineFactory
  /** Coalesce frames per peer and turn (default true). */
  readonly coalesce?: boolean
  /** Move leaderships to their preferred nodes (default true). */
  readonly balanceLeaders?: boolean
  /** At most this many nodes down at once for scheduled faults (default: f of one group, at least 1). */
  readonly maxCrashed?: number
  readonly decodeEveryFrame?: boolean
}

export class SimGroupCluster {
  readonly sim = new Simulator()
  readonly network: SimNetwork
  readonly protocol: AnyProtocol
  readonly nodeIds: NodeId[]
  readonly placements: readonly GroupPlacement[]
  readonly ranges: RangeMap
  readonly clients: GroupClient[] = []
  readonly faultLog: InjectedFault[] = []
  readonly safetyViolations: string[] = []
  readonly rejectedFrames: { readonly node: NodeId; readonly from: NodeId; readonly reason: string }[] = []
  rejectedFrameCount = 0
  /** Nodes whose shared log was refused at start (damage detected): down for good. */
  readonly refused = new Map<NodeId, string>()
  /** Nodes that restarted having lost acknowledged writes (an undetected lying fsync). */
  readonly amnesiac = new Map<NodeId, string>()
  readonly tickMs: number
  private readonly o: SimGroupClusterOptions
  private readonly rng: Rng
  private readonly nodesById = new Map<NodeId, GroupNode>()
  private readonly storages = new Map<NodeId, GroupedMemoryStorage>()
  private readonly runtimes = new Map<NodeId, NodeRuntime>()
  private readonly keys = new Map<NodeId, { privateKey: Uint8Array; publicKey: Uint8Array }>()
  private readonly crashedAt = new Map<NodeId, number>()
  private readonly pausedAt = new Map<NodeId, number>()
  private readonly agreement = new Map<GroupId, AgreementCheck>()
  private readonly conflictOrder = new Map<GroupId, ConflictOrderCheck>()
  private readonly scheme
  private commitWatchFrom = Infinity
  private firstCommitWatched: number | null = null

  constructor(options: SimGroupClusterOptions) {
    this.o = options
    this.protocol = options.protocol
    if (!Number.isInteger(options.nodes) || options.nodes < 1) throw new ConfigError('nodes', `expected an integer >= 1, got ${options.nodes}`)
    const replication = options.replication ?? options.nodes
    const sizeError = options.protocol.checkClusterSize(replication)
    if (sizeError !== null) throw new ConfigError('replication', sizeError)
    this.tickMs = options.tickMs ?? 10
    if (!(this.tickMs > 0)) throw new ConfigError('tickMs', `must be > 0, got ${this.tickMs}`)
    if (options.cpu !== undefined) validateCpuModel(options.cpu)
    const latency = options.latency ?? { kind: 'uniform', minMs: 0.2, maxMs: 1 }
    validateLatency(latency, 'latency')
    this.rng = createRng(options.seed)
    this.scheme = signatureScheme(options.signer ?? SIMULATION_SIGNER)
    this.nodeIds = [...Array(options.nodes).keys()]
    this.ranges = options.ranges
    this.placements = ringPlacement(options.ranges.groups, this.nodeIds, replication)
    this.network = new SimNetwork(this.sim, this.rng.fork('network'), {
      latency, ...(options.cpu !== undefined ? { cpu: options.cpu } : {}),
      ...(options.decodeEveryFrame === true ? { decodeEveryFrame: true } : {}),
    })
    const clientCount = options.clients ?? 0
    const keyRng = this.rng.fork('keys')
    for (const id of [...this.nodeIds, ...Array.from({ length: clientCount }, (_, i) => FIRST_CLIENT_ID + i)]) {
      const privateKey = generatePrivateKey(keyRng)
      this.keys.set(id, { privateKey, publicKey: this.scheme.publicKeyOf(privateKey) })
    }
    const partial = options.protocol.order === 'partial'
    const keysOf = conflictKeysFunction((options.stateMachine ?? createKvStore)())
    for (const p of this.placements) {
      if (partial) this.conflictOrder.set(p.group, new ConflictOrderCheck(keysOf))
      else this.agreement.set(p.group, new AgreementCheck())
    }
    for (const id of this.nodeIds) {
      this.storages.set(id, new GroupedMemoryStorage({ fsync: done => { this.runtimeOf(id).setTimer(options.fsyncMs ?? 0, done) } }))
      this.startNode(id)
    }
    const stateMachine = (options.stateMachine ?? createKvStore)()
    for (let i = 0; i < clientCount; i++) {
      const id = FIRST_CLIENT_ID + i
      this.clients.push(createGroupClient({
        descriptor: this.protocol, id, placements: this.placements, ranges: this.ranges,
        ...(options.protocolOptions !== undefined ? { protocolOptions: options.protocolOptions } : {}),
        transport: this.network.endpoint(id), endOfTurn: fn => { this.sim.setTimer(0, fn) },
        ...(options.coalesce !== undefined ? { coalesce: options.coalesce } : {}),
        onWireFrame: this.innerFrameCharge(id),
        runtime: this.sim, rng: this.rng.fork(`client-${id}`),
        signer: chargedSigner(this.network, options.cpu, id, this.scheme.signer(this.keys.get(id)!.privateKey)),
        tickMs: this.tickMs, keysOf: op => stateMachine.keysOf?.(op) ?? [],
        ...(options.clientSessions !== undefined ? { sessions: options.clientSessions } : {}),
      }))
    }
  }

  private runtimeOf(id: NodeId): NodeRuntime {
    let r = this.runtimes.get(id)
    if (r === undefined) {
      r = new NodeRuntime(this.sim)
      this.runtimes.set(id, r)
    }
    return r
  }

  /** The CPU model's charge for the group frames a wire frame carries beyond the first (INNER_FRAME_SHARE). */
  private innerFrameCharge(id: NodeId): ((direction: 'send' | 'receive', frames: number) => void) | undefined {
    const cpu = this.o.cpu
    if (cpu === undefined) return undefined
    return (direction, frames) => {
      if (frames > 1) this.network.charge(id, (frames - 1) * INNER_FRAME_SHARE * (direction === 'send' ? cpu.sendUs : cpu.receiveUs))
    }
  }

  private startNode(id: NodeId): GroupNode | null {
    const runtime = new NodeRuntime(this.sim)
    this.runtimes.set(id, runtime)
    const endpoint = this.network.endpoint(id)
    // Frames reach the node through its process: while it is paused they wait (as in cluster.ts).
    const transport: Transport = {
      id, stats: endpoint.stats, send: (to, frame) => endpoint.send(to, frame),
      onFrame: handler => endpoint.onFrame((from, frame) => {
        if (runtime.isPaused) runtime.run(() => handler(from, frame))
        else handler(from, frame)
      }),
    }
    const observer = (group: GroupId): HostObserver => ({
      applied: (_host, entry) => this.checkApplied(group, id, entry),
      installedSnapshot: host => this.conflictOrder.get(group)?.installedSnapshot(host),
      rejected: (_host, from, reason) => this.reject(id, from, reason),
    })
    const node = createGroupNode({
      descriptor: this.protocol, id, placements: this.placements,
      ...(this.o.protocolOptions !== undefined ? { protocolOptions: this.o.protocolOptions } : {}),
      transport, endOfTurn: fn => { runtime.setTimer(0, fn) },
      ...(this.o.coalesce !== undefined ? { coalesce: this.o.coalesce } : {}),
      onWireFrame: this.innerFrameCharge(id),
      storage: this.storages.get(id)!, runtime, stateMachine: this.o.stateMachine ?? createKvStore,
      rng: this.rng.fork(`node-${id}-${this.sim.now()}`),
      signer: chargedSigner(this.network, this.o.cpu, id, this.scheme.signer(this.keys.get(id)!.privateKey)),
      verifier: chargedVerifier(this.network, this.o.cpu, id, this.scheme.verifier),
      publicKeyOf: other => this.keys.get(other)?.publicKey,
      tickMs: this.tickMs,
      ...(this.o.snapshotInterval !== undefined ? { snapshotInterval: this.o.snapshotInterval } : {}),
      ...(this.o.balanceLeaders !== undefined ? { balanceLeaders: this.o.balanceLeaders } : {}),
      observer, onReject: (from, reason) => this.reject(id, from, reason),
    })
    this.network.setDown(id, false)
    for (const p of node.placements) this.conflictOrder.get(p.group)?.restarted(id)
    try {
      node.start()
    } catch (e) {
      // Damaged storage in any group refuses the node, as a store with a corrupt engine refuses to start.
      if (!(e instanceof StorageCorruptionError)) throw e
      node.stop()
      this.network.setDown(id, true)
      this.nodesById.delete(id)
      this.refused.set(id, e.message)
      return null
    }
    this.nodesById.set(id, node)
    const storage = this.storages.get(id)!
    for (const g of storage.groups()) {
      const lost = storage.group(g).undetectedLoss
      if (lost !== null && !this.amnesiac.has(id)) {
        this.amnesiac.set(id, `group ${g}: ${lost}`)
        this.faultLog.push({ at: this.sim.now(), description: `node ${id} restarted without writes a lying fsync lost, undetected: group ${g}: ${lost}` })
      }
    }
    return node
  }

  private reject(node: NodeId, from: NodeId, reason: string): void {
    this.rejectedFrameCount++
    if (this.rejectedFrames.length < 1000) this.rejectedFrames.push({ node, from, reason })
  }

  private checkApplied(group: GroupId, node: NodeId, entry: CommittedEntry): void {
    const order = this.conflictOrder.get(group)
    let first: boolean
    let violation: string | null
    if (order !== undefined) {
      violation = order.executed(node, entry.requests, entry.index)
      first = true
    } else {
      const outcome = this.agreement.get(group)!.applied(node, entry)
      first = outcome === 'first'
      violation = outcome === 'first' || outcome === 'same' ? null : outcome
    }
    if (first && this.firstCommitWatched === null && this.sim.now() >= this.commitWatchFrom) this.firstCommitWatched = this.sim.now()
    if (violation !== null && this.safetyViolations.length < 20) this.safetyViolations.push(`group ${group}: ${violation}`)
  }

  /** The running node `id`; throws if it is down. */
  node(id: NodeId): GroupNode {
    const n = this.nodesById.get(id)
    if (n === undefined || this.network.isDown(id)) throw new Error(`node ${id} is not running`)
    return n
  }

  storage(id: NodeId): GroupedMemoryStorage {
    return this.storages.get(id)!
  }

  isUp(id: NodeId): boolean {
    return this.nodesById.has(id) && !this.network.isDown(id)
  }

  get upNodes(): NodeId[] {
    return [...this.nodesById.keys()].filter(id => this.isUp(id))
  }

  /** Who leads each group, as the up node that claims it with the highest epoch (null: no leader now). */
  groupLeaders(): Map<GroupId, NodeId | null> {
    const out = new Map<GroupId, NodeId | null>()
    const best = new Map<GroupId, number>()
    for (const p of this.placements) out.set(p.group, null)
    for (const id of this.upNodes) {
      for (const s of this.nodesById.get(id)!.status()) {
        if (s.leader === id && s.epoch > (best.get(s.group) ?? -1)) { out.set(s.group, id); best.set(s.group, s.epoch) }
      }
    }
    return out
  }

  /**
   * The node leading the most groups (lowest id on ties), or null when no group has a leader: what a fault aimed at
   * "the leader" takes down. Leaderless protocols: the node that received the most client requests.
   */
  leader(): NodeId | null {
    const count = new Map<NodeId, number>()
    if (this.protocol.leaderless === true) {
      for (const id of this.upNodes) count.set(id, this.nodesById.get(id)!.status().reduce((sum, s) => sum + s.requestsReceived, 0))
    } else {
      for (const l of this.groupLeaders().values()) if (l !== null) count.set(l, (count.get(l) ?? 0) + 1)
    }
    let best: NodeId | null = null
    for (const [id, c] of [...count].sort((a, b) => a[0] - b[0])) if (best === null || c > count.get(best)!) best = id
    return best
  }

  /** Power loss of a node: every group on it stops, every group's unsynced writes are lost. */
  crash(id: NodeId): void {
    const node = this.nodesById.get(id)
    if (node === undefined || this.network.isDown(id)) return
    node.stop()
    this.runtimes.get(id)?.discard()
    this.pausedAt.delete(id)
    this.storages.get(id)!.crash()
    this.network.setDown(id, true)
    this.crashedAt.set(id, this.sim.now())
  }

  /** A fresh process for node `id` that recovers every group from its shared log (false if it refused the log). */
  restart(id: NodeId): boolean {
    if (!this.network.isDown(id) || this.refused.has(id)) return false
    this.crashedAt.delete(id)
    return this.startNode(id) !== null
  }

  pause(id: NodeId): void {
    if (!this.isUp(id) || this.pausedAt.has(id)) return
    this.runtimeOf(id).pause()
    this.pausedAt.set(id, this.sim.now())
  }

  resume(id: NodeId): void {
    if (!this.pausedAt.delete(id)) return
    this.runtimeOf(id).resume()
  }

  /** Protocol messages of every group, summed over nodes (what message complexity counts). */
  groupStats(): MessageStats {
    const out = new MessageStats()
    for (const id of this.nodeIds) { const node = this.nodesById.get(id); if (node !== undefined) out.merge(node.mux.groupStats()) }
    return out
  }

  /** Node-to-node wire frames (coalesced batches of group frames). */
  replicaStats(): MessageStats {
    return this.network.totals(this.nodeIds)
  }

  /** fsyncs of every node's shared log so far. */
  get fsyncs(): number {
    let n = 0
    for (const s of this.storages.values()) n += s.fsyncs
    return n
  }

  /** Carry out a fault now; returns what happened for the fault log. */
  inject(action: FaultAction): string {
    const maxCrashed = this.o.maxCrashed ?? Math.max(1, this.protocol.faultsTolerated(this.placements[0]?.replicas.length ?? 1))
    const oldest = (since: ReadonlyMap<NodeId, number>): NodeId | null => {
      let first: NodeId | null = null
      for (const [id, t] of since) if (first === null || t < since.get(first)!) first = id
      return first
    }
    const resolve = (ref: NodeRef): NodeId | null => {
      if (ref === 'leader') return this.leader()
      if (ref === 'crashed') return oldest(this.crashedAt)
      if (ref === 'paused') return oldest(this.pausedAt)
      if (ref === 'refused') return [...this.refused.keys()][0] ?? null
      if (ref === 'all') return null
      return ref
    }
    if (isNetworkFault(action)) return injectNetworkFault(this.network, action, resolve, () => [...this.nodeIds, ...this.clients.map(c => c.id)])
    if (isNodeFault(action)) {
      return injectNodeFault({
        crashedAt: this.crashedAt, pausedAt: this.pausedAt, refused: this.refused, isUp: id => this.isUp(id),
        up: () => this.upNodes, crash: id => this.crash(id), restart: id => this.restart(id),
        pause: id => this.pause(id), resume: id => this.resume(id),
      }, action, resolve, maxCrashed, 'node')
    }
    switch (action.kind) {
      case 'corrupt': {
        const id = resolve(action.node)
        if (id === null || this.refused.has(id)) return 'skipped: no such node now'
        // A refused node stays down for good: damage only as many nodes as a group tolerates.
        const lasting = Math.min(maxCrashed, this.protocol.faultsTolerated(this.placements[0]?.replicas.length ?? 1))
        if (this.refused.size + this.crashedAt.size >= lasting) return `skipped: ${lasting} nodes already down or damaged (tolerated: ${lasting})`
        const storage = this.storages.get(id)!
        const groups = storage.groups()
        if (groups.length === 0) return `skipped: node ${id} has stored nothing yet`
        const g = groups[this.rng.fork(`corrupt-${id}-${this.sim.now()}`).int(groups.length)]!
        const what = storage.group(g).corrupt(this.rng.fork(`corrupt-bit-${id}-${this.sim.now()}`))
        return what === null ? `skipped: group ${g} of node ${id} has stored nothing yet` : `storage of ${id}, group ${g}: ${what}`
      }
      case 'lose-sync': {
        const id = resolve(action.node)
        if (id === null || this.refused.has(id)) return 'skipped: no such node now'
        for (const g of this.storages.get(id)!.groups()) this.storages.get(id)!.group(g).loseNextSync()
        return `the next fsync of ${id} will lie`
      }
      case 'clock': case 'replace': case 'transfer':
        return `skipped: ${action.kind} is not modelled for multi-group clusters`
    }
  }

  schedule(faults: readonly ScheduledFault[]): void {
    const start = this.sim.now()
    for (const f of faults) {
      this.sim.at(start + f.at, () => {
        const outcome = this.inject(f.action)
        this.faultLog.push({
          at: this.sim.now(), description: `${describeFault(f)} -> ${outcome}`,
          ...(outcome.startsWith('skipped') ? { skipped: outcome } : {}),
        })
      })
    }
  }

  watchCommitsFrom(t: number): void {
    this.commitWatchFrom = t
    this.firstCommitWatched = null
  }

  get firstCommitSinceWatch(): number | null {
    return this.firstCommitWatched
  }

  healAll(): void {
    this.network.heal()
    this.network.faults.loss = this.network.faults.duplicate = this.network.faults.reorder = 0
    for (const id of [...this.pausedAt.keys()]) this.resume(id)
    for (const id of [...this.crashedAt.keys()]) this.restart(id)
  }
}

export function createSimGroupCluster(options: SimGroupClusterOptions): SimGroupCluster {
  return new SimGroupCluster(options)
}
