/**
 * Expand a sweep into concrete runs: the product of every dimension, with each combination checked against the
 * protocol's fault model (descriptor.checkClusterSize / faultsTolerated / replicasFor / adversary). Impossible
 * combinations are skipped and listed with the reason; a network that does not exist yet is listed as unavailable.
 */
import { ConfigError } from '../core/errors.ts'
import type { AnyProtocol } from '../core/protocol.ts'
import type { SignerName } from '../core/signer.ts'
import { parseByzantineKind, type FaultKind, type KeyDistribution, type LoadMode, type NetworkName, type SweepConfig } from './config.ts'
import { isLiveNetwork, liveRunSupport, networkAvailability } from './networks.ts'

export interface RunSpec {
  /** Stable identity of the run across result files (`bench compare` matches runs on it). */
  readonly id: string
  readonly protocol: string
  readonly baseline: boolean
  readonly n: number
  readonly f: number
  /** 'none', 'crash-leader', 'transfer-leader' or 'byzantine:<strategy>'. */
  readonly fault: FaultKind
  readonly network: NetworkName
  readonly readRatio: number
  readonly valueSize: number
  readonly keyDistribution: KeyDistribution
  readonly keys: number
  readonly clients: number
  readonly batch: number | 'default'
  readonly signer: SignerName
  readonly mode: LoadMode
  /** Target operations per second in open loop; null in closed loop. */
  readonly rate: number | null
  readonly warmupMs: number
  readonly durationMs: number
  readonly maxOps: number
  readonly seed: number
  readonly tickMs: number
  readonly snapshotInterval: number | 'auto'
  readonly cpu: string
  readonly timelineBucketMs: number
  /** Raw options handed to the protocol (already checked by its parseOptions). */
  readonly protocolOptions: Readonly<Record<string, unknown>>
}

export interface SkippedRun {
  readonly what: string
  readonly reason: string
}

export interface SweepPlan {
  readonly runs: RunSpec[]
  readonly skipped: SkippedRun[]
  /** (protocol, n) pairs to measure messages per command at batch size 1. */
  readonly complexity: { protocol: string; n: number }[]
}

export type Registry = ReadonlyMap<string, AnyProtocol>

export function runId(s: Omit<RunSpec, 'id'>): string {
  return [s.protocol, `n${s.n}`, `f${s.f}`, s.fault, s.network, `read${s.readRatio}`, `value${s.valueSize}`,
    s.keyDistribution, `c${s.clients}`, `batch-${s.batch}`, s.signer, s.mode === 'open' ? `open${s.rate}` : 'closed'].join('/')
}

/** Largest cluster `auto` picks: beyond it PBFT's n^2 messages and signatures make a default sweep too slow. */
export const AUTO_MAX_N = 7

/** Per protocol, the smallest clusters tolerating 1, 2 and 3 faults, up to AUTO_MAX_N replicas. */
export function autoSizes(p: AnyProtocol): number[] {
  const out: number[] = []
  for (const f of [1, 2, 3]) {
    try {
      const n = p.replicasFor(f)
      if (n <= AUTO_MAX_N && p.checkClusterSize(n) === null && !out.includes(n)) out.push(n)
    } catch {
      // A protocol that tolerates no faults (the baseline) has no sizes for f >= 1.
    }
  }
  return out
}

/** The protocols a sweep compares: those named, or every registered one but the baseline. */
export function sweepProtocols(config: SweepConfig, registry: Registry): string[] {
  return config.protocols.length > 0 ? [...config.protocols] : [...registry.keys()].filter(p => p !== config.baseline)
}

