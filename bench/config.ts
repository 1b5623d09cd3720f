/**
 * What a benchmark sweep is: one list of values per dimension (protocol, n, f, fault kind, network, workload), plus
 * the run length. The same shape comes from command-line flags or a JSON file (`--config sweep.json`), and both go
 * through `validateSweepConfig`, which names every bad field at once.
 */
import { ConfigError } from '../core/errors.ts'
import { isKeyDistribution, type KeyDistribution } from '../core/kv-workload.ts'
import { parseCpuModel } from '../net/sim/cpu.ts'
import type { SignerName } from '../core/signer.ts'

/** 'wan': clients in the first region (where leaders sit); 'wan-spread': clients spread over every region in turn. */
export type NetworkName = 'lan' | 'wan' | 'wan-spread' | 'libp2p'
export const NETWORK_NAMES: readonly NetworkName[] = ['lan', 'wan', 'wan-spread', 'libp2p']
export type { KeyDistribution } from '../core/kv-workload.ts'
export type LoadMode = 'closed' | 'open'
/**
 * 'none', 'crash-leader', 'transfer-leader' (leader transfer through the admin input, protocols that have it),
 * 'byzantine' (every strategy of the protocol's adversary) or 'byzantine:<strategy>'.
 */
export type FaultKind = string

/**
 * `byzantine:<strategy>[@primary|@backup]`: where the faulty replicas sit. 'primary': on the replicas that lead views
 * 0, 1, ... (ids 0..f-1); 'backup': on the highest ids; 'default': the protocol's choice (primary for its primaryOnly
 * strategies, else backup).
 */
export function parseByzantineKind(kind: string): { strategy: string; placement: 'primary' | 'backup' | 'default' | 'invalid' } {
  const body = kind.slice('byzantine:'.length)
  const at = body.indexOf('@')
  if (at < 0) return { strategy: body, placement: 'default' }
  const where = body.slice(at + 1)
  return { strategy: body.slice(0, at), placement: where === 'primary' || where === 'backup' ? where : 'invalid' }
}

export interface SweepConfig {
  /** Protocols to compare (registry names). */
  readonly protocols: readonly string[]
  /** Cluster sizes, or 'auto': per protocol the smallest clusters for f = 1, 2, 3 (descriptor.replicasFor), up to 7. */
  readonly n: readonly number[] | 'auto'
  /** Faults injected (crashed or Byzantine replicas); 0 pairs with fault kind 'none', f >= 1 with the others. */
  readonly f: readonly number[]
  readonly faults: readonly FaultKind[]
  readonly networks: readonly NetworkName[]
  readonly readRatio: readonly number[]
  /** Bytes of each written value. */
  readonly valueSize: readonly number[]
  readonly keyDistribution: readonly KeyDistribution[]
  /** Distinct keys the workload draws from. */
  readonly keys: number
  /** Concurrent clients: outstanding operations in closed loop, the pool serving arrivals in open loop. */
  readonly clients: readonly number[]
  /** Protocol option maxBatchCount; 'default' leaves the protocol's own. */
  readonly batch: readonly (number | 'default')[]
  readonly signers: readonly SignerName[]
  readonly mode: LoadMode
  /** Open loop only: target arrival rates in operations per (virtual) second. */
  readonly rates: readonly number[]
  /** Virtual time before measuring (leader election, caches): excluded from every figure. */
  readonly warmupMs: number
  /** Virtual time measured. */
  readonly durationMs: number
  /** A run stops early once this many operations completed in the measured window (a crash run not before 2 s after the crash). */
  readonly maxOps: number
  readonly seed: number
  /** Virtual milliseconds per protocol tick. */
  readonly tickMs: number
  /**
   * The host snapshots the state machine every this many applied indexes; 'auto': what the protocol requires (PBFT:
   * its checkpointInterval), else 1000. Raft and Multi-Paxos compact their logs at them.
   */
  readonly snapshotInterval: number | 'auto'
  /**
   * Processing-time model of the simulator (net/sim/cpu.ts): 'reference' (costs measured on the reference machine,
   * signature costs following the run's signer), 'none' (zero-time processing: throughput is then clients/latency),
   * or key=value pairs over the reference, e.g. 'receiveUs=10,sendUs=5'.
   */
  readonly cpu: string
  /** Width of a throughput-over-time bucket. */
  readonly timelineBucketMs: number
  /** Protocol registered as the baseline run in every sweep (null: none). */
  readonly baseline: string | null
  /** Extra options per protocol name, validated by the protocol's parseOptions. */
  readonly protocolOptions: Readonly<Record<string, Readonly<Record<string, unknown>>>>
  /** Also measure messages per command at batch size 1 for every (protocol, n) next to the theory. */
  readonly messageComplexity: boolean
  /**
   * Also run the "what linearizability costs" experiment (bench/cap.ts): Raft (and EPaxos, when registered) against
   * quorum-kv with strict and weak quorums, under one partition, same workload and seeds.
   */
  readonly linearizabilityCost: boolean
}

