/**
 * A live replica: the protocol's replica in a host, over the libp2p transport, with file-backed storage, as described
 * by a cluster config. This is the library form of `consensus node`.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import type { Server } from 'node:net'
import type { Server as HttpServer } from 'node:http'
import type { Libp2p } from '@libp2p/interface'
import type { Registry } from 'prom-client'
import { ConfigError } from '../core/errors.ts'
import { describeAdminCommand } from '../core/admin-commands.ts'
import { createReplicaHost, resolveSnapshotInterval, type HostStatus, type ReplicaHost } from '../core/host.ts'
import { createKvStore } from '../core/kv.ts'
import { createLogger } from '../core/logger.ts'
import { createRng } from '../core/random.ts'
import { realRuntime } from '../core/runtime.ts'
import { signatureScheme } from '../core/signers/index.ts'
import { timedSignatures, type SignatureTime } from '../core/signers/timed.ts'
import { createFileStorage, type FileStorage } from '../core/storage/file-storage.ts'
import type { NodeId } from '../core/types.ts'
import { createLibp2pTransport, type Libp2pTransport, type PeerAddress } from '../net/libp2p/index.ts'
import type { TypeCount } from '../core/message-stats.ts'
import { gossipStatus, type GossipStatus } from './gossip-status.ts'
import { getProtocol } from '../protocols/index.ts'
import { startAdminServer, type AdminRequest } from './admin.ts'
import { clusterStack, configPath, DEFAULT_METRICS_HOST, loadClusterConfig, type ClusterConfig } from './config.ts'
import { createNodeMetrics, startMetricsServer } from './metrics.ts'
import { createGroupedReplica, type GroupedReplica } from './grouped-node.ts'
import { fromHex, readKeyFile } from './keys.ts'

export interface NodeOptions {
  /** A loaded config, or the path of cluster.json. */
  readonly config: ClusterConfig | string
  readonly id: NodeId
  /** Mount on this started libp2p node (its key must be the replica's) instead of creating one. */
  readonly libp2p?: Libp2p
  /** Serve the admin socket in the config's run folder (default true). */
  readonly admin?: boolean
  /** Aborting closes the node. */
  readonly signal?: AbortSignal
}

export interface NodeStatus extends HostStatus {
  readonly protocol: string
  readonly peers: readonly NodeId[]
  readonly blocked: readonly NodeId[]
  readonly messagesSent: Record<string, TypeCount>
  readonly framesRejected: Readonly<Record<string, number>>
  /** Requests refused because their session belongs to another client identity than the sender's. */
  readonly foreignSessionRequests: number
  /** Replica.stateDigest() for protocols whose state lives in the replica (quorum-kv): equal digests, same store. */
  readonly stateDigest: string | null
  /** Frames this replica's transport received and decoded (replicas' and clients'). */
  readonly framesReceived: number
  /** Log fsyncs of the replica's storage so far (bench live: fsyncs per op). */
  readonly fsyncs: number
  /** What gossip dissemination did (published, copies on the wire, delivered, duplicates, refused); null when direct. */
  readonly gossip: GossipStatus | null
  /** Signatures made and checked by this replica since it started, and the time spent in them. */
  readonly signatures: SignatureTime
}

/** The admin socket's `digest`: what two replicas must both show to hold the same replicated state. */
export interface StateDigest {
  readonly appliedIndex: number
  /** SHA-256 (hex) of the state machine's snapshot: the key-value store and the session table. */
  readonly sha256: string
}

export interface ConsensusNode {
  readonly id: NodeId
  /** The replica's host; with groups, the host of the lowest-numbered group this replica hosts (all: `groups`). */
  readonly host: ReplicaHost
  readonly transport: Libp2pTransport
  /** With groups: null (the groups' shared storage is `groups.storage`). */
  readonly storage: FileStorage | null
  /** The config has a `groups` section: the replica's groups (live/grouped-node.ts); else null. */
  readonly groups: GroupedReplica | null
  /** The Prometheus registry when the config gives this replica a metricsPort, else null. */
  readonly metrics: Registry | null
  /** With groups: the lowest group's (every group's: `groups.status()`, as the admin socket answers). */
  status(): NodeStatus
  close(): Promise<void>
}

