/**
 * A live cluster on 127.0.0.1 inside this process, for benchmarks: one libp2p node per replica (TCP + Noise + Yamux on
 * free ports) running `createNode` with file storage in a temporary folder, and one libp2p client node per client id
 * (`createClient`; a transport is one identity, so client ids cannot share a node). Everything is stopped and the
 * folder removed by `close()`.
 *
 * 256 clients on 127.0.0.1 connect in seconds because the transport sizes libp2p's connection limits to the address
 * book (libp2p's defaults accept 5 inbound connections per second per IP, which would take about a minute).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { createSocket } from 'node:dgram'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FsyncPolicy } from '../../core/storage/file-storage.ts'
import type { Ed25519SignerName } from '../../core/signer.ts'
import { createClient, type ConsensusClient } from '../../live/client.ts'
import type { ClusterConfig } from '../../live/config.ts'
import { initCluster } from '../../live/init.ts'
import { createNode, type ConsensusNode } from '../../live/node.ts'
import type { Dissemination } from '../../net/libp2p/dissemination.ts'
import { DEFAULT_STACK, portKind, type Libp2pStack } from '../../net/libp2p/stack.ts'
import { completeFirstWrites, connectDeadlineMs } from './connect-clients.ts'

/** The cluster.json host settings a bench run sets beyond what `cluster init` writes. */
export function hostSettings(o: Pick<LoopbackClusterOptions, 'snapshotInterval' | 'maxPendingRequests'>): Partial<ClusterConfig> {
  return {
    ...(o.snapshotInterval !== undefined ? { snapshotInterval: o.snapshotInterval } : {}),
    ...(o.maxPendingRequests !== undefined ? { maxPendingRequests: o.maxPendingRequests } : {}),
  }
}

export interface LoopbackClusterOptions {
  readonly protocol: string
  readonly n: number
  /** Client identities to allow-list; a libp2p node is started for each when first needed (connectClients). */
  readonly clients: number
  readonly fsync: FsyncPolicy
  readonly signer?: Ed25519SignerName
  /** Raw protocol options (validated by the protocol through initCluster). */
  readonly protocolOptions?: Record<string, unknown>
  readonly tickMs?: number
  /** The host's snapshot interval; omitted: the protocol's need, else 1000 (as `consensus node`). */
  readonly snapshotInterval?: number
  /** Client requests each replica keeps pending at most (cluster.json maxPendingRequests); omitted: its default. */
  readonly maxPendingRequests?: number
  /** Per-request deadline of the clients (default 5000 ms). */
  readonly requestTimeoutMs?: number
  /** Calls each client node keeps in flight (createClient's maxInFlight; default its default). */
  readonly maxInFlight?: number
  /**
   * Consensus groups sharding the key space (cluster.json `groups`, every replica in every group, split points over
   * the workload's keys k0..k<groupKeys-1>); omitted or 1: one group, no `groups` section. Multi-process form only.
   */
  readonly groups?: number
  readonly groupKeys?: number
  /** The libp2p stack of every node (default tcp+noise+yamux). */
  readonly stack?: Libp2pStack
  /** How replicas' broadcasts travel (default direct). */
  readonly dissemination?: Dissemination
}

export interface LoopbackCluster {
  readonly config: ClusterConfig
  readonly replicas: readonly ConsensusNode[]
  /** Client nodes started so far (see connectClients). */
  readonly clients: readonly ConsensusClient[]
  /** Wall-clock ms spent starting the replicas. */
  readonly startMs: number
  /**
   * Start client nodes until there are `count` (at most the identities the cluster was made with) and complete one
   * write from each new one (bounded attempts, in waves): leader elected, every connection a client needs dialled and
   * authenticated. Client nodes are started only when needed, so a 1-client measurement has no idle nodes beside it.
   * Returns the wall-clock ms it took. Throws naming a client that could not get through.
   */
  connectClients(count: number, deadlineMs?: number): Promise<number>
  /**
   * Wait (bounded) until every replica has applied the same index, then compare their state machines (the key-value
   * store and the session table) byte for byte. 'unchecked' when they did not reach the same index in time.
   */
  checkAgreement(waitMs?: number): Promise<Agreement>
  close(): Promise<void>
}