export const DEFAULT_SWEEP: SweepConfig = {
  protocols: [],
  n: 'auto',
  f: [0, 1],
  faults: ['none', 'crash-leader', 'byzantine'],
  networks: ['lan'],
  readRatio: [0],
  valueSize: [16],
  keyDistribution: ['uniform'],
  keys: 1000,
  clients: [64],
  batch: ['default'],
  signers: ['sim'],
  mode: 'closed',
  rates: [2000],
  warmupMs: 1000,
  durationMs: 2000,
  maxOps: 5000,
  seed: 1,
  tickMs: 10,
  snapshotInterval: 'auto',
  cpu: 'reference',
  timelineBucketMs: 100,
  baseline: 'unreplicated',
  protocolOptions: {},
  messageComplexity: true,
  linearizabilityCost: false,
}

/** Presets adjust the defaults; explicit flags or config fields still win. */
export const PRESETS: Readonly<Record<string, Partial<SweepConfig>>> = {
  /** About a minute: the smallest clusters, short windows. */
  quick: { n: 'auto', f: [0, 1], warmupMs: 500, durationMs: 2000, maxOps: 2000, faults: ['none', 'crash-leader'] },
  /**
   * The latency tax of geography: replicas spread over three regions (5 replicas: 2 + 2 + 1), n = 3, 5, 7, fault
   * free. 'wan': clients in the leader's region, measured next to the value predicted from the RTT matrix;
   * 'wan-spread': clients in every region, at 0%, 2% and 100% conflicting commands (the EPaxos evaluation's workload),
   * so the report shows each region's commit latency for leader-based and leaderless protocols side by side.
   */
  wan: {
    n: [3, 5, 7], f: [0], faults: ['none'], networks: ['wan', 'wan-spread'], clients: [9],
    keyDistribution: ['hot:0', 'hot:0.02', 'hot:1'], warmupMs: 2000, durationMs: 6000,
  },
  /**
   * How throughput, latency and messages per operation grow with n: every protocol from 4 to 100 replicas, fault
   * free, short windows, so the whole sweep takes minutes (modelled signatures keep PBFT's n^2 affordable).
   */
  scale: { n: [4, 16, 31, 64, 100], f: [0], faults: ['none'], clients: [16], warmupMs: 500, durationMs: 1000, maxOps: 1000 },
  /**
   * What linearizability costs: Raft against quorum-kv (Dynamo-style, no consensus) at n = 5, fault free and with the
   * leader (for quorum-kv: the busiest replica) crashed, plus the partition experiment of bench/cap.ts, whose section
   * also covers EPaxos when it is registered.
   */
  cap: {
    protocols: ['raft', 'quorum-kv'], n: [5], f: [0, 1], faults: ['none', 'crash-leader'], clients: [16], keys: 100,
    readRatio: [0.5], warmupMs: 500, durationMs: 2000, maxOps: 2000, baseline: null, linearizabilityCost: true,
  },
}