/** The address book of a cluster: replicas with their addresses, allow-listed clients dial-only. */
export function addressBookOf(config: ClusterConfig): PeerAddress[] {
  return [
    ...config.replicas.map(r => ({ id: r.id, role: 'replica' as const, publicKey: fromHex(r.publicKey), addrs: [r.address] })),
    ...config.clients.map(c => ({ id: c.id, role: 'client' as const, publicKey: fromHex(c.publicKey), addrs: [] })),
  ]
}

export function publicKeyLookup(config: ClusterConfig): (id: NodeId) => Uint8Array | undefined {
  const keys = new Map<NodeId, Uint8Array>()
  for (const r of config.replicas) keys.set(r.id, fromHex(r.publicKey))
  for (const c of config.clients) keys.set(c.id, fromHex(c.publicKey))
  return id => keys.get(id)
}

export function adminSocketPath(config: ClusterConfig, id: NodeId): string {
  return join(configPath(config, config.runDir), `replica-${id}.sock`)
}

export async function createNode(options: NodeOptions): Promise<ConsensusNode> {
  const config = typeof options.config === 'string' ? loadClusterConfig(options.config) : options.config
  const me = config.replicas.find(r => r.id === options.id)
  if (me === undefined) throw new ConfigError('id', `replica ${options.id} is not in the cluster config (replicas: ${config.replicas.map(r => r.id).join(', ')})`)
  const key = readKeyFile(configPath(config, me.keyFile))
  if (Buffer.from(key.publicKey).toString('hex') !== me.publicKey) {
    throw new ConfigError(`replicas[${me.id}].keyFile`, `${me.keyFile} does not hold the key whose public key the config lists`)
  }
  const protocol = getProtocol(config.protocol)
  if (config.groups !== undefined) {
    const grouped = await createGroupedReplica({
      config, id: me.id, key, protocol, addressBook: addressBookOf(config), publicKeyOf: publicKeyLookup(config),
      adminSocket: options.admin === false ? null : adminSocketPath(config, me.id),
      ...(options.libp2p !== undefined ? { libp2p: options.libp2p } : {}),
    })
    options.signal?.addEventListener('abort', () => { void grouped.close() }, { once: true })
    const first = [...grouped.groups.hosts].sort(([a], [b]) => a - b)[0]
    if (first === undefined) {
      await grouped.close()
      throw new ConfigError('groups', `replica ${me.id} hosts no group (more replicas than groups × replication)`)
    }
    return {
      id: me.id, host: first[1], transport: grouped.transport, storage: null, groups: grouped, metrics: null,
      // The lowest group's status in the one-group shape; every group's: groups.status() (the admin socket's).
      status: () => ({
        ...first[1].status(), protocol: protocol.name, peers: config.replicas.map(r => r.id).filter(id => id !== me.id),
        blocked: [], messagesSent: grouped.transport.stats.snapshot(), framesRejected: { ...grouped.transport.rejected },
        foreignSessionRequests: first[1].foreignSessionRequests, stateDigest: first[1].replica.stateDigest?.() ?? null,
        framesReceived: grouped.transport.received.frames, fsyncs: grouped.storage.stats.fsyncs,
        gossip: grouped.transport.gossip === null ? null : gossipStatus(grouped.transport.gossip),
        // Not timed with groups yet.
        signatures: { signs: 0, verifies: 0, ms: 0 },
      }),
      close: grouped.close,
    }
  }
  const protocolOptions = protocol.parseOptions(config.protocolOptions, config.replicas.length)
  const scheme = signatureScheme(config.signer as 'node' | 'tweetnacl')
  const log = createLogger(`consensus:node:${me.id}`)
  const dataDir = configPath(config, me.dataDir)
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const metrics = me.metricsPort !== undefined ? createNodeMetrics() : null
  const storage = createFileStorage({
    dir: dataDir, fsync: config.fsync as 'always' | 'batch' | 'none',
    ...(metrics !== null ? { onFsync: metrics.observeFsync } : {}),
  })
  let transport: Libp2pTransport
  try {
    transport = await createLibp2pTransport({
      id: me.id,
      peers: addressBookOf(config),
      maxFrameBytes: config.maxFrameBytes,
      stack: clusterStack(config),
      dissemination: config.dissemination,
      ...(options.libp2p !== undefined ? { node: options.libp2p } : { privateKey: key.privateKey }),
    })
  } catch (e) {
    storage.close() // releases the data directory's lock, so this process can try again
    throw e
  }
  // Timed, so the benchmark can report the share of this process's CPU spent on signatures.
  const signatures = timedSignatures(scheme.signer(key.privateKey), scheme.verifier)
  const host = createReplicaHost({
    descriptor: protocol,
    id: me.id,
    members: config.replicas.map(r => r.id),
    protocolOptions,
    transport,
    storage,
    runtime: realRuntime,
    stateMachine: createKvStore(),
    // Live runs are not replayed: seed election jitter and backoff from the OS.
    rng: createRng(randomBytes(8).toString('hex')),
    signer: signatures.signer,
    verifier: signatures.verifier,
    publicKeyOf: publicKeyLookup(config),
    tickMs: config.tickMs,
    snapshotInterval: resolveSnapshotInterval(protocol, protocolOptions, config.snapshotInterval, 1000),
    ...(config.maxPendingRequests !== undefined ? { maxPendingRequests: config.maxPendingRequests } : {}),
    log,
    ...(metrics !== null ? { observer: { received: (_host: NodeId, _from: NodeId, type: string, bytes: number) => metrics.observeReceived(type, bytes) } } : {}),
  })
  host.start()
  let metricsServer: HttpServer | null = null
  if (metrics !== null) {
    metrics.attach({ id: me.id, protocol: protocol.name, host, transport, storage })
    try {
      metricsServer = await startMetricsServer(metrics, me.metricsHost ?? DEFAULT_METRICS_HOST, me.metricsPort!)
    } catch (e) {
      metrics.close()
      host.stop()
      await transport.stop()
      storage.close()
      throw e
    }
    log('metrics on http://%s:%d/metrics', me.metricsHost ?? DEFAULT_METRICS_HOST, me.metricsPort)
  }
  let blocked: NodeId[] = []
  const status = (): NodeStatus => ({
    ...host.status(),
    protocol: protocol.name,
    peers: config.replicas.map(r => r.id).filter(id => id !== me.id),
    blocked,
    messagesSent: transport.stats.snapshot(),
    framesRejected: { ...transport.rejected },
    foreignSessionRequests: host.foreignSessionRequests,
    stateDigest: host.replica.stateDigest?.() ?? null,
    framesReceived: transport.received.frames,
    fsyncs: storage.stats.fsyncs,
    gossip: transport.gossip === null ? null : gossipStatus(transport.gossip),
    signatures: signatures.time(),
  })
  // Index and hash in one turn, so they describe the same state. A protocol that keeps its state in the replica
  // (quorum-kv) hashes that instead: the host's state machine stays empty there.
  const digest = (): StateDigest => ({
    appliedIndex: host.status().appliedIndex,
    sha256: createHash('sha256').update(host.replica.stateDigest?.() ?? host.stateMachine.snapshot()).digest('hex'),
  })
  let admin: Server | null = null
  if (options.admin !== false) {
    mkdirSync(configPath(config, config.runDir), { recursive: true, mode: 0o700 })
    admin = await startAdminServer(adminSocketPath(config, me.id), (request: AdminRequest) => {
      switch (request.cmd) {
        case 'status': return status()
        case 'digest': return digest()
        case 'block': blocked = [...request.peers]; transport.setBlocked(new Set(blocked)); return { blocked }
        case 'heal': blocked = []; transport.setBlocked(new Set()); return { blocked }
        case 'clock': host.setClockRate(request.rate); return { clockRate: request.rate }
        case 'admin': {
          const refusal = host.admin(request.command)
          if (refusal !== null) throw new Error(`${describeAdminCommand(request.command)} refused: ${refusal}`)
          return { started: request.command }
        }
      }
    })
  }
  log('replica %s of %s started (%s, fsync %s)', me.id, protocol.name, me.address, config.fsync)
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    host.stop()
    metrics?.close()
    await new Promise<void>(resolve => admin === null ? resolve() : admin.close(() => resolve()))
    metricsServer?.closeAllConnections()
    await new Promise<void>(resolve => metricsServer === null ? resolve() : metricsServer.close(() => resolve()))
    await transport.stop()
    storage.close()
  }
  options.signal?.addEventListener('abort', () => { void close() }, { once: true })
  return { id: me.id, host, transport, storage, groups: null, metrics: metrics?.registry ?? null, status, close }
}
