/**
 * "What linearizability costs": the same keyed workload, the same seeds and the same partition for protocols with
 * consensus (Raft, and EPaxos when registered) and for quorum-kv, the Dynamo-style store without it, at its default
 * strict quorums (R + W > N) and with weak ones (R = W = 1). For each: latency and availability (the share of
 * operations answered) before and during the partition, on the minority and the majority side, and how many runs and
 * keys have a history the linearizability checker rejects.
 *
 * The partition cuts the cluster into a minority of replicas and a majority, and each client goes with the replica it
 * prefers (ClientContext.preferredReplica): clients on the minority side can reach only minority replicas, as in a
 * real network split. That is where the trade shows: a consensus protocol (and quorum-kv with strict quorums) cannot
 * answer there; weak quorums answer everyone and give up linearizability to do it.
 */
import { checkHistory } from '../core/checker/index.ts'
import type { ClientHost } from '../core/client-host.ts'
import { ConfigError } from '../core/errors.ts'
import { HistoryRecorder } from '../core/history.ts'
import { encodeKvCommand } from '../core/kv.ts'
import { createKvOpGenerator, recordInvoke, recordOutcome } from '../core/kv-workload.ts'
import type { AnyProtocol, ClientContext } from '../core/protocol.ts'
import { createRng } from '../core/random.ts'
import type { NodeId } from '../core/types.ts'
import { createSimCluster, type SimClusterOptions } from '../net/sim/cluster.ts'
import { LatencyRecorder, round3, type LatencySummary } from './latency.ts'
import { simNetworkOptions } from './networks.ts'

/** Protocols compared, in this order, whichever are registered. */
export const CAP_PROTOCOLS = ['raft', 'epaxos', 'quorum-kv'] as const

/** lan: the simulator's LAN links; wan: three regions with clients spread over them (the sweep's `wan-spread`), each at its nearest replica. */
export type CapNetwork = 'lan' | 'wan'

export interface CapOptions {
  readonly networks: readonly CapNetwork[]
  readonly n: number
  readonly clients: number
  readonly seeds: number
  readonly firstSeed: number
  readonly keys: number
  readonly readRatio: number
  /** Operations invoked before this (leader election, first contacts) count in no phase. */
  readonly warmupMs: number
  /** Virtual times of the partition and of its heal; the workload stops at endMs (every operation then completes). */
  readonly partitionAtMs: number
  readonly healAtMs: number
  readonly endMs: number
  /** A request unanswered this long is recorded as unknown (`info`): not answered, for availability. */
  readonly timeoutMs: number
  readonly thinkMs: number
}

export const DEFAULT_CAP_OPTIONS: CapOptions = {
  networks: ['lan', 'wan'], n: 5, clients: 10, seeds: 5, firstSeed: 1, keys: 8, readRatio: 0.5, warmupMs: 1000,
  partitionAtMs: 2000, healAtMs: 4500, endMs: 6000, timeoutMs: 1000, thinkMs: 10,
}

/** A protocol with the options it runs under. */
export interface CapVariant {
  readonly label: string
  readonly protocol: string
  readonly options: Readonly<Record<string, unknown>>
}

export interface PhaseFigures {
  /** Operations invoked in the phase. */
  readonly invoked: number
  /**
   * Of them, answered (ok, or a compare-and-set that definitely failed) before their timeout and, during the partition,
   * before the heal.
   */
  readonly answered: number
  /** answered / invoked (null when nothing was invoked). */
  readonly availability: number | null
  /** Latency of the answered ones. */
  readonly latencyMs: LatencySummary
}

export interface CapRow {
  readonly network: CapNetwork
  readonly variant: string
  readonly protocol: string
  readonly options: Readonly<Record<string, unknown>>
  readonly consistency: 'linearizable' | 'eventual'
  /** quorum-kv run with R + W <= N on purpose (allowWeakQuorums): its anomalies are expected. */
  readonly weakQuorums: boolean
  /** Fault-free, after the warm-up and before the partition. */
  readonly before: PhaseFigures
  /** During the partition, by the side of the client. */
  readonly duringMinority: PhaseFigures
  readonly duringMajority: PhaseFigures
  readonly runs: number
  /** Runs whose history the checker rejected (not-linearizable); `unknown` verdicts are counted apart. */
  readonly runsNotLinearizable: number
  readonly runsUnknown: number
  /** Keys whose history was rejected, and keys checked, over all runs. */
  readonly keysFailed: number
  readonly keysChecked: number
}

export interface CapReport {
  readonly options: CapOptions
  /** The replicas on the minority side; the rest are the majority. */
  readonly minority: readonly NodeId[]
  readonly rows: readonly CapRow[]
}

/** The variants compared for a registry: consensus protocols as they are, quorum-kv strict and weak. */
export function capVariants(registry: ReadonlyMap<string, AnyProtocol>, n: number): CapVariant[] {
  const out: CapVariant[] = []
  for (const name of CAP_PROTOCOLS) {
    if (!registry.has(name)) continue
    if (name !== 'quorum-kv') { out.push({ label: name, protocol: name, options: {} }); continue }
    const majority = Math.floor(n / 2) + 1
    out.push({ label: `quorum-kv R=W=${majority}`, protocol: name, options: {} })
    out.push({ label: 'quorum-kv R=W=1 (weak)', protocol: name, options: { readQuorum: 1, writeQuorum: 1, allowWeakQuorums: true } })
  }
  return out
}

class PhaseRecorder {
  invoked = 0
  answered = 0
  readonly latency = new LatencyRecorder()

