/**
 * What `bench live` measures: protocols x fsync policies x client counts on loopback clusters, each measurement
 * repeated `repeat` times. Validated field by field; every problem is named by the flag the user typed, all at once.
 */
import { resolve } from 'node:path'
import { ConfigError } from '../../core/errors.ts'
import { loadClusterConfig } from '../../live/config.ts'
import { FSYNC_POLICIES, type FsyncPolicy } from '../../core/storage/file-storage.ts'
import type { Ed25519SignerName } from '../../core/signer.ts'
import type { Registry } from '../matrix.ts'
import { LIVE_FORMS, type LiveForm } from './live-target.ts'
import { DISSEMINATIONS, type Dissemination } from '../../net/libp2p/dissemination.ts'
import { DEFAULT_STACK, parseStack, resolveStack, type Libp2pStack } from '../../net/libp2p/stack.ts'

export interface LiveBenchConfig {
  /** Registry names, the unreplicated baseline included if wanted. */
  readonly protocols: readonly string[]
  /**
   * Outstanding operations (closed-loop callers). Without `clientNodes`, each is its own libp2p node and client id with
   * one request outstanding; with it, they are spread over that many client nodes, each pipelining its share.
   */
  readonly clients: readonly number[]
  /** Client libp2p nodes carrying the load (each with up to ceil(clients / clientNodes) calls in flight); null: one per client. */
  readonly clientNodes: number | null
  /** Frames sent through the consensus transport (and bare libp2p) for the per-message cost figure; 0 skips it. */
  readonly transportMessages: number
  readonly fsync: readonly FsyncPolicy[]
  readonly warmupMs: number
  readonly durationMs: number
  /** Measurements of each combination; figures reported are their medians. */
  readonly repeat: number
  /** Pings of the bare libp2p echo measured at the start. */
  readonly echoPings: number
  readonly signer: Ed25519SignerName
  readonly tickMs: number
  /** Client requests each replica keeps pending before answering busy (cluster.json maxPendingRequests); null: its default. */
  readonly maxPending: number | null
  readonly valueSize: number
  readonly keys: number
  /** Per-request deadline. */
  readonly timeoutMs: number
  /** Seeds the workload's choice of keys (timing is the machine's). */
  readonly seed: number
  /**
   * 'multi-process': each replica its own OS process, load from separate processes; 'in-process': all in this one (for
   * debugging). Both: each protocol measured in both forms one after the other, side by side in one report.
   */
  readonly forms: readonly LiveForm[]
  /** Load-generator processes sharing the client nodes (multi-process form). */
  readonly loadProcesses: number
  /** A production system measured in the same run with the same workload (etcd-baseline.ts); null: none. */
  readonly baseline: LiveBaseline | null
  /**
   * Consensus groups per cluster (multi-process form): the key space k0..k<keys-1> split evenly over that many groups,
   * every replica process in every group. 1: one group, no `groups` section (today's cluster).
   */
  readonly groups: readonly number[]
  /** libp2p stacks every protocol is measured on (net/libp2p/stack.ts), each next to the bare echo on that stack. */
  readonly stacks: readonly Libp2pStack[]
  /** How replicas' broadcasts travel: direct streams, a gossipsub topic, or both side by side. */
  readonly disseminations: readonly Dissemination[]
  /**
   * `--cluster`: the cluster.json (absolute path) of a running cluster to measure instead of starting one (form
   * 'external'); its protocol, size, fsync, stack, dissemination and groups are the file's. null: start clusters.
   */
  readonly cluster: string | null
  /**
   * Open loop (`--rates`): each client count is measured at each of these offered rates (operations/s, Poisson
   * arrivals, latency from the intended arrival; the client count bounds what is outstanding). null: closed loop.
   */
  readonly rates: readonly number[] | null
  /**
   * `--curve`: a throughput-latency curve per cluster and client count: open loop from `curveStart` ops/s, the rate
   * doubled each step until the cluster no longer keeps up (live-curve.ts); the saturation point is reported.
   */
  readonly curve: boolean
  readonly curveStart: number
}

export const LIVE_BASELINES = ['etcd'] as const
export type LiveBaseline = typeof LIVE_BASELINES[number]

