/**
 * The `groups` dimension (issue 14): the same nodes host 1, 4, 16, ... consensus groups of one protocol, the key space
 * split evenly over them, and the same closed-loop load runs against each deployment in the simulator with the CPU
 * model, so throughput saturates where a node's CPU does. What it shows:
 *
 * - throughput and latency as groups grow: one group is bounded by its leader's node; with leaders spread, every
 *   node's CPU serves some leader;
 * - protocol messages and wire frames per operation (coalescing: many groups' frames per wire frame), and fsyncs of
 *   the shared logs per operation (group commit across groups);
 * - the idle cost of a group: protocol messages per second per group with no load, and the wire frames they take;
 * - memory per group (JavaScript heap after a forced collection, measured on this machine: a host figure);
 * - a node's crash as the per-group failovers it causes: how many groups it led and how long each took to commit
 *   again under a new leader.
 *
 * Simulated figures come from virtual time and the transports' counters (same seed, same figures); heap is the host's.
 */
import { ConfigError } from '../core/errors.ts'
import { evenRanges } from '../core/groups/range-map.ts'
import type { AnyProtocol } from '../core/protocol.ts'
import { createRng } from '../core/random.ts'
import type { NodeId } from '../core/types.ts'
import { createSimGroupCluster, INNER_FRAME_SHARE, type SimGroupCluster } from '../net/sim/group-cluster.ts'
import { REFERENCE_CPU, type CpuModel } from '../net/sim/cpu.ts'
import { round3 } from './latency.ts'
import { collectedHeapUsed, forcedCollector, heapGrowth } from './retained-heap.ts'
import { runLoad } from './load.ts'

export interface GroupsBenchOptions {
  readonly groups: readonly number[]
  readonly nodes: number
  /** Replicas per group (default: every node). */
  readonly replication?: number
  readonly clients: number
  readonly keys: number
  readonly readRatio: number
  readonly valueSize: number
  /** Idle time before anything is measured (elections, leader balancing). */
  readonly settleMs: number
  /** The idle window measured for the per-group idle cost. */
  readonly idleMs: number
  readonly warmupMs: number
  readonly durationMs: number
  readonly cpu: CpuModel
  readonly fsyncMs: number
  readonly tickMs: number
  readonly seed: number
  readonly coalesce: boolean
  /** Also run the crash of node 0 mid-window (a second run of each deployment). */
  readonly crash: boolean
  /** Raw protocol options for every group (e.g. Multi-Paxos' window: its pipelining depth per group). */
  readonly protocolOptions: Readonly<Record<string, unknown>>
}

/**
 * Defaults: enough closed-loop clients (2048) to saturate one group's leader under the reference CPU model, so what
 * spreading leaders buys shows; a 1 ms fsync of the shared log (`--fsync-ms 0`: a free disk, the CPU the only bound).
 */
export const DEFAULT_GROUPS_BENCH: GroupsBenchOptions = {
  groups: [1, 4, 16, 64], nodes: 3, clients: 2048, keys: 4096, readRatio: 0, valueSize: 16, settleMs: 3000, idleMs: 1000,
  warmupMs: 300, durationMs: 500, cpu: REFERENCE_CPU, fsyncMs: 1,
  tickMs: 10, seed: 1, coalesce: true, crash: true, protocolOptions: {},
}

export interface GroupsFailover {
  readonly node: NodeId
  /** Groups the node led when it crashed. */
  readonly groupsLed: number
  /** Of those, how many committed again under a new leader within the window. */
  readonly recovered: number
  /** Crash to the first new commit of each of those groups (virtual ms). */
  readonly medianMs: number | null
  readonly maxMs: number | null
}

export interface GroupsRow {
  readonly protocol: string
  readonly groups: number
  readonly nodes: number
  readonly replication: number
  readonly coalesce: boolean
  readonly opsPerSec: number
  readonly p50Ms: number | null
  readonly p99Ms: number | null
  readonly timeouts: number
  readonly protocolMessagesPerOp: number
  readonly wireFramesPerOp: number
  readonly fsyncsPerOp: number
  /** With no load: protocol messages per second per group, and node-to-node wire frames per second in all. */
  readonly idleMessagesPerSecPerGroup: number
  readonly idleWireFramesPerSec: number
  /** Groups led by each node once settled. */
  readonly leadersPerNode: readonly number[]
  /** Host figure: JavaScript heap per group (after a forced collection), bytes. */
  readonly heapBytesPerGroup: number | null
  readonly safetyViolations: number
  readonly failover: GroupsFailover | null
}