function faultKindsFor(p: AnyProtocol, kind: FaultKind): { kinds: string[]; reason: string | null } {
  if (kind === 'none' || kind === 'crash-leader') return { kinds: [kind], reason: null }
  if (kind === 'transfer-leader') {
    return p.adminCommands?.includes('transfer-leadership') === true ? { kinds: [kind], reason: null }
      : { kinds: [], reason: `${p.name} has no leader transfer (not among its admin commands)` }
  }
  const strategies = p.adversary?.strategies
  if (strategies === undefined || strategies.length === 0) {
    return { kinds: [], reason: `${p.name} tolerates crashes only (fault model "${p.faultModel}", no Byzantine strategies)` }
  }
  // A strategy that matters only at the primary runs there, with the backup placement beside it for comparison.
  const placements = (s: string) => p.adversary?.primaryOnly?.includes(s) === true
    ? [`byzantine:${s}@primary`, `byzantine:${s}@backup`] : [`byzantine:${s}`]
  if (kind === 'byzantine') return { kinds: strategies.flatMap(placements), reason: null }
  const { strategy: s, placement } = parseByzantineKind(kind)
  if (!strategies.includes(s)) return { kinds: [], reason: `${p.name} has no Byzantine strategy "${s}"` }
  return { kinds: placement === 'default' ? placements(s) : [kind], reason: null }
}

/** Check protocol options once per protocol and batch value; null when fine, else why the combination is skipped. */
function batchOptions(p: AnyProtocol, n: number, base: Readonly<Record<string, unknown>>, batch: number | 'default'):
  { options: Readonly<Record<string, unknown>> } | { skip: string } {
  const options = batch === 'default' ? base : { ...base, maxBatchCount: batch }
  try {
    p.parseOptions(options, n)
  } catch (e) {
    if (e instanceof ConfigError && batch !== 'default' && e.field === 'maxBatchCount') {
      return { skip: `${p.name} does not take a batch limit (maxBatchCount): ${e.message}` }
    }
    if (e instanceof ConfigError) throw new ConfigError(`protocolOptions.${p.name}.${e.field}`, e.message.slice(e.field.length + 2))
    throw e
  }
  return { options }
}

