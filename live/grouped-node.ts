/**
 * A live replica of a sharded cluster (cluster.json with a `groups` section): a GroupNode hosting this replica's
 * share of the groups (ring placement), every group's frames over the replica's one libp2p connection per peer
 * (GroupMux), every group's state in the replica's dataDir (node-grouped-storage.ts). createNode picks this form when
 * the config has groups; the admin socket's `status` then reports each group (leader, epoch, commitIndex).
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import type { Server } from 'node:net'
import { describeAdminCommand } from '../core/admin-commands.ts'
import { createGroupNode, type GroupNode } from '../core/groups/group-node.ts'
import type { GroupId } from '../core/groups/range-map.ts'
import { createKvStore } from '../core/kv.ts'
import { createLogger } from '../core/logger.ts'
import type { TypeCount } from '../core/message-stats.ts'
import type { AnyProtocol } from '../core/protocol.ts'
import { createRng } from '../core/random.ts'
import { realRuntime } from '../core/runtime.ts'
import { signatureScheme } from '../core/signers/index.ts'
import type { NodeId } from '../core/types.ts'
import { createLibp2pTransport, type Libp2pTransport } from '../net/libp2p/index.ts'
import type { Libp2p } from '@libp2p/interface'
import { startAdminServer, type AdminRequest } from './admin.ts'
import { clusterStack, configPath, type ClusterConfig } from './config.ts'
import { resolveGroups } from './groups-config.ts'
import type { KeyPair } from './keys.ts'
import { openGroupedStorage, type NodeGroupedStorage } from './node-grouped-storage.ts'

/** One group's line in a grouped replica's status. */
export interface GroupStatusRow {
  readonly group: GroupId
  readonly role: string
  readonly leader: NodeId | null
  readonly epoch: number
  readonly commitIndex: number
  readonly appliedIndex: number
}

/** The admin socket's `status` of a replica with groups. */
export interface GroupedNodeStatus {
  readonly id: NodeId
  readonly protocol: string
  readonly peers: readonly NodeId[]
  readonly blocked: readonly NodeId[]
  /** Every group this replica hosts, by group id. */
  readonly groups: readonly GroupStatusRow[]
  /** Groups this replica leads now. */
  readonly leading: number
  /** Log fsyncs of the replica's storage so far (all groups). */
  readonly fsyncs: number
  /** Sum over groups: commands applied. */
  readonly commandsApplied: number
  /** Wire frames sent by type ('GroupFrames' for grouped traffic). */
  readonly messagesSent: Record<string, TypeCount>
  /** Protocol messages the groups sent, by type, before coalescing. */
  readonly groupMessagesSent: Record<string, TypeCount>
  readonly framesRejected: Readonly<Record<string, number>>
  readonly framesReceived: number
  readonly transfersAsked: number
}

export interface GroupedReplica {
  readonly id: NodeId
  readonly groups: GroupNode
  readonly transport: Libp2pTransport
  readonly storage: NodeGroupedStorage
  status(): GroupedNodeStatus
  close(): Promise<void>
}

export interface GroupedReplicaOptions {
  readonly config: ClusterConfig
  readonly id: NodeId
  readonly key: KeyPair
  readonly protocol: AnyProtocol
  readonly addressBook: Parameters<typeof createLibp2pTransport>[0]['peers']
  readonly publicKeyOf: (id: NodeId) => Uint8Array | undefined
  readonly adminSocket: string | null
  readonly libp2p?: Libp2p
}