export const DEFAULT_LIVE_BENCH: Omit<LiveBenchConfig, 'protocols'> = {
  clients: [1, 16, 64, 256],
  clientNodes: null,
  transportMessages: 100_000,
  fsync: ['always', 'batch', 'none'],
  warmupMs: 1000,
  durationMs: 3000,
  repeat: 1,
  echoPings: 1000,
  signer: 'node',
  tickMs: 10,
  maxPending: null,
  valueSize: 16,
  keys: 1000,
  timeoutMs: 5000,
  seed: 1,
  forms: ['multi-process'],
  loadProcesses: 1,
  baseline: null,
  groups: [1],
  stacks: [DEFAULT_STACK],
  disseminations: ['direct'],
  cluster: null,
  rates: null,
  curve: false,
  curveStart: 100,
}

/** Load-generator processes one run may start (each a Node process of its own). */
export const MAX_LOAD_PROCESSES = 16

/** Client nodes one process may hold: each is a libp2p node with a TCP connection to every replica. */
export const MAX_LIVE_CLIENTS = 1024

/** The highest open-loop rate one run may offer (operations per second). */
export const MAX_LIVE_RATE = 10_000_000

/** Groups one bench cluster may have (each is a replica host in every replica process). */
export const MAX_LIVE_GROUPS = 1024

/** Flag values as commander gives them (strings). */
export interface LiveBenchFlags {
  protocols?: string
  clients?: string
  clientNodes?: string
  transportMessages?: string
  fsync?: string
  warmupMs?: string
  durationMs?: string
  repeat?: string
  echoPings?: string
  signer?: string
  tickMs?: string
  maxPending?: string
  valueSize?: string
  keys?: string
  timeoutMs?: string
  seed?: string
  /** Commander gives a boolean for a flag without a value. */
  inProcess?: boolean
  forms?: string
  loadProcesses?: string
  baseline?: string
  groups?: string
  stack?: string
  dissemination?: string
  cluster?: string
  rates?: string
  /** Commander gives a boolean for a flag without a value. */
  curve?: boolean
  curveStart?: string
}

export class LiveBenchConfigError extends ConfigError {
  readonly problems: readonly string[]
  constructor(problems: readonly string[]) {
    const first = problems[0]!
    super(first.slice(0, first.indexOf(':')), problems.length === 1 ? first.slice(first.indexOf(':') + 2)
      : `${problems.length} problems:\n  ${problems.join('\n  ')}`)
    this.problems = problems
  }
}

/** Default protocols: every registered one, the baseline first (registry order otherwise). */
export function defaultLiveProtocols(registry: Registry): string[] {
  const names = [...registry.keys()]
  return names.includes('unreplicated') ? ['unreplicated', ...names.filter(n => n !== 'unreplicated')] : names
}