/** How a config field is spelled as a flag, so errors name what the user typed. */
export const FLAG_OF: Readonly<Record<keyof SweepConfig, string>> = {
  protocols: '--protocols', n: '--n', f: '--f', faults: '--faults', networks: '--network', readRatio: '--read-ratio',
  valueSize: '--value-size', keyDistribution: '--key-dist', keys: '--keys', clients: '--clients', batch: '--batch',
  signers: '--signer', mode: '--mode', rates: '--rate', warmupMs: '--warmup-ms', durationMs: '--duration-ms',
  maxOps: '--max-ops', seed: '--seed', tickMs: '--tick-ms', snapshotInterval: '--snapshot-interval', cpu: '--cpu', timelineBucketMs: '--timeline-bucket-ms',
  baseline: '--baseline', protocolOptions: '--option', messageComplexity: '--no-message-complexity',
  linearizabilityCost: '--linearizability-cost',
}

/** What the validator needs to know about the registry (kept abstract so validation is testable alone). */
export interface RegistryView {
  readonly names: readonly string[]
  /** Byzantine strategies of a protocol, or undefined when it has no adversary. */
  strategies(name: string): readonly string[] | undefined
}

/** Every problem found, one line each ("field: what is wrong"); `field` is the first bad one. */
export class SweepConfigError extends ConfigError {
  readonly problems: readonly string[]
  constructor(problems: readonly string[]) {
    const first = problems[0] ?? 'config: invalid'
    super(first.slice(0, Math.max(0, first.indexOf(':'))) || 'config', problems.length === 1
      ? first.slice(first.indexOf(':') + 2)
      : `${problems.length} problems:\n  ${problems.join('\n  ')}`)
    this.problems = problems
  }
}

type Source = 'flag' | 'file'

/**
 * Check a raw sweep (parsed JSON, or flags already split into lists) field by field, filling defaults for what is
 * absent. Unknown fields are errors: a typo would otherwise be silently ignored.
 */
