/**
 * `bench live`: real-network figures on loopback. First the bare libp2p echo round trip (the floor under any commit),
 * then for every protocol and fsync policy one loopback cluster, measured with each client count in turn (each
 * measurement with its own warm-up), `repeat` times; the figures reported are the medians of the repetitions.
 * By default each replica is its own OS process and the load comes from separate load-generator processes
 * (live-target.ts); `--in-process` runs everything in this process, for debugging.
 */
import { loadavg } from 'node:os'
import type { AnyProtocol } from '../../core/protocol.ts'
import type { FsyncPolicy } from '../../core/storage/file-storage.ts'
import { captureEnvironment, type Environment } from '../environment.ts'
import { measureLibp2pEcho } from '../libp2p-echo.ts'
import type { LatencySummary } from '../latency.ts'
import type { Registry } from '../matrix.ts'
import { snapshotIntervalFor } from '../snapshot-interval.ts'
import type { LiveBenchConfig } from './config.ts'
import type { Agreement } from './loopback-cluster.ts'
import { startLiveTarget, type LiveForm } from './live-target.ts'
import type { LiveMeasurement } from './measure.ts'
import type { ProcessFigures } from './process-figures.ts'
import { etcdMeasurementsPlanned, openEtcdBaseline, type EtcdBaselineResults } from './etcd-baseline.ts'
import { CURVE_MAX_STEPS, stepCurve, type LiveCurve } from './live-curve.ts'
import { measureTransportRate, type TransportRate } from './transport-rate.ts'
import type { Dissemination, GossipCounters } from '../../net/libp2p/dissemination.ts'
import { DEFAULT_STACK, stackName, type Libp2pStack } from '../../net/libp2p/stack.ts'
import { loadClusterConfig } from '../../live/config.ts'

export const LIVE_RESULTS_SCHEMA = 'consensus-bench/live-results/v1'

export interface EchoFigures {
  readonly pings: number
  readonly payloadBytes: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly meanMs: number
  readonly maxMs: number
}

/** Medians over the repetitions of one combination (each figure's own median). */
export interface LiveMedians {
  readonly throughput: number
  readonly latencyMs: Omit<LatencySummary, 'count'>
  /** Operations issued and completed inside the window (0: latency figures are empty, not zero). */
  readonly latencySamples: number
  readonly messagesPerOp: number
  readonly bytesPerOp: number
  readonly cpuUsPerOp: number
  /** Share of the replicas' CPU spent signing and verifying (null: not measured, e.g. the in-process form). */
  readonly signatureCpuShare: number | null
  readonly timeouts: number
  readonly ops: number
  /** Log fsyncs of all replicas per committed op (null: not read, the in-process form). */
  readonly fsyncsPerOp: number | null
  /** Requests the replicas answered busy in the window, admission control shedding load (null: not read, in-process). */
  readonly requestsShed: number | null
}

/** What gossip did during one run's measurements (all its samples, warm-ups included), summed over the replicas. */
export interface GossipRunFigures {
  /** Broadcasts published on the topic (each one publish, where direct dissemination makes n-1 stream writes). */
  readonly published: number
  /** Message copies that arrived at replicas (first copies and duplicates) and messages delivered (first copies). */
  readonly copiesReceived: number
  readonly delivered: number
  /** Copies per delivered message: gossip's wire amplification (1 would be no duplicates at all). */
  readonly copiesPerDelivered: number
  /** Payload bytes of all copies received, per completed operation (beside bytesPerOp, which counts each message once). */
  readonly copyBytesPerOp: number
}