export async function createGroupedReplica(o: GroupedReplicaOptions): Promise<GroupedReplica> {
  const { config, protocol } = o
  const me = config.replicas.find(r => r.id === o.id)!
  const { placements } = resolveGroups(config.groups!, config.replicas.map(r => r.id), protocol)
  const log = createLogger(`consensus:node:${me.id}`)
  const dataDir = configPath(config, me.dataDir)
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const storage = openGroupedStorage({ dir: dataDir, fsync: config.fsync as 'always' | 'batch' | 'none' })
  let transport: Libp2pTransport
  try {
    transport = await createLibp2pTransport({
      id: me.id, peers: o.addressBook, maxFrameBytes: config.maxFrameBytes,
      stack: clusterStack(config), dissemination: config.dissemination,
      ...(o.libp2p !== undefined ? { node: o.libp2p } : { privateKey: o.key.privateKey }),
    })
  } catch (e) {
    storage.close() // releases the data directory's locks, so this process can try again
    throw e
  }
  const scheme = signatureScheme(config.signer as 'node' | 'tweetnacl')
  const mux = { rejected: 0 }
  let node: GroupNode
  try {
    node = createGroupNode({
      descriptor: protocol, id: me.id, placements, protocolOptions: config.protocolOptions,
      transport,
      // Frames queued by every group in this turn (one tick of all of them, one burst of replies) leave together.
      endOfTurn: fn => { setImmediate(fn) },
      storage, runtime: realRuntime, stateMachine: createKvStore,
      // Live runs are not replayed: seed election jitter and backoff from the OS.
      rng: createRng(randomBytes(8).toString('hex')),
      signer: scheme.signer(o.key.privateKey), verifier: scheme.verifier, publicKeyOf: o.publicKeyOf,
      tickMs: config.tickMs,
      ...(config.snapshotInterval !== undefined ? { snapshotInterval: config.snapshotInterval } : {}),
      ...(config.maxPendingRequests !== undefined ? { maxPendingRequests: config.maxPendingRequests } : {}),
      onReject: (from, reason) => { mux.rejected++; log('refused a frame from %d: %s', from, reason) },
    })
    node.start()
  } catch (e) {
    // Bad options or a refused log (StorageCorruptionError): release the port and the data directory first.
    await transport.stop()
    storage.close()
    throw e
  }
  let blocked: NodeId[] = []
  const status = (): GroupedNodeStatus => {
    const groups = node.status().map(s => ({
      group: s.group, role: s.role, leader: s.leader, epoch: s.epoch, commitIndex: s.commitIndex, appliedIndex: s.appliedIndex,
    }))
    let applied = 0
    for (const h of node.hosts.values()) applied += h.status().commandsApplied
    return {
      id: me.id, protocol: protocol.name,
      peers: config.replicas.map(r => r.id).filter(id => id !== me.id), blocked,
      groups, leading: groups.filter(g => g.leader === me.id).length,
      fsyncs: storage.stats.fsyncs, commandsApplied: applied,
      messagesSent: transport.stats.snapshot(), groupMessagesSent: node.mux.groupStats().snapshot(),
      framesRejected: { ...transport.rejected, ...(mux.rejected > 0 ? { group: mux.rejected } : {}) },
      framesReceived: transport.received.frames, transfersAsked: node.transfersAsked,
    }
  }
  // Every group's applied index and state, hashed in one turn; equal on replicas that host the same groups.
  const digest = () => {
    const hash = createHash('sha256')
    let appliedIndex = 0
    for (const [group, host] of [...node.hosts].sort(([a], [b]) => a - b)) {
      appliedIndex += host.status().appliedIndex
      hash.update(`group ${group}\n`).update(host.replica.stateDigest?.() ?? host.stateMachine.snapshot())
    }
    return { appliedIndex, sha256: hash.digest('hex') }
  }
  let admin: Server | null = null
  if (o.adminSocket !== null) {
    mkdirSync(configPath(config, config.runDir), { recursive: true, mode: 0o700 })
    admin = await startAdminServer(o.adminSocket, (request: AdminRequest) => {
      switch (request.cmd) {
        case 'status': return status()
        case 'digest': return digest()
        case 'block': blocked = [...request.peers]; transport.setBlocked(new Set(blocked)); return { blocked }
        case 'heal': blocked = []; transport.setBlocked(new Set()); return { blocked }
        case 'clock': for (const h of node.hosts.values()) h.setClockRate(request.rate); return { clockRate: request.rate }
        case 'admin':
          throw new Error(`${describeAdminCommand(request.command)} refused: admin commands name no group; with groups, leaderships are placed by the balancer`)
      }
    })
  }
  log('replica %s of %s started: %d groups (%s, fsync %s)', me.id, protocol.name, node.hosts.size, me.address, config.fsync)
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    node.stop()
    await new Promise<void>(resolve => admin === null ? resolve() : admin.close(() => resolve()))
    await transport.stop()
    storage.close()
  }
  return { id: me.id, groups: node, transport, storage, status, close }
}