export interface GroupsBenchResults {
  readonly options: GroupsBenchOptions
  readonly innerFrameShare: number
  readonly rows: readonly GroupsRow[]
}

function build(protocol: AnyProtocol, groups: number, o: GroupsBenchOptions): SimGroupCluster {
  return createSimGroupCluster({
    protocol, nodes: o.nodes, ranges: evenRanges(Array.from({ length: o.keys }, (_, i) => `k${i}`), groups),
    ...(o.replication !== undefined ? { replication: o.replication } : {}),
    seed: o.seed, clients: o.clients, cpu: o.cpu, fsyncMs: o.fsyncMs, tickMs: o.tickMs, coalesce: o.coalesce,
    protocolOptions: o.protocolOptions,
  })
}

function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor((s.length - 1) / 2)]!
}

function load(cluster: SimGroupCluster, o: GroupsBenchOptions, onMeasureStart: () => void) {
  return runLoad(cluster, {
    mode: 'closed', rate: null, minWindowMs: 0, readRatio: o.readRatio, valueSize: o.valueSize, keys: o.keys,
    keyDistribution: 'uniform', warmupMs: o.warmupMs, durationMs: o.durationMs, maxOps: Number.MAX_SAFE_INTEGER,
    timelineBucketMs: 100, timeoutMs: Math.max(5000, o.durationMs), rng: createRng(o.seed).fork('groups-load'), onMeasureStart,
  })
}

/** One deployment of `groups` groups: settle, idle window, loaded window (and the crash run if asked). */
export function measureGroups(protocol: AnyProtocol, groups: number, o: GroupsBenchOptions): GroupsRow {
  const gc = forcedCollector()
  const heapBefore = collectedHeapUsed(gc)
  const cluster = build(protocol, groups, o)
  const sim = cluster.sim
  sim.run(o.settleMs)
  const heapGrown = heapGrowth(heapBefore, collectedHeapUsed(gc))
  const idleStart = { messages: cluster.groupStats().total('protocol').messages, wire: cluster.replicaStats().total('protocol').messages }
  sim.run(o.settleMs + o.idleMs)
  const idleMessages = cluster.groupStats().total('protocol').messages - idleStart.messages
  const idleWire = cluster.replicaStats().total('protocol').messages - idleStart.wire
  const leaders = cluster.groupLeaders()
  const leadersPerNode = cluster.nodeIds.map(id => [...leaders.values()].filter(l => l === id).length)

  let before = { messages: 0, wire: 0, fsyncs: 0 }
  const result = load(cluster, o, () => {
    before = { messages: cluster.groupStats().total('protocol').messages, wire: cluster.replicaStats().total('protocol').messages, fsyncs: cluster.fsyncs }
  })
  const ops = result.measuredOps
  const per = (x: number) => ops === 0 ? 0 : round3(x / ops)
  const latency = result.latency.summary()
  return {
    protocol: protocol.name, groups, nodes: o.nodes, replication: o.replication ?? o.nodes, coalesce: o.coalesce,
    opsPerSec: Math.round(ops / (o.durationMs / 1000)),
    p50Ms: latency?.p50 ?? null, p99Ms: latency?.p99 ?? null, timeouts: result.timeouts,
    protocolMessagesPerOp: per(cluster.groupStats().total('protocol').messages - before.messages),
    wireFramesPerOp: per(cluster.replicaStats().total('protocol').messages - before.wire),
    fsyncsPerOp: per(cluster.fsyncs - before.fsyncs),
    idleMessagesPerSecPerGroup: round3(idleMessages / (o.idleMs / 1000) / groups),
    idleWireFramesPerSec: round3(idleWire / (o.idleMs / 1000)),
    leadersPerNode,
    heapBytesPerGroup: heapGrown === null ? null : Math.round(heapGrown / groups),
    safetyViolations: cluster.safetyViolations.length,
    failover: o.crash && protocol.leaderless !== true ? measureCrash(protocol, groups, o) : null,
  }
}

/** A crash run measures at least this long, so that every group the node led has time to elect and commit. */
const CRASH_WINDOW_MS = 2000

