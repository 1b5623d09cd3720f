/**
 * A live cluster on 127.0.0.1 whose replicas are separate OS processes, for benchmarks: a temporary cluster folder
 * (cluster.json, keys, WAL folders; `initCluster`, as `consensus cluster init`) on the same disk as any other run, and
 * one `consensus node` process per replica (`startReplicaProcess`, as `consensus cluster up`). The benchmark reads
 * each replica through its admin socket (message counters, applied index, a digest of its state) and its /proc
 * entry (CPU time, RSS); it never shares an event loop with one.
 *
 * Processes are stopped by the PIDs this run started, also when start-up fails or the run is interrupted
 * (owned-processes.ts), and the folder is removed by `close()`.
 */
import type { GossipCounters } from '../../net/libp2p/dissemination.ts'
import { DEFAULT_STACK, portKind } from '../../net/libp2p/stack.ts'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TypeCount } from '../../core/message-stats.ts'
import type { NodeId } from '../../core/types.ts'
import { adminRequest } from '../../live/admin.ts'
import { loadClusterConfig, type ClusterConfig } from '../../live/config.ts'
import { initCluster } from '../../live/init.ts'
import type { GroupedNodeStatus } from '../../live/grouped-node.ts'
import { adminSocketPath, type NodeStatus, type StateDigest } from '../../live/node.ts'
import { alive, startReplicaProcess } from '../../live/processes.ts'
import { freeLoopbackPorts, hostSettings, type Agreement, type LoopbackClusterOptions } from './loopback-cluster.ts'
import { ownDir, ownProcess, releaseDir, releaseProcess } from './owned-processes.ts'
import { readProcess, type ProcessReading } from './proc-stat.ts'

/** The cluster's shape, as for the in-process form; here the client identities are the load generators' nodes. */
export interface ProcessClusterOptions extends Omit<LoopbackClusterOptions, 'requestTimeoutMs' | 'maxInFlight'> {
  /** Per replica, how long start-up may take until its admin socket answers. */
  readonly startTimeoutMs?: number
}

/** What the benchmark reads from one replica at an edge of the measured window. */
export interface ReplicaCounters {
  readonly id: NodeId
  /** Replica-to-replica messages sent, by type (the transport's 'protocol' channel). */
  readonly protocolSent: Map<string, TypeCount>
  readonly framesReceived: number
  /** Log fsyncs of the replica's storage so far (all its groups). */
  readonly fsyncs: number
  /** Gossip dissemination's counters (null: broadcasts go direct). */
  readonly gossip: GossipCounters | null
  /** Milliseconds this replica has spent signing and verifying since it started (null: not exposed where it was read). */
  readonly signatureMs: number | null
  /** Client requests it answered busy (admission control) since it started. */
  readonly requestsShed: number
}

export interface ProcessCluster {
  readonly config: ClusterConfig
  /** cluster.json: what load generators are given. */
  readonly configFile: string
  /**
   * CPU time and memory of each replica's process now (null: not readable from here). Read from /proc as this is called
   * (the measured window's edge), for a cluster on another host from its metrics endpoint.
   */
  readProcesses(): Promise<ReadonlyMap<NodeId, ProcessReading | null>>
  /** Wall-clock ms from the first spawn until every replica answered on its admin socket. */
  readonly startMs: number
  counters(): Promise<ReplicaCounters[]>
  /**
   * Wait (bounded) until every replica reports the same applied index, then compare the SHA-256 of their states
   * (store and sessions). 'unchecked' when they did not reach the same index in time.
   */
  checkAgreement(waitMs?: number): Promise<Agreement>
  close(): Promise<void>
}

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

const STOP_GRACE_MS = 3000


/** SIGTERM, then SIGKILL once `graceMs` passed; resolves when the process is gone. */
async function stopPid(pid: number, graceMs: number): Promise<void> {
  try { process.kill(pid, 'SIGTERM') } catch { releaseProcess(pid); return }
  const deadline = performance.now() + graceMs
  let killed = false
  while (alive(pid)) {
    if (!killed && performance.now() > deadline) {
      try { process.kill(pid, 'SIGKILL') } catch { /* gone meanwhile */ }
      killed = true
    }
    await sleep(25)
  }
  releaseProcess(pid)
}