export interface LiveRun {
  /** protocol/n/fsync/clients (and /in-process, /<stack>, /gossipsub when not the defaults): stable across result files. */
  readonly id: string
  /** The libp2p stack (stackName: tcp+noise+yamux, quic, ...) and how broadcasts travelled. */
  readonly stack: string
  readonly dissemination: Dissemination
  /** Gossip's own figures; null with direct dissemination. */
  readonly gossip: GossipRunFigures | null
  /** How this cluster ran: replicas and load in separate processes, or all in this one. */
  readonly form: LiveForm
  readonly protocol: string
  readonly n: number
  readonly fsync: FsyncPolicy
  /** Outstanding operations at most: closed-loop callers, or the open loop's bound on what is in flight. */
  readonly clients: number
  /** Open loop: the offered rate (operations/s, Poisson arrivals); null: closed loop. */
  readonly offeredRate: number | null
  /** Consensus groups on the replica processes (1: one group, no `groups` section). */
  readonly groups: number
  /** Replica processes' resident memory at the window's end, summed, per group hosted (median over samples). */
  readonly rssPerGroupBytes: number | null
  /** libp2p client nodes carrying them (each pipelining clients / clientNodes calls). */
  readonly clientNodes: number
  /** Wall-clock ms for the client nodes this measurement added to connect (their first writes; excluded). */
  readonly connectMs: number
  readonly samples: readonly LiveMeasurement[]
  readonly median: LiveMedians
  /** The worst end-state check over the samples. */
  readonly agreement: Agreement['verdict']
  readonly theoreticalMessagesPerOp: number
  /** Per process (replicas, load generators, or the one shared process): each figure's median over the samples. */
  readonly processes: readonly ProcessFigures[]
}

export interface LiveResults {
  readonly schema: typeof LIVE_RESULTS_SCHEMA
  readonly startedAt: string
  /** The forms measured (each run says its own). */
  readonly forms: readonly LiveForm[]
  readonly environment: Environment
  readonly config: LiveBenchConfig
  /** os.loadavg() (1, 5, 15 minutes) at the start and the end: how busy the machine was. */
  readonly loadAverage: { readonly start: readonly number[]; readonly end: readonly number[] }
  readonly echo: EchoFigures
  /** The bare echo on each stack measured (stackName -> figures), the default stack's being `echo`. */
  readonly echoByStack: Readonly<Record<string, EchoFigures>>
  /** The consensus transport's pipelined message rate next to bare libp2p; null when skipped. */
  readonly transport: TransportRate | null
  readonly runs: readonly LiveRun[]
  /** `--curve`: one throughput-latency curve per cluster and client count (its steps are runs above). */
  readonly curves: readonly LiveCurve[]
  /** `--baseline etcd`: etcd measured in this run with the same workload, beside every protocol run; null: not asked. */
  readonly baseline: EtcdBaselineResults | null
  readonly wallMs: number
}