export function planSweep(config: SweepConfig, registry: Registry): SweepPlan {
  const runs: RunSpec[] = []
  const skipped: SkippedRun[] = []
  const complexity: { protocol: string; n: number }[] = []
  const names = sweepProtocols(config, registry)
  const rates: (number | null)[] = config.mode === 'open' ? [...config.rates] : [null]
  const workload = () => {
    const out: { readRatio: number; valueSize: number; keyDistribution: KeyDistribution; clients: number; rate: number | null }[] = []
    for (const readRatio of config.readRatio) for (const valueSize of config.valueSize)
      for (const keyDistribution of config.keyDistribution) for (const clients of config.clients)
        for (const rate of rates) out.push({ readRatio, valueSize, keyDistribution, clients, rate })
    return out
  }
  const usableNetworks = config.networks.filter(net => {
    const why = networkAvailability(net)
    if (why !== null) skipped.push({ what: `network ${net}`, reason: why })
    return why === null
  })
  const common = (s: Omit<RunSpec, 'id' | 'warmupMs' | 'durationMs' | 'maxOps' | 'seed' | 'tickMs' | 'snapshotInterval' | 'cpu' | 'timelineBucketMs' | 'keys' | 'mode'>): RunSpec => {
    const spec = {
      ...s, keys: config.keys, mode: config.mode, warmupMs: config.warmupMs, durationMs: config.durationMs,
      maxOps: config.maxOps, seed: config.seed, tickMs: config.tickMs, snapshotInterval: config.snapshotInterval, cpu: config.cpu, timelineBucketMs: config.timelineBucketMs,
    }
    return { id: runId(spec), ...spec }
  }

  if (config.baseline !== null && usableNetworks.length > 0) {
    const p = registry.get(config.baseline)
    if (p === undefined) throw new ConfigError('baseline', `protocol "${config.baseline}" is not registered`)
    const n = p.replicasFor(0)
    const base = config.protocolOptions[p.name] ?? {}
    batchOptions(p, n, base, 'default')
    for (const network of usableNetworks) for (const w of workload()) {
      const unsupported = liveRunSupport(network, 'none', config.mode)
      if (unsupported !== null) { skipped.push({ what: `${p.name} ${network}`, reason: unsupported }); continue }
      runs.push(common({ protocol: p.name, baseline: true, n, f: 0, fault: 'none', network, ...w, batch: 'default',
        signer: signersOn(network, config.signers)[0]!, protocolOptions: base }))
    }
  }

  for (const name of names) {
    if (name === config.baseline) continue
    const p = registry.get(name)
    if (p === undefined) throw new ConfigError('protocols', `protocol "${name}" is not registered`)
    const sizes = config.n === 'auto' ? autoSizes(p) : config.n
    if (sizes.length === 0) skipped.push({ what: `${name} n=auto`, reason: `${name} has no cluster size tolerating a fault` })
    const base = config.protocolOptions[name] ?? {}
    for (const n of sizes) {
      const sizeError = p.checkClusterSize(n)
      if (sizeError !== null) { skipped.push({ what: `${name} n=${n}`, reason: sizeError }); continue }
      if (config.messageComplexity) complexity.push({ protocol: name, n })
      const tolerated = p.faultsTolerated(n)
      for (const f of config.f) {
        for (const kind of config.faults) {
          // f = 0 means no fault; a fault kind needs at least one faulty replica. Those pairs are not combinations.
          if ((kind === 'none') !== (f === 0)) continue
          // A transfer involves no faulty replica: it runs once, beside the f = 1 crash it is compared with.
          if (kind === 'transfer-leader' && f !== 1) continue
          const what = `${name} n=${n} f=${f} ${kind}`
          const { kinds, reason } = faultKindsFor(p, kind)
          // A fault kind the protocol cannot have is one skip, whatever n and f.
          if (reason !== null) { skipped.push({ what: `${name} ${kind}`, reason }); continue }
          if (f > tolerated) {
            let needed = ''
            try { needed = ` (f=${f} needs n=${p.replicasFor(f)})` } catch { /* no size tolerates f */ }
            skipped.push({ what, reason: `${name} with n=${n} tolerates ${tolerated} fault${tolerated === 1 ? '' : 's'}${needed}` })
            continue
          }
          for (const fault of kinds) for (const network of usableNetworks) for (const batch of config.batch) {
            const unsupported = liveRunSupport(network, fault, config.mode)
            if (unsupported !== null) { skipped.push({ what: `${name} ${fault} ${network}`, reason: unsupported }); continue }
            const checked = batchOptions(p, n, base, batch)
            if ('skip' in checked) { skipped.push({ what: `${what} batch=${batch}`, reason: checked.skip }); continue }
            for (const signer of signersOn(network, config.signers)) for (const w of workload()) {
              runs.push(common({ protocol: name, baseline: false, n, f, fault, network, ...w, batch, signer,
                protocolOptions: checked.options }))
            }
          }
        }
      }
    }
  }
  dedupeSkips(skipped)
  return { runs, skipped, complexity }
}

/**
 * The signers a network runs: the simulator takes every one; a live network signs with real Ed25519, so the modelled
 * signer (whose secrets cannot leave the process) stands for node:crypto there, and the spec records what ran.
 */
function signersOn(network: NetworkName, signers: readonly SignerName[]): SignerName[] {
  if (!isLiveNetwork(network)) return [...signers]
  return [...new Set(signers.map(s => s === 'sim' ? 'node' as const : s))]
}

function dedupeSkips(skipped: SkippedRun[]): void {
  const seen = new Set<string>()
  const kept = skipped.filter(s => {
    const key = s.what + '|' + s.reason
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  skipped.splice(0, skipped.length, ...kept)
}

/**
 * A sweep whose every requested combination is impossible is an error (the user named something that cannot run);
 * otherwise impossible combinations are skipped and listed.
 */
export function checkPlan(plan: SweepPlan): void {
  if (plan.runs.some(r => !r.baseline)) return
  if (plan.skipped.length === 0) return
  throw new ConfigError('sweep', `nothing to run:\n  ${plan.skipped.map(s => `${s.what}: ${s.reason}`).join('\n  ')}`)
}
