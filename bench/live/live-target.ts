/**
 * What `bench live` (and the sweep's libp2p network) measures, in one of two forms behind one interface:
 *
 * - 'multi-process' (the default): every replica its own OS process (`consensus node` from a temporary cluster
 *   folder) and the load from separate load-generator processes: the figures are a cluster's.
 * - 'in-process' (for debugging): replicas and clients in this process, one event loop for all.
 * - 'external' (`--cluster <cluster.json>`): a cluster already running, on this machine or others; only the load
 *   generators are started here (external-cluster.ts).
 */
import type { AnyProtocol } from '../../core/protocol.ts'
import { startLoadGenerators } from './load-generator.ts'
import { startLoopbackCluster, type LoopbackClusterOptions } from './loopback-cluster.ts'
import { measureLive, type LiveMeasurement, type LiveWorkload } from './measure.ts'
import { openExternalCluster } from './external-cluster.ts'
import { startProcessCluster, type ProcessCluster } from './process-cluster.ts'
import { measureProcessCluster } from './process-measure.ts'
import { newGossipCounters, type GossipCounters } from '../../net/libp2p/dissemination.ts'

/** The replicas' gossip counters added up (null when none gossips). */
export function sumGossip(all: ReadonlyArray<GossipCounters | null>): GossipCounters | null {
  const present = all.filter((g): g is GossipCounters => g !== null)
  if (present.length === 0) return null
  const sum = newGossipCounters()
  for (const g of present) for (const k of Object.keys(sum) as Array<keyof GossipCounters>) sum[k] += g[k]
  return sum
}

/** The forms `--forms` chooses from; 'external' comes with `--cluster` instead. */
export const LIVE_FORMS = ['multi-process', 'in-process'] as const
export type LiveForm = typeof LIVE_FORMS[number] | 'external'

export interface LiveTargetOptions extends LoopbackClusterOptions {
  readonly form: LiveForm
  /** Load-generator processes (multi-process and external forms). */
  readonly loadProcesses: number
  /** The external form's cluster.json. */
  readonly clusterFile?: string
}

export interface LiveTarget {
  readonly form: LiveForm
  readonly n: number
  /** Wall-clock ms to start the replicas. */
  readonly startMs: number
  /** Client nodes until there are `nodes`, each through a first write; returns the wall-clock ms it took. */
  connect(nodes: number): Promise<number>
  /** `clients` closed-loop callers on the first `nodes` client nodes. */
  measure(clients: number, nodes: number, w: LiveWorkload): Promise<LiveMeasurement>
  /** Gossip dissemination's counters summed over the replicas so far; null when broadcasts go direct. */
  gossip(): Promise<GossipCounters | null>
  close(): Promise<void>
}

export async function startLiveTarget(protocol: AnyProtocol, o: LiveTargetOptions): Promise<LiveTarget> {
  if (o.form === 'in-process') {
    if (o.groups !== undefined && o.groups > 1) throw new Error('groups are measured in the multi-process form only')
    const cluster = await startLoopbackCluster(o)
    return {
      form: o.form, n: o.n, startMs: cluster.startMs,
      connect: nodes => cluster.connectClients(nodes),
      measure: (clients, nodes, w) => measureLive(cluster, protocol, clients, w, nodes),
      gossip: () => Promise.resolve(sumGossip(cluster.replicas.map(r => r.transport.gossip))),
      close: () => cluster.close(),
    }
  }
  // Replicas and load generators start together: most of each process's start-up is loading modules.
  const [started, spawned] = await Promise.allSettled([o.form === 'external' ? openExternalCluster(o.clusterFile!) : startProcessCluster({
    protocol: o.protocol, n: o.n, clients: o.clients, fsync: o.fsync,
    ...(o.signer !== undefined ? { signer: o.signer } : {}),
    ...(o.protocolOptions !== undefined ? { protocolOptions: o.protocolOptions } : {}),
    ...(o.tickMs !== undefined ? { tickMs: o.tickMs } : {}),
    ...(o.snapshotInterval !== undefined ? { snapshotInterval: o.snapshotInterval } : {}),
    ...(o.maxPendingRequests !== undefined ? { maxPendingRequests: o.maxPendingRequests } : {}),
    ...(o.groups !== undefined ? { groups: o.groups } : {}),
    ...(o.groupKeys !== undefined ? { groupKeys: o.groupKeys } : {}),
    ...(o.stack !== undefined ? { stack: o.stack } : {}),
    ...(o.dissemination !== undefined ? { dissemination: o.dissemination } : {}),
  }), startLoadGenerators(o.loadProcesses)])
  if (started.status === 'rejected' || spawned.status === 'rejected') {
    if (started.status === 'fulfilled') await started.value.close()
    if (spawned.status === 'fulfilled') await spawned.value.close()
    throw started.status === 'rejected' ? started.reason : (spawned as PromiseRejectedResult).reason
  }
  const cluster: ProcessCluster = started.value
  const load = spawned.value
  try {
    await load.init({
      configFile: cluster.configFile, clientIds: cluster.config.clients.map(c => c.id),
      timeoutMs: o.requestTimeoutMs ?? 5000, maxInFlight: o.maxInFlight ?? null,
    })
  } catch (e) {
    await load.close()
    await cluster.close()
    throw e
  }
  const generators = load
  return {
    form: o.form, n: o.n, startMs: cluster.startMs,
    connect: nodes => generators.connect(nodes),
    measure: (clients, nodes, w) => measureProcessCluster(cluster, generators, protocol, clients, nodes, w),
    gossip: async () => sumGossip((await cluster.counters()).map(c => c.gossip)),
    async close() {
      // Load first (its outstanding requests end), then the replicas; one failing must not leave the other running.
      try { await generators.close() } finally { await cluster.close() }
    },
  }
}