export interface Agreement {
  readonly verdict: 'agreed' | 'diverged' | 'unchecked'
  /** Applied index of each replica at the check. */
  readonly appliedIndex: readonly number[]
}

/**
 * Ports the OS hands out on 127.0.0.1 (held open together, so they are distinct; a race with others is possible):
 * TCP ports, or UDP ports for a QUIC stack.
 */
export async function freeLoopbackPorts(count: number, kind: 'tcp' | 'udp' = 'tcp'): Promise<number[]> {
  if (kind === 'udp') {
    const sockets = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createSocket>>((resolve, reject) => {
      const socket = createSocket('udp4')
      socket.once('error', reject)
      socket.bind(0, '127.0.0.1', () => resolve(socket))
    })))
    const ports = sockets.map(s => s.address().port)
    await Promise.all(sockets.map(s => new Promise<void>(resolve => s.close(() => resolve()))))
    return ports
  }
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<Server>((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(server))
  })))
  const ports = servers.map(s => (s.address() as AddressInfo).port)
  await Promise.all(servers.map(s => new Promise(resolve => s.close(resolve))))
  return ports
}

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))


export async function startLoopbackCluster(o: LoopbackClusterOptions): Promise<LoopbackCluster> {
  const started = performance.now()
  const dir = mkdtempSync(join(tmpdir(), `bench-live-${o.protocol}-`))
  const replicas: ConsensusNode[] = []
  const clients: ConsensusClient[] = []
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    // Clients first (their outstanding requests end as timeouts), then replicas, then their libp2p nodes.
    // Best effort: one node failing to stop must not leave the others running.
    const quietly = async (stop: () => void | Promise<void>) => { try { await stop() } catch { /* already stopping */ } }
    for (const c of clients) await quietly(() => c.close())
    for (const r of replicas) await quietly(() => r.close())
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const initialized = initCluster({
      protocol: o.protocol, n: o.n, dir: join(dir, 'cluster'), ports: await freeLoopbackPorts(o.n, portKind(o.stack ?? DEFAULT_STACK)),
      clients: o.clients, fsync: o.fsync, signer: o.signer ?? 'node', protocolOptions: o.protocolOptions ?? {}, tickMs: o.tickMs ?? 10,
      stack: o.stack ?? DEFAULT_STACK, dissemination: o.dissemination ?? 'direct',
    })
    const config: ClusterConfig = { ...initialized, ...hostSettings(o) }
    // The transport sizes libp2p's connection limits to the address book, so many clients on 127.0.0.1 can connect.
    for (const r of config.replicas) replicas.push(await createNode({ config, id: r.id, admin: false }))
    const startMs = performance.now() - started

    const connectClients = async (count: number, deadlineMs = connectDeadlineMs(count)): Promise<number> => {
      if (!Number.isInteger(count) || count < 1 || count > config.clients.length) {
        throw new RangeError(`clients: expected 1 to ${config.clients.length} (the identities this cluster was made with), got ${count}`)
      }
      const t0 = performance.now()
      const deadline = t0 + deadlineMs
      const fresh: ConsensusClient[] = []
      while (clients.length < count) {
        const client = await createClient({ config, clientId: config.clients[clients.length]!.id, timeoutMs: o.requestTimeoutMs ?? 5000,
          ...(o.maxInFlight !== undefined ? { maxInFlight: o.maxInFlight } : {}) })
        clients.push(client)
        fresh.push(client)
      }
      await completeFirstWrites(fresh, deadline)
      return performance.now() - t0
    }

    const checkAgreement = async (waitMs = 3000): Promise<Agreement> => {
      const deadline = performance.now() + waitMs
      const applied = () => replicas.map(r => r.host.status().appliedIndex)
      let indexes = applied()
      while (new Set(indexes).size > 1 && performance.now() < deadline) {
        await sleep(20)
        indexes = applied()
      }
      if (new Set(indexes).size > 1) return { verdict: 'unchecked', appliedIndex: indexes }
      const snapshots = replicas.map(r => Buffer.from(r.host.stateMachine.snapshot()))
      const same = snapshots.every(s => s.equals(snapshots[0]!))
      return { verdict: same ? 'agreed' : 'diverged', appliedIndex: indexes }
    }

    return { config, replicas, clients, startMs, connectClients, checkAgreement, close }
  } catch (e) {
    await close()
    throw e
  }
}