export interface LiveBenchHooks {
  /** Before each step; `done` of `total` measurements finished. */
  readonly onProgress?: (p: { done: number; total: number; label: string }) => void
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

const r3 = (x: number) => Math.round(x * 1000) / 1000

/** Replicas for a live run: the smallest cluster tolerating one fault, or the protocol's only size (the baseline). */
export function liveClusterSize(p: AnyProtocol): number {
  try {
    return p.replicasFor(1)
  } catch {
    return p.replicasFor(0)
  }
}

function medians(samples: readonly LiveMeasurement[]): LiveMedians {
  const m = (get: (s: LiveMeasurement) => number) => r3(median(samples.map(get)))
  return {
    throughput: m(s => s.figures.throughput),
    latencyMs: {
      meanMs: m(s => s.figures.latencyMs.meanMs), p50: m(s => s.figures.latencyMs.p50), p90: m(s => s.figures.latencyMs.p90),
      p99: m(s => s.figures.latencyMs.p99), p999: m(s => s.figures.latencyMs.p999), max: m(s => s.figures.latencyMs.max),
    },
    latencySamples: m(s => s.figures.latencyMs.count),
    messagesPerOp: m(s => s.figures.messagesPerOp.total),
    bytesPerOp: m(s => s.figures.bytesPerOp.total),
    cpuUsPerOp: m(s => s.host.cpuUsPerOp),
    signatureCpuShare: samples.some(s => s.figures.signatureCpuShare === null) ? null : m(s => s.figures.signatureCpuShare!),
    timeouts: m(s => s.figures.timeouts),
    ops: m(s => s.figures.ops),
    fsyncsPerOp: samples.every(s => s.fsyncs != null && s.figures.ops > 0) ? m(s => s.fsyncs! / s.figures.ops) : null,
    requestsShed: samples.every(s => s.requestsShed != null) ? m(s => s.requestsShed!) : null,
  }
}

/** Replica RSS summed over processes, per group hosted (each replica hosts every group in the bench). */
function rssPerGroup(processes: readonly ProcessFigures[], groups: number, n: number): number | null {
  const replicas = processes.filter(p => p.role === 'replica')
  if (replicas.length === 0 || replicas.some(p => p.rssBytes === null)) return null
  return Math.round(replicas.reduce((s, p) => s + p.rssBytes!, 0) / (groups * n))
}

/** Each process's figures: the median of every figure over the samples (null when no sample has it). */
function processMedians(samples: readonly LiveMeasurement[]): ProcessFigures[] {
  const first = samples[0]?.processes ?? []
  return first.map(p => {
    const same = samples.map(s => s.processes.find(q => q.role === p.role && q.id === p.id)).filter(q => q !== undefined)
    const m = (get: (q: ProcessFigures) => number | null): number | null => {
      const values = same.map(get).filter((v): v is number => v !== null)
      return values.length === 0 ? null : r3(median(values))
    }
    return { role: p.role, id: p.id, pid: p.pid, cpuMs: m(q => q.cpuMs), cpuPercent: m(q => q.cpuPercent), cpuUsPerOp: m(q => q.cpuUsPerOp),
      rssBytes: m(q => q.rssBytes), messagesPerOp: m(q => q.messagesPerOp), signatureCpuShare: m(q => q.signatureCpuShare ?? null) }
  })
}

function worst(verdicts: readonly Agreement['verdict'][]): Agreement['verdict'] {
  if (verdicts.includes('diverged')) return 'diverged'
  if (verdicts.includes('unchecked')) return 'unchecked'
  return 'agreed'
}

/** The change in the replicas' gossip counters over a run's samples; null without gossip. */
function gossipFigures(before: GossipCounters | null, after: GossipCounters | null, ops: number): GossipRunFigures | null {
  if (after === null) return null
  const d = (k: keyof GossipCounters) => after[k] - (before?.[k] ?? 0)
  return {
    published: d('published'), copiesReceived: d('copiesReceived'), delivered: d('delivered'),
    copiesPerDelivered: d('delivered') > 0 ? r3(d('copiesReceived') / d('delivered')) : 0,
    copyBytesPerOp: ops > 0 ? r3(d('copyBytesReceived') / ops) : 0,
  }
}

/** One cluster to measure (every client count in turn): what it runs, and in which form. */
interface ClusterPlan {
  readonly name: string
  readonly protocol: AnyProtocol
  readonly n: number
  readonly stack: Libp2pStack
  readonly dissemination: Dissemination
  readonly fsync: FsyncPolicy
  readonly form: LiveForm
  readonly groups: number
}

/** Every combination of the config's dimensions, in report order; with --cluster, that running cluster alone. */
function clusterPlans(config: LiveBenchConfig, registry: Registry): ClusterPlan[] {
  const plans: ClusterPlan[] = []
  const protocolOf = (name: string) => {
    const protocol = registry.get(name)
    if (protocol === undefined) throw new Error(`protocol ${name} is not registered`)
    return protocol
  }
  if (config.cluster !== null) {
    const c = loadClusterConfig(config.cluster)
    return [{ name: c.protocol, protocol: protocolOf(c.protocol), n: c.replicas.length, stack: config.stacks[0]!,
      dissemination: config.disseminations[0]!, fsync: config.fsync[0]!, form: 'external', groups: config.groups[0]! }]
  }
  for (const name of config.protocols) {
    const protocol = protocolOf(name)
    const n = liveClusterSize(protocol)
    for (const stack of config.stacks) for (const dissemination of config.disseminations) for (const fsync of config.fsync)
    for (const form of config.forms) for (const groups of config.groups) plans.push({ name, protocol, n, stack, dissemination, fsync, form, groups })
  }
  return plans
}

const loadNow = () => loadavg().map(x => Math.round(x * 100) / 100)

export async function runLiveBench(config: LiveBenchConfig, registry: Registry, hooks: LiveBenchHooks = {}): Promise<LiveResults> {
  const started = performance.now()
  const startedAt = new Date().toISOString()
  // At the start: replica and load processes load the working tree's code when they start, so the commit that counts
  // is the one checked out when the run began (a checkout during the run would mix code; do not edit while measuring).
  const environment = captureEnvironment()
  const loadStart = loadNow()
  const clientCounts = [...config.clients].sort((a, b) => a - b)
  const plans = clusterPlans(config, registry)
  // With --curve, the most steps a curve may take (it usually stops earlier).
  const ratesPer = config.curve ? CURVE_MAX_STEPS : config.rates?.length ?? 1
  const total = plans.length * clientCounts.length * ratesPer * config.repeat + etcdMeasurementsPlanned(config)
  let done = 0
  const echoOn = async (stack: Libp2pStack): Promise<EchoFigures> => {
    hooks.onProgress?.({ done, total, label: `libp2p echo on ${stackName(stack)}` })
    const e = await measureLibp2pEcho({ pings: config.echoPings, warmup: Math.min(200, config.echoPings), stack })
    return {
      pings: e.pings, payloadBytes: e.payloadBytes, p50Ms: r3(e.p50Us / 1000), p99Ms: r3(e.p99Us / 1000),
      meanMs: r3(e.meanUs / 1000), maxMs: r3(e.maxUs / 1000),
    }
  }
  const echoByStack: Record<string, EchoFigures> = {}
  for (const stack of config.stacks) echoByStack[stackName(stack)] = await echoOn(stack)
  const echo = echoByStack[stackName(DEFAULT_STACK)] ?? await echoOn(DEFAULT_STACK)
  let transport: TransportRate | null = null
  if (config.transportMessages > 0) {
    hooks.onProgress?.({ done, total, label: `transport rate (${config.transportMessages} frames) and bare libp2p` })
    transport = await measureTransportRate({ messages: config.transportMessages })
  }
  // --baseline etcd: an etcd measurement of the same n and count right before each protocol measurement. Its etcd
  // processes are stopped when this function leaves, however it leaves (`await using`).
  await using etcd = config.baseline !== 'etcd' ? null : openEtcdBaseline(config, {
    onProgress: label => hooks.onProgress?.({ done, total, label }), onMeasured: () => { done++ },
  })
  const runs: LiveRun[] = []
  const curves: LiveCurve[] = []
  const maxClients = clientCounts[clientCounts.length - 1]!
  const nodesFor = (clients: number) => Math.min(clients, config.clientNodes ?? clients)
  for (const { name, protocol, n, stack, dissemination, fsync, form, groups } of plans) {
    const theory = Object.values(protocol.theoreticalMessages(n)).reduce((a, b) => a + b, 0)
    const stackLabel = stackName(stack)
    const label = `${name} n=${n} fsync=${fsync}` + (config.forms.length > 1 ? ` ${form}` : '') +
      (config.stacks.length > 1 || stackLabel !== stackName(DEFAULT_STACK) ? ` ${stackLabel}` : '') +
      (config.disseminations.length > 1 || dissemination !== 'direct' ? ` ${dissemination}` : '') + (groups > 1 ? ` groups=${groups}` : '')
    const loadProcesses = `${config.loadProcesses} load process${config.loadProcesses === 1 ? '' : 'es'}`
    hooks.onProgress?.({ done, total, label: `${label}: starting ${form === 'in-process' ? 'replicas in this process'
      : form === 'external' ? `${loadProcesses} for the running cluster of ${config.cluster}` : `${n} replica processes and ${loadProcesses}`}` })
    const cluster = await startLiveTarget(protocol, {
      form, loadProcesses: config.loadProcesses, ...(config.cluster !== null ? { clusterFile: config.cluster } : {}),
      protocol: name, n, clients: nodesFor(maxClients), fsync, signer: config.signer,
      tickMs: config.tickMs, requestTimeoutMs: config.timeoutMs,
      ...(config.clientNodes !== null ? { maxInFlight: Math.ceil(maxClients / config.clientNodes) } : {}),
      // As the simulated bench: what the protocol needs (PBFT: its checkpoint interval), else every 64 indexes.
      snapshotInterval: snapshotIntervalFor(protocol, 'auto', {}, n),
      ...(config.maxPending !== null ? { maxPendingRequests: config.maxPending } : {}),
      ...(groups > 1 ? { groups, groupKeys: config.keys } : {}),
      stack, dissemination,
    })
    try {
      // Fewest clients first: client nodes are added as the count grows, so small counts run without idle ones.
      for (const clients of clientCounts) {
        hooks.onProgress?.({ done, total, label: `${label} clients=${clients}: connecting` })
        const nodes = nodesFor(clients)
        const connectMs = await cluster.connect(nodes)
        const baseId = `${name}/n${n}/fsync-${fsync}` + (groups > 1 ? `/g${groups}` : '') + `/c${clients}` + (nodes !== clients ? `-on${nodes}` : '')
        const suffix = (form !== 'multi-process' ? `/${form}` : '') +
          (stackLabel !== stackName(DEFAULT_STACK) ? `/${stackLabel}` : '') + (dissemination !== 'direct' ? `/${dissemination}` : '')
        /** One LiveRun: `repeat` measurements, closed loop or open at `rate`. */
        const measureRun = async (rate: number | null): Promise<LiveRun> => {
          const samples: LiveMeasurement[] = []
          const gossipBefore = await cluster.gossip()
          const what = `${label} clients=${clients}` + (rate !== null ? ` rate=${rate}/s` : '')
          for (let i = 0; i < config.repeat; i++) {
            await etcd?.measureBeside(n, clients, i)
            hooks.onProgress?.({ done, total, label: what + (config.repeat > 1 ? ` (${i + 1}/${config.repeat})` : '') })
            samples.push(await cluster.measure(clients, nodes, {
              readRatio: 0, valueSize: config.valueSize, keys: config.keys, keyDistribution: 'uniform',
              warmupMs: config.warmupMs, durationMs: config.durationMs, maxOps: Number.MAX_SAFE_INTEGER,
              timelineBucketMs: 100, timeoutMs: config.timeoutMs, seed: config.seed + i, ratePerSec: rate,
            }))
            done++
          }
          const gossipAfter = await cluster.gossip()
          const run: LiveRun = {
            id: baseId + (rate !== null ? `/r${rate}` : '') + suffix,
            stack: stackLabel, dissemination,
            gossip: gossipFigures(gossipBefore, gossipAfter, samples.reduce((a, s) => a + s.figures.ops, 0)),
            form, protocol: name, n, fsync, clients, groups, offeredRate: rate,
            clientNodes: nodes,
            connectMs: Math.round(connectMs), samples, median: medians(samples),
            agreement: worst(samples.map(s => s.agreement.verdict)), theoreticalMessagesPerOp: theory,
            processes: processMedians(samples),
            rssPerGroupBytes: rssPerGroup(processMedians(samples), groups, n),
          }
          runs.push(run)
          etcd?.pairWith(run)
          return run
        }
        if (config.curve) {
          curves.push(await stepCurve(baseId + suffix, name, clients, config.curveStart, async rate => {
            const run = await measureRun(rate)
            return { offered: rate, throughput: run.median.throughput, p50Ms: run.median.latencyMs.p50, p99Ms: run.median.latencyMs.p99, runId: run.id }
          }))
        } else {
          for (const rate of config.rates ?? [null]) await measureRun(rate)
        }
      }
    } finally {
      await cluster.close()
    }
  }
  return {
    schema: LIVE_RESULTS_SCHEMA, startedAt, forms: config.forms, environment, config,
    loadAverage: { start: loadStart, end: loadNow() }, echo, echoByStack, transport, runs, curves,
    baseline: etcd?.results() ?? null, wallMs: Math.round(performance.now() - started),
  }
}