export async function startProcessCluster(o: ProcessClusterOptions): Promise<ProcessCluster> {
  const dir = mkdtempSync(join(tmpdir(), `bench-live-proc-${o.protocol}-`))
  ownDir(dir)
  const configFile = join(dir, 'cluster', 'cluster.json')
  const pids = new Map<NodeId, number>()
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    // By the PIDs spawn returned: SIGTERM lets a replica close its WAL and sockets; SIGKILL after the grace.
    await Promise.all([...pids.values()].map(pid => stopPid(pid, STOP_GRACE_MS)))
    rmSync(dir, { recursive: true, force: true })
    releaseDir(dir)
  }
  try {
    initCluster({
      protocol: o.protocol, n: o.n, dir: join(dir, 'cluster'), ports: await freeLoopbackPorts(o.n, portKind(o.stack ?? DEFAULT_STACK)),
      clients: o.clients, fsync: o.fsync, signer: o.signer ?? 'node', protocolOptions: o.protocolOptions ?? {}, tickMs: o.tickMs ?? 10,
      stack: o.stack ?? DEFAULT_STACK, dissemination: o.dissemination ?? 'direct',
      ...(o.groups !== undefined && o.groups > 1 ? { groups: { count: o.groups, ...(o.groupKeys !== undefined ? { keys: o.groupKeys } : {}) } } : {}),
    })
    const settings = hostSettings(o)
    if (Object.keys(settings).length > 0) {
      const raw = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>
      writeFileSync(configFile, JSON.stringify({ ...raw, ...settings }, null, 2) + '\n')
    }
    const c = loadClusterConfig(configFile)
    const started = performance.now()
    // In parallel: each process spends most of its start-up loading modules, which the two cores can overlap.
    // A replica that fails to start says why with its log's last lines (startReplicaProcess).
    await Promise.all(c.replicas.map(r =>
      startReplicaProcess(c, configFile, r.id, o.startTimeoutMs ?? 30_000, pid => { pids.set(r.id, pid); ownProcess(pid) })))
    const startMs = performance.now() - started

    const counters = (): Promise<ReplicaCounters[]> => Promise.all(c.replicas.map(r => readAdminCounters(c, r.id)))
    const checkAgreement = (waitMs = 3000): Promise<Agreement> =>
      agreementOf(() => Promise.all(c.replicas.map(r => adminRequest(adminSocketPath(c, r.id), { cmd: 'digest' }) as Promise<StateDigest>)), waitMs)
    const readProcesses = () => Promise.resolve(new Map([...pids].map(([id, pid]) => [id, readProcess(pid)] as const)))

    return { config: c, configFile, readProcesses, startMs, counters, checkAgreement, close }
  } catch (e) {
    await close()
    throw e
  }
}

/** One replica's counters through its admin socket (a replica on this machine). */
export async function readAdminCounters(c: ClusterConfig, id: NodeId): Promise<ReplicaCounters> {
  const s = await adminRequest(adminSocketPath(c, id), { cmd: 'status' }) as NodeStatus | GroupedNodeStatus
  const protocolSent = new Map<string, TypeCount>()
  // With groups, the groups' own protocol messages (what the theory counts), not the coalesced wire frames.
  const sent = 'groupMessagesSent' in s ? s.groupMessagesSent : s.messagesSent
  for (const [key, count] of Object.entries(sent)) {
    if (key.startsWith('protocol/')) protocolSent.set(key.slice('protocol/'.length), count)
  }
  return { id, protocolSent, framesReceived: s.framesReceived, fsyncs: s.fsyncs, gossip: 'gossip' in s ? s.gossip : null,
    signatureMs: 'signatures' in s ? s.signatures.ms : 0, requestsShed: 'requestsShed' in s ? s.requestsShed : 0 }
}

/**
 * Wait (bounded) until every replica reports the same applied index, then compare their state digests; 'unchecked'
 * when they did not reach one index in time, or when `read` gives indexes without digests (sha256 null).
 */
export async function agreementOf(read: () => Promise<ReadonlyArray<{ appliedIndex: number; sha256: string | null }>>, waitMs: number): Promise<Agreement> {
  const deadline = performance.now() + waitMs
  let d = await read()
  while (new Set(d.map(x => x.appliedIndex)).size > 1 && performance.now() < deadline) {
    await sleep(20)
    d = await read()
  }
  const appliedIndex = d.map(x => x.appliedIndex)
  if (new Set(appliedIndex).size > 1 || d.some(x => x.sha256 === null)) return { verdict: 'unchecked', appliedIndex }
  return { verdict: new Set(d.map(x => x.sha256)).size === 1 ? 'agreed' : 'diverged', appliedIndex }
}