export function validateSweepConfig(raw: unknown, registry: RegistryView, source: Source = 'file',
  base: SweepConfig = DEFAULT_SWEEP): SweepConfig {
  const problems: string[] = []
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SweepConfigError(['config: expected a JSON object with sweep fields'])
  }
  const r = raw as Record<string, unknown>
  const name = (field: keyof SweepConfig, index?: number) =>
    (source === 'flag' ? FLAG_OF[field] : field) + (index === undefined ? '' : `[${index}]`)
  const bad = (field: keyof SweepConfig, msg: string, index?: number) => { problems.push(`${name(field, index)}: ${msg}`) }
  for (const key of Object.keys(r)) {
    if (!Object.hasOwn(base, key)) problems.push(`${key}: unknown field (known: ${Object.keys(base).join(', ')})`)
  }

  const list = <T>(field: keyof SweepConfig, check: (v: unknown, i: number) => T | undefined): T[] | undefined => {
    const v = r[field]
    if (v === undefined) return undefined
    const items = Array.isArray(v) ? v : [v]
    if (items.length === 0) { bad(field, 'needs at least one value'); return undefined }
    const out: T[] = []
    items.forEach((item, i) => {
      const c = check(item, i)
      if (c !== undefined) out.push(c)
    })
    const seen = new Set(out.map(x => JSON.stringify(x)))
    if (seen.size !== out.length) bad(field, 'lists a value twice')
    return out.length === items.length ? out : undefined
  }
  const int = (field: keyof SweepConfig, min: number, max = Number.MAX_SAFE_INTEGER) => (v: unknown, i?: number) => {
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v
    bad(field, `expected an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'}, got ${JSON.stringify(v)}`, i)
    return undefined
  }
  const num = (field: keyof SweepConfig, min: number, max: number, exclusiveMin = false) => (v: unknown, i?: number) => {
    if (typeof v === 'number' && Number.isFinite(v) && (exclusiveMin ? v > min : v >= min) && v <= max) return v
    bad(field, `expected a number ${exclusiveMin ? '>' : '>='} ${min}${max < Infinity ? ` and <= ${max}` : ''}, got ${JSON.stringify(v)}`, i)
    return undefined
  }
  const oneOf = <T extends string>(field: keyof SweepConfig, allowed: readonly T[]) => (v: unknown, i?: number) => {
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T
    bad(field, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`, i)
    return undefined
  }
  const scalar = <T>(field: keyof SweepConfig, check: (v: unknown) => T | undefined): T | undefined =>
    r[field] === undefined ? undefined : check(r[field])

  const protocols = list('protocols', (v, i) => {
    if (typeof v === 'string' && registry.names.includes(v)) return v
    bad('protocols', `unknown protocol ${JSON.stringify(v)} (registered: ${registry.names.join(', ')})`, i)
    return undefined
  })
  let n: number[] | 'auto' | undefined
  if (r.n === 'auto' || (Array.isArray(r.n) && r.n.length === 1 && r.n[0] === 'auto')) n = 'auto'
  else n = list('n', int('n', 1, 1000))
  const f = list('f', int('f', 0, 333))
  const strategiesOf = (names: readonly string[]) => names.flatMap(p => registry.strategies(p) ?? [])
  const faults = list('faults', (v, i) => {
    if (v === 'none' || v === 'crash-leader' || v === 'transfer-leader' || v === 'byzantine') return v
    if (typeof v === 'string' && v.startsWith('byzantine:')) {
      const { strategy: s, placement } = parseByzantineKind(v)
      if (placement === 'invalid') {
        bad('faults', `"${v}": a placement is @primary or @backup`, i)
        return undefined
      }
      const known = strategiesOf(registry.names)
      if (known.includes(s)) return v
      bad('faults', `unknown Byzantine strategy "${s}" (${known.length === 0 ? 'no registered protocol has an adversary' : `known: ${known.join(', ')}`})`, i)
      return undefined
    }
    bad('faults', `expected none, crash-leader, transfer-leader, byzantine or byzantine:<strategy>, got ${JSON.stringify(v)}`, i)
    return undefined
  })
  const networks = list('networks', oneOf('networks', NETWORK_NAMES))
  const readRatio = list('readRatio', num('readRatio', 0, 1))
  const valueSize = list('valueSize', int('valueSize', 0, 1 << 20))
  const keyDistribution = list('keyDistribution', (v: unknown, i?: number) => {
    if (isKeyDistribution(v)) return v
    bad('keyDistribution', `expected uniform, zipfian or hot:<share of commands on the hot key, 0..1>, got ${JSON.stringify(v)}`, i)
    return undefined
  })
  const keys = scalar('keys', int('keys', 1, 10_000_000))
  const clients = list('clients', int('clients', 1, 100_000))
  const batch = list('batch', (v, i) => v === 'default' ? 'default' as const : int('batch', 1, 1_000_000)(v, i))
  const signers = list('signers', oneOf('signers', ['sim', 'node', 'tweetnacl'] as const))
  const mode = scalar('mode', oneOf('mode', ['closed', 'open'] as const))
  const rates = list('rates', num('rates', 0, 100_000_000, true))
  const warmupMs = scalar('warmupMs', num('warmupMs', 0, 3_600_000))
  const durationMs = scalar('durationMs', num('durationMs', 0, 3_600_000, true))
  const maxOps = scalar('maxOps', int('maxOps', 1))
  const seed = scalar('seed', int('seed', 0, 2 ** 32 - 1))
  const tickMs = scalar('tickMs', num('tickMs', 0, 10_000, true))
  const snapshotInterval = scalar('snapshotInterval', v => v === 'auto' ? 'auto' as const : int('snapshotInterval', 1, 1 << 20)(v))
  const cpu = scalar('cpu', v => {
    if (typeof v === 'string' && v === 'none') return v
    try {
      if (typeof v !== 'string') throw new Error(`expected a string, got ${JSON.stringify(v)}`)
      parseCpuModel(v, name('cpu'))
      return v
    } catch (e) {
      bad('cpu', (e instanceof ConfigError ? e.message.slice(e.field.length + 2) : (e as Error).message) + " (or 'none')")
      return undefined
    }
  })
  const timelineBucketMs = scalar('timelineBucketMs', num('timelineBucketMs', 0, 3_600_000, true))
  let baseline: string | null | undefined
  if (r.baseline !== undefined) {
    if (r.baseline === null || r.baseline === false || r.baseline === 'none') baseline = null
    else if (typeof r.baseline === 'string' && registry.names.includes(r.baseline)) baseline = r.baseline
    else bad('baseline', `expected a registered protocol (${registry.names.join(', ')}) or null, got ${JSON.stringify(r.baseline)}`)
  }
  let protocolOptions: Record<string, Record<string, unknown>> | undefined
  if (r.protocolOptions !== undefined) {
    const po = r.protocolOptions
    if (typeof po !== 'object' || po === null || Array.isArray(po)) bad('protocolOptions', 'expected an object: protocol name -> options object')
    else {
      protocolOptions = {}
      for (const [p, o] of Object.entries(po)) {
        if (!registry.names.includes(p)) bad('protocolOptions', `unknown protocol "${p}"`)
        else if (typeof o !== 'object' || o === null || Array.isArray(o)) bad('protocolOptions', `options of ${p} must be an object`)
        else protocolOptions[p] = o as Record<string, unknown>
      }
    }
  }
  const messageComplexity = scalar('messageComplexity', v => {
    if (typeof v === 'boolean') return v
    bad('messageComplexity', `expected true or false, got ${JSON.stringify(v)}`)
    return undefined
  })
  const linearizabilityCost = scalar('linearizabilityCost', v => {
    if (typeof v === 'boolean') return v
    bad('linearizabilityCost', `expected true or false, got ${JSON.stringify(v)}`)
    return undefined
  })

  if (faults !== undefined) {
    faults.forEach((kind, i) => {
      if (!kind.startsWith('byzantine:')) return
      const s = parseByzantineKind(kind).strategy
      const chosen = protocols ?? base.protocols
      if (chosen.length > 0 && !strategiesOf(chosen).includes(s)) {
        bad('faults', `strategy "${s}" belongs to no protocol in this sweep`, i)
      }
    })
  }
  if (problems.length > 0) throw new SweepConfigError(problems)
  return {
    protocols: protocols ?? base.protocols,
    n: n ?? base.n,
    f: f ?? base.f,
    faults: faults ?? base.faults,
    networks: networks ?? base.networks,
    readRatio: readRatio ?? base.readRatio,
    valueSize: valueSize ?? base.valueSize,
    keyDistribution: keyDistribution ?? base.keyDistribution,
    keys: keys ?? base.keys,
    clients: clients ?? base.clients,
    batch: batch ?? base.batch,
    signers: signers ?? base.signers,
    mode: mode ?? base.mode,
    rates: rates ?? base.rates,
    warmupMs: warmupMs ?? base.warmupMs,
    durationMs: durationMs ?? base.durationMs,
    maxOps: maxOps ?? base.maxOps,
    seed: seed ?? base.seed,
    tickMs: tickMs ?? base.tickMs,
    snapshotInterval: snapshotInterval ?? base.snapshotInterval,
    cpu: cpu ?? base.cpu,
    timelineBucketMs: timelineBucketMs ?? base.timelineBucketMs,
    baseline: baseline !== undefined ? baseline : base.baseline,
    protocolOptions: protocolOptions ?? base.protocolOptions,
    messageComplexity: messageComplexity ?? base.messageComplexity,
    linearizabilityCost: linearizabilityCost ?? base.linearizabilityCost,
  }
}

/** Defaults with a preset applied. */
export function presetBase(preset: string | undefined): SweepConfig {
  if (preset === undefined) return DEFAULT_SWEEP
  const p = PRESETS[preset]
  if (p === undefined) throw new ConfigError('--preset', `unknown preset "${preset}" (known: ${Object.keys(PRESETS).join(', ')})`)
  return { ...DEFAULT_SWEEP, ...p }
}