export function buildLiveBenchConfig(flags: LiveBenchFlags, registry: Registry): LiveBenchConfig {
  const problems: string[] = []
  const d = DEFAULT_LIVE_BENCH
  const items = (text: string) => text.split(',').map(s => s.trim())
  const list = <T>(flag: string, text: string | undefined, check: (item: string, i: number) => T | undefined, fallback: readonly T[]): readonly T[] => {
    if (text === undefined) return fallback
    const parts = items(text)
    if (parts.length === 0 || parts.every(p => p === '')) { problems.push(`${flag}: needs at least one value`); return fallback }
    const out: T[] = []
    parts.forEach((p, i) => { const v = check(p, i); if (v !== undefined) out.push(v) })
    if (new Set(out.map(x => JSON.stringify(x))).size !== out.length) problems.push(`${flag}: lists a value twice`)
    return out
  }
  const int = (flag: string, min: number, max: number) => (item: string, i?: number): number | undefined => {
    const v = Number(item)
    if (/^\d+$/.test(item) && Number.isSafeInteger(v) && v >= min && v <= max) return v
    problems.push(`${flag}${i === undefined ? '' : `[${i}]`}: expected an integer from ${min} to ${max}, got "${item}"`)
    return undefined
  }
  const scalar = <T>(text: string | undefined, check: (item: string) => T | undefined, fallback: T): T =>
    text === undefined ? fallback : (check(text.trim()) ?? fallback)

  const known = [...registry.keys()]
  const protocols = list('--protocols', flags.protocols, (p, i) => {
    if (known.includes(p)) return p
    problems.push(`--protocols[${i}]: unknown protocol "${p}" (registered: ${known.join(', ')})`)
    return undefined
  }, defaultLiveProtocols(registry))
  const clients = list('--clients', flags.clients, int('--clients', 1, MAX_LIVE_CLIENTS), d.clients)
  const fsync = list('--fsync', flags.fsync, (p, i) => {
    if ((FSYNC_POLICIES as readonly string[]).includes(p)) return p as FsyncPolicy
    problems.push(`--fsync[${i}]: expected one of ${FSYNC_POLICIES.join(', ')}, got "${p}"`)
    return undefined
  }, d.fsync)
  const config: Omit<LiveBenchConfig, 'groups'> = {
    protocols,
    clients,
    clientNodes: flags.clientNodes === undefined ? null : (int('--client-nodes', 1, MAX_LIVE_CLIENTS)(flags.clientNodes.trim()) ?? null),
    transportMessages: scalar(flags.transportMessages, int('--transport-messages', 0, 10_000_000), d.transportMessages),
    fsync,
    warmupMs: scalar(flags.warmupMs, int('--warmup-ms', 0, 600_000), d.warmupMs),
    durationMs: scalar(flags.durationMs, int('--duration-ms', 1, 3_600_000), d.durationMs),
    repeat: scalar(flags.repeat, int('--repeat', 1, 100), d.repeat),
    echoPings: scalar(flags.echoPings, int('--echo-pings', 1, 1_000_000), d.echoPings),
    signer: scalar(flags.signer, s => {
      if (s === 'node' || s === 'tweetnacl') return s
      problems.push(`--signer: expected node or tweetnacl, got "${s}"`)
      return undefined
    }, d.signer),
    tickMs: scalar(flags.tickMs, int('--tick-ms', 1, 10_000), d.tickMs),
    maxPending: flags.maxPending === undefined ? d.maxPending : (int('--max-pending', 1, 1 << 24)(flags.maxPending.trim()) ?? null),
    valueSize: scalar(flags.valueSize, int('--value-size', 0, 1 << 20), d.valueSize),
    keys: scalar(flags.keys, int('--keys', 1, 10_000_000), d.keys),
    timeoutMs: scalar(flags.timeoutMs, int('--timeout-ms', 1, 600_000), d.timeoutMs),
    seed: scalar(flags.seed, int('--seed', 0, 2 ** 32 - 1), d.seed),
    forms: flags.inProcess === true ? ['in-process'] : list('--forms', flags.forms, (f, i) => {
      if ((LIVE_FORMS as readonly string[]).includes(f)) return f as LiveForm
      problems.push(`--forms[${i}]: expected one of ${LIVE_FORMS.join(', ')}, got "${f}"`)
      return undefined
    }, d.forms),
    loadProcesses: scalar(flags.loadProcesses, int('--load-processes', 1, MAX_LOAD_PROCESSES), d.loadProcesses),
    baseline: scalar<LiveBaseline | null>(flags.baseline, s => {
      if (s === 'none') return null
      if ((LIVE_BASELINES as readonly string[]).includes(s)) return s as LiveBaseline
      problems.push(`--baseline: expected ${LIVE_BASELINES.join(', ')} or none, got "${s}"`)
      return undefined
    }, d.baseline),
    stacks: list('--stack', flags.stack, (text, i) => {
      try { return parseStack(text, `--stack[${i}]`) } catch (e) { problems.push((e as Error).message); return undefined }
    }, d.stacks),
    disseminations: list('--dissemination', flags.dissemination, (text, i) => {
      if ((DISSEMINATIONS as readonly string[]).includes(text)) return text as Dissemination
      problems.push(`--dissemination[${i}]: expected one of ${DISSEMINATIONS.join(', ')}, got "${text}"`)
      return undefined
    }, d.disseminations),
    cluster: null,
    rates: flags.rates === undefined ? null : list('--rates', flags.rates, int('--rates', 1, MAX_LIVE_RATE), []),
    curve: flags.curve === true,
    curveStart: scalar(flags.curveStart, int('--curve-start', 1, MAX_LIVE_RATE), d.curveStart),
  }
  if (config.curve && config.rates !== null) problems.push('--curve: steps the rate itself; give --curve or --rates, not both')
  if (flags.curveStart !== undefined && !config.curve) problems.push('--curve-start: only with --curve')
  if (config.baseline !== null && (config.curve || config.rates !== null)) {
    problems.push(`${config.curve ? '--curve' : '--rates'}: the etcd baseline is measured closed loop only; give --baseline none`)
  }
  if (config.baseline !== null && (config.stacks.length > 1 || config.disseminations.length > 1)) {
    problems.push('--baseline: etcd is paired with one stack and dissemination; measure stacks in a run of their own')
  }
  const groups = list('--groups', flags.groups, int('--groups', 1, MAX_LIVE_GROUPS), d.groups)
  if (flags.cluster !== undefined) return withCluster(flags, { ...config, groups }, problems)
  if (groups.some(g => g > 1)) {
    if (config.forms.includes('in-process')) problems.push('--groups: more than one group needs the multi-process form only (drop --in-process / in-process from --forms)')
    if (config.baseline !== null) problems.push('--groups: the etcd baseline is measured for one group only; give --baseline none')
    const most = Math.max(...groups)
    if (most > config.keys) problems.push(`--groups: ${most} groups need at least as many --keys to split, got ${config.keys}`)
  }
  if (flags.inProcess === true && flags.forms !== undefined) problems.push('--in-process: means --forms in-process; give one of the two')
  if (!config.forms.includes('multi-process') && config.loadProcesses > 1) {
    problems.push('--load-processes: load processes need the multi-process form (drop --in-process)')
  }
  if (problems.length > 0) throw new LiveBenchConfigError(problems)
  return { ...config, groups }
}

