/**
 * A node that takes part in many consensus groups: one ReplicaHost per group (the replica contract is unchanged: each
 * group's replica is the protocol's own), all over one transport (GroupMux: one connection per peer, frames of every
 * group coalesced per turn) and one shared log (GroupedStorage: one fsync covers every group's writes). Every group's
 * host starts in the same turn with the same tick length, so their ticks come due together and the heartbeats they
 * send leave in one wire frame per peer. A LeaderBalancer moves leaderships to their preferred nodes.
 */
import { createReplicaHost, resolveSnapshotInterval, type HostObserver, type HostStatus, type ReplicaHost } from '../host.ts'
import type { AnyProtocol, Replica, ReplicaContext } from '../protocol.ts'
import type { Verifier } from '../signer.ts'
import type { StateMachineFactory } from '../state-machine.ts'
import type { GroupedStorage } from '../storage.ts'
import type { NodeId } from '../types.ts'
import { muxFor, type GroupMux, type GroupWiring } from './group-mux.ts'
import { LeaderBalancer } from './leader-balancer.ts'
import type { GroupPlacement } from './placement.ts'
import type { GroupId } from './range-map.ts'

/** A peer silent this long is not handed leaderships (it may be down, partitioned or paused). */
const PEER_SILENCE_MS = 1000

export interface GroupNodeOptions extends GroupWiring {
  readonly descriptor: AnyProtocol
  readonly id: NodeId
  readonly storage: GroupedStorage
  readonly stateMachine: StateMachineFactory
  readonly verifier: Verifier
  readonly publicKeyOf: (id: NodeId) => Uint8Array | undefined
  /** Configured snapshot interval (the protocol's required one wins, as for one group); default 500. */
  readonly snapshotInterval?: number
  /** Each group's host admits at most this many pending client requests (ReplicaHostOptions.maxPendingRequests). */
  readonly maxPendingRequests?: number
  /** Move leaderships to the preferred nodes (default true; `{ intervalMs }` to tune). */
  readonly balanceLeaders?: boolean | { readonly intervalMs: number }
  readonly observer?: (group: GroupId) => HostObserver | undefined
  readonly replicaFactory?: (group: GroupId) => ((ctx: ReplicaContext) => Replica<unknown>) | undefined
  /** A frame for a group not hosted here, or a malformed batch. */
  readonly onReject?: (from: NodeId, reason: string) => void
}

export class GroupNode {
  readonly id: NodeId
  readonly mux: GroupMux
  readonly placements: readonly GroupPlacement[]
  private readonly o: GroupNodeOptions
  private readonly hostsByGroup = new Map<GroupId, ReplicaHost>()
  private readonly balancer: LeaderBalancer | null

  constructor(options: GroupNodeOptions) {
    this.o = options
    this.id = options.id
    this.placements = options.placements.filter(p => p.replicas.includes(options.id))
    this.mux = muxFor(options, {
      ...(options.onReject !== undefined ? { onReject: options.onReject } : {}),
      now: () => options.runtime.now(),
    })
    for (const p of this.placements) {
      const protocolOptions = options.descriptor.parseOptions(options.protocolOptions ?? {}, p.replicas.length)
      const factory = options.replicaFactory?.(p.group)
      const observer = options.observer?.(p.group)
      this.hostsByGroup.set(p.group, createReplicaHost({
        descriptor: options.descriptor, id: options.id, members: p.replicas, protocolOptions,
        transport: this.mux.transportFor(p.group), storage: options.storage.group(p.group), runtime: options.runtime,
        stateMachine: options.stateMachine(), rng: options.rng.fork(`group-${p.group}`), signer: options.signer,
        verifier: options.verifier, publicKeyOf: options.publicKeyOf, tickMs: options.tickMs,
        snapshotInterval: resolveSnapshotInterval(options.descriptor, protocolOptions, options.snapshotInterval, 500),
        ...(options.maxPendingRequests !== undefined ? { maxPendingRequests: options.maxPendingRequests } : {}),
        ...(observer !== undefined ? { observer } : {}),
        ...(factory !== undefined ? { replicaFactory: factory } : {}),
      }))
    }
    const balance = options.balanceLeaders ?? true
    const transfers = options.descriptor.adminCommands?.includes('transfer-leadership') === true
    this.balancer = balance === false || !transfers ? null : new LeaderBalancer({
      id: options.id, runtime: options.runtime,
      ...(typeof balance === 'object' ? { intervalMs: balance.intervalMs } : {}),
      // Every group's leader heartbeats its followers, so a live peer is heard from many times a second.
      peerAlive: peer => {
        const heard = this.mux.lastHeardFrom(peer)
        return heard !== null && options.runtime.now() - heard < PEER_SILENCE_MS
      },
      groups: () => this.placements.map(p => {
        const host = this.hostsByGroup.get(p.group)!
        return { group: p.group, preferredLeader: p.preferredLeader, leader: () => host.status().leader, admin: c => host.admin(c) }
      }),
    })
  }

  get hosts(): ReadonlyMap<GroupId, ReplicaHost> {
    return this.hostsByGroup
  }

  host(group: GroupId): ReplicaHost {
    const h = this.hostsByGroup.get(group)
    if (h === undefined) throw new Error(`node ${this.id} does not host group ${group}`)
    return h
  }

  /** Recover every group from the shared log and start them (a StorageCorruptionError of any group refuses the node). */
  start(): void {
    for (const host of this.hostsByGroup.values()) host.start()
    this.balancer?.start()
  }

  stop(): void {
    this.balancer?.stop()
    for (const host of this.hostsByGroup.values()) host.stop()
  }

  status(): Array<HostStatus & { readonly group: GroupId }> {
    return [...this.hostsByGroup].map(([group, host]) => ({ ...host.status(), group }))
  }

  /** Groups this node leads now. */
  leading(): GroupId[] {
    return [...this.hostsByGroup].filter(([, h]) => h.status().leader === this.id).map(([g]) => g)
  }

  get transfersAsked(): number {
    return this.balancer?.transfersAsked ?? 0
  }
}

export function createGroupNode(options: GroupNodeOptions): GroupNode {
  return new GroupNode(options)
}