/** Crash node 0 a quarter into the window; time each group it led until it commits again under another leader. */
function measureCrash(protocol: AnyProtocol, groups: number, given: GroupsBenchOptions): GroupsFailover {
  const o = { ...given, durationMs: Math.max(given.durationMs, CRASH_WINDOW_MS) }
  const cluster = build(protocol, groups, o)
  const sim = cluster.sim
  sim.run(o.settleMs)
  const victim = 0
  const crashAt = o.settleMs + o.warmupMs + o.durationMs / 4
  const recoveredAt = new Map<number, number>()
  let led: number[] = []
  sim.at(crashAt, () => {
    led = [...cluster.groupLeaders()].filter(([, l]) => l === victim).map(([g]) => g)
    const commitBefore = new Map(led.map(g => [g, Math.max(...cluster.upNodes.filter(id => id !== victim)
      .map(id => cluster.node(id).hosts.get(g)?.status().commitIndex ?? 0))]))
    cluster.crash(victim)
    const probe = (): void => {
      for (const g of led) {
        if (recoveredAt.has(g)) continue
        for (const id of cluster.upNodes) {
          const s = cluster.node(id).hosts.get(g)?.status()
          if (s !== undefined && s.leader === id && s.commitIndex > commitBefore.get(g)!) { recoveredAt.set(g, sim.now() - crashAt); break }
        }
      }
      if (recoveredAt.size < led.length) sim.setTimer(1, probe)
    }
    probe()
  })
  load(cluster, o, () => {})
  const times = [...recoveredAt.values()]
  return {
    node: victim, groupsLed: led.length, recovered: times.length,
    medianMs: median(times) === null ? null : round3(median(times)!), maxMs: times.length === 0 ? null : round3(Math.max(...times)),
  }
}

export function runGroupsBench(protocolList: readonly AnyProtocol[], o: GroupsBenchOptions,
  onProgress?: (label: string) => void): GroupsBenchResults {
  const rows: GroupsRow[] = []
  for (const protocol of protocolList) {
    for (const groups of o.groups) {
      onProgress?.(`${protocol.name} groups=${groups}`)
      rows.push(measureGroups(protocol, groups, o))
    }
  }
  return { options: o, innerFrameShare: INNER_FRAME_SHARE, rows }
}

export interface GroupsBenchFlags {
  readonly groups?: string
  readonly nodes?: string
  readonly replication?: string
  readonly clients?: string
  readonly keys?: string
  readonly readRatio?: string
  readonly warmupMs?: string
  readonly durationMs?: string
  readonly fsyncMs?: string
  readonly seed?: string
  readonly coalesce?: boolean
  readonly crash?: boolean
  /** Protocol options (`--option key=value`, parsed by the CLI). */
  readonly option?: Readonly<Record<string, unknown>>
}

/** The groups bench's options from CLI flags (strings), each checked with an error naming the flag. */
export function buildGroupsBenchOptions(flags: GroupsBenchFlags, cpu: CpuModel): GroupsBenchOptions {
  const int = (flag: string, text: string | undefined, fallback: number, min: number): number => {
    if (text === undefined) return fallback
    const v = Number(text)
    if (!Number.isInteger(v) || v < min) throw new ConfigError(flag, `expected an integer >= ${min}, got "${text}"`)
    return v
  }
  const num = (flag: string, text: string | undefined, fallback: number, min: number, max: number): number => {
    if (text === undefined) return fallback
    const v = Number(text)
    if (text.trim() === '' || !Number.isFinite(v) || v < min || v > max) throw new ConfigError(flag, `expected a number from ${min} to ${max}, got "${text}"`)
    return v
  }
  const d = DEFAULT_GROUPS_BENCH
  const groups = flags.groups === undefined ? d.groups : flags.groups.split(',').map(s => int('--groups', s.trim(), 0, 1))
  const nodes = int('--nodes', flags.nodes, d.nodes, 1)
  const keys = int('--keys', flags.keys, d.keys, 1)
  for (const g of groups) if (g > keys) throw new ConfigError('--groups', `${g} groups need at least as many keys (--keys ${keys})`)
  const replication = flags.replication === undefined ? undefined : int('--replication', flags.replication, nodes, 1)
  if (replication !== undefined && replication > nodes) throw new ConfigError('--replication', `at most the ${nodes} nodes, got ${replication}`)
  return {
    ...d, groups, nodes, keys, ...(replication !== undefined ? { replication } : {}),
    clients: int('--clients', flags.clients, d.clients, 1),
    readRatio: num('--read-ratio', flags.readRatio, d.readRatio, 0, 1),
    warmupMs: int('--warmup-ms', flags.warmupMs, d.warmupMs, 0),
    durationMs: int('--duration-ms', flags.durationMs, d.durationMs, 1),
    fsyncMs: num('--fsync-ms', flags.fsyncMs, d.fsyncMs, 0, 1000),
    seed: int('--seed', flags.seed, d.seed, 0),
    coalesce: flags.coalesce ?? d.coalesce, crash: flags.crash ?? d.crash, cpu, protocolOptions: flags.option ?? {},
  }
}