  figures(): PhaseFigures {
    return {
      invoked: this.invoked, answered: this.answered,
      availability: this.invoked === 0 ? null : round3(this.answered / this.invoked), latencyMs: this.latency.summary(),
    }
  }
}

export function measureLinearizabilityCost(registry: ReadonlyMap<string, AnyProtocol>, partial: Partial<CapOptions> = {},
  variants?: readonly CapVariant[]): CapReport {
  const o: CapOptions = { ...DEFAULT_CAP_OPTIONS, ...partial }
  if (!(o.warmupMs < o.partitionAtMs && o.partitionAtMs < o.healAtMs && o.healAtMs <= o.endMs)) {
    throw new ConfigError('partitionAtMs', 'expected warmupMs < partitionAtMs < healAtMs <= endMs, got ' +
      `${o.warmupMs}, ${o.partitionAtMs}, ${o.healAtMs}, ${o.endMs}`)
  }
  if (!Number.isInteger(o.n) || o.n < 3) throw new ConfigError('n', `a partition needs a minority and a majority: n >= 3, got ${o.n}`)
  const minority = Array.from({ length: Math.floor((o.n - 1) / 2) }, (_, i) => i)
  const rows = o.networks.flatMap(network => (variants ?? capVariants(registry, o.n)).map(v => {
    const protocol = registry.get(v.protocol)
    if (protocol === undefined) throw new ConfigError('protocols', `protocol "${v.protocol}" is not registered`)
    return measureVariant(protocol, v, o, minority, network)
  }))
  return { options: o, minority, rows }
}

/** The sweep's own networks: 'wan' here is the sweep's 'wan-spread' (clients in every region). */
function networkOptions(network: CapNetwork, o: CapOptions): NonNullable<SimClusterOptions['network']> {
  return simNetworkOptions(network === 'lan' ? 'lan' : 'wan-spread', o.n, o.clients)
}

function measureVariant(base: AnyProtocol, v: CapVariant, o: CapOptions, minority: readonly NodeId[], network: CapNetwork): CapRow {
  const before = new PhaseRecorder()
  const duringMinority = new PhaseRecorder()
  const duringMajority = new PhaseRecorder()
  let runsNotLinearizable = 0
  let runsUnknown = 0
  let keysFailed = 0
  let keysChecked = 0
  const parsed = base.parseOptions(v.options, o.n) as Record<string, unknown>
  for (let seed = o.firstSeed; seed < o.firstSeed + o.seeds; seed++) {
    // Which replica each client prefers, as the cluster tells it: the client goes to that replica's side.
    const preferred = new Map<NodeId, NodeId>()
    const protocol: AnyProtocol = {
      ...base,
      createClient: (ctx: ClientContext) => { preferred.set(ctx.id, ctx.preferredReplica); return base.createClient(ctx) },
    }
    const cluster = createSimCluster({
      protocol, n: o.n, seed, clients: o.clients, protocolOptions: v.options, network: networkOptions(network, o),
    })
    const sim = cluster.sim
    const minorityClients = cluster.clients.filter(c => minority.includes(preferred.get(c.id) ?? -1)).map(c => c.id)
    sim.at(o.partitionAtMs, () => {
      const minoritySide = [...minority, ...minorityClients]
      const majoritySide = [...cluster.replicaIds.filter(id => !minority.includes(id)),
        ...cluster.clients.map(c => c.id).filter(id => !minorityClients.includes(id))]
      cluster.network.partition([minoritySide, majoritySide])
    })
    sim.at(o.healAtMs, () => cluster.network.heal())
    const recorder = new HistoryRecorder()
    const next = createKvOpGenerator({ keys: o.keys, readRatio: o.readRatio }, cluster.clients.map(c => c.id), createRng(seed).fork('cap-workload'))
    let outstanding = 0
    const issue = (client: ClientHost): void => {
      if (sim.now() >= o.endMs) return
      const command = next(client.id)
      const invokedAt = sim.now()
      const phase = invokedAt < o.warmupMs ? null : invokedAt < o.partitionAtMs ? before
        : invokedAt < o.healAtMs ? (minorityClients.includes(client.id) ? duringMinority : duringMajority) : null
      const op = recordInvoke(recorder, client.id, command, invokedAt)
      outstanding++
      if (phase !== null) phase.invoked++
      client.submit(encodeKvCommand(command), command.type === 'get', o.timeoutMs, outcome => {
        outstanding--
        const kind = recordOutcome(op, outcome, sim.now())
        // During the partition, answered means answered while it lasted: an answer after the heal is no availability.
        const inTime = phase === before || sim.now() < o.healAtMs
        if (phase !== null && kind !== 'info' && inTime) {
          phase.answered++
          phase.latency.recordMs(sim.now() - invokedAt)
        }
        sim.setTimer(o.thinkMs, () => issue(client))
      })
    }
    for (const client of cluster.clients) issue(client)
    sim.runUntil(() => sim.now() >= o.endMs && outstanding === 0, o.endMs + 10 * o.timeoutMs)
    const check = checkHistory(recorder.events, { timeLimitMs: 30_000 })
    if (check.verdict === 'not-linearizable') runsNotLinearizable++
    if (check.verdict === 'unknown') runsUnknown++
    keysFailed += check.failures.length
    keysChecked += check.keysChecked
  }
  return {
    network, variant: v.label, protocol: base.name, options: v.options, consistency: base.consistency ?? 'linearizable',
    weakQuorums: parsed['weakQuorums'] === true,
    before: before.figures(), duringMinority: duringMinority.figures(), duringMajority: duringMajority.figures(),
    runs: o.seeds, runsNotLinearizable, runsUnknown, keysFailed, keysChecked,
  }
}