/** Flags a running cluster's file decides (`--cluster`), by the flag a user might still give. */
const DECIDED_BY_CLUSTER = {
  protocols: '--protocols', fsync: '--fsync', inProcess: '--in-process', forms: '--forms', groups: '--groups', stack: '--stack',
  dissemination: '--dissemination', signer: '--signer', tickMs: '--tick-ms', maxPending: '--max-pending',
} as const satisfies Partial<Record<keyof LiveBenchFlags, string>>

/**
 * `--cluster <cluster.json>`: measure that running cluster. What the file decides is taken from it (and refused as a
 * flag); what the load generators need must fit it: client nodes are the file's client identities.
 */
function withCluster(flags: LiveBenchFlags, config: LiveBenchConfig, problems: string[]): LiveBenchConfig {
  for (const [key, flag] of Object.entries(DECIDED_BY_CLUSTER)) {
    if (flags[key as keyof LiveBenchFlags] !== undefined) problems.push(`${flag}: set by the running cluster's cluster.json (--cluster); drop it`)
  }
  const file = resolve(flags.cluster!.trim())
  let c
  try {
    c = loadClusterConfig(file)
  } catch (e) {
    problems.push(`--cluster: ${file}: ${(e as Error).message}`)
  }
  if (c !== undefined) {
    const identities = c.clients.length
    const most = config.clientNodes ?? Math.max(...config.clients)
    if (identities === 0) problems.push(`--cluster: ${file} lists no clients; the load generators need client identities (cluster init --clients)`)
    else if (most > identities) {
      problems.push(`${config.clientNodes !== null ? '--client-nodes' : '--clients'}: ${most} client nodes need as many client ` +
        `identities, and ${file} lists ${identities}` + (config.clientNodes === null ? ' (give --client-nodes to pipeline on fewer)' : ''))
    }
    if (config.baseline !== null && c.groups !== undefined) problems.push('--baseline: the etcd baseline is measured for one group only; this cluster has groups')
  }
  if (problems.length > 0) throw new LiveBenchConfigError(problems)
  return {
    ...config, cluster: file, protocols: [c!.protocol], fsync: [c!.fsync as FsyncPolicy], forms: ['external'], groups: [c!.groups?.count ?? 1],
    stacks: [resolveStack(c!.stack)], disseminations: [c!.dissemination], signer: c!.signer, tickMs: c!.tickMs,
  }
}
