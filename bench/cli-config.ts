/**
 * From command-line flags and an optional JSON file to a validated SweepConfig. Flags win over the file, the file over
 * the preset, the preset over the defaults; every bad value is named by the flag or field the user wrote.
 */
import { readFileSync } from 'node:fs'
import { ConfigError } from '../core/errors.ts'
import { presetBase, validateSweepConfig, type RegistryView, type SweepConfig } from './config.ts'
import type { Registry } from './matrix.ts'

export function registryView(registry: Registry): RegistryView {
  return { names: [...registry.keys()], strategies: name => registry.get(name)?.adversary?.strategies }
}

/** "3,5,7" -> [3, 5, 7]; non-numeric items stay strings (validation names them). */
export function splitList(text: string): (string | number)[] {
  return text.split(',').map(s => s.trim()).filter(s => s !== '').map(s => (/^-?\d+(\.\d+)?$/.test(s) ? Number(s) : s))
}

/** Flag values as commander gives them (strings), keyed by SweepConfig field. */
export interface SweepFlags {
  protocols?: string
  n?: string
  f?: string
  faults?: string
  network?: string
  readRatio?: string
  valueSize?: string
  keyDist?: string
  keys?: string
  clients?: string
  batch?: string
  signer?: string
  mode?: string
  rate?: string
  warmupMs?: string
  durationMs?: string
  maxOps?: string
  seed?: string
  tickMs?: string
  snapshotInterval?: string
  cpu?: string
  timelineBucketMs?: string
  baseline?: string
  option?: string[]
  messageComplexity?: boolean
  linearizabilityCost?: boolean
}

const LIST_FLAGS: Record<string, keyof SweepConfig> = {
  protocols: 'protocols', n: 'n', f: 'f', faults: 'faults', network: 'networks', readRatio: 'readRatio',
  valueSize: 'valueSize', keyDist: 'keyDistribution', clients: 'clients', batch: 'batch', signer: 'signers', rate: 'rates',
}
const SCALAR_FLAGS: Record<string, keyof SweepConfig> = {
  keys: 'keys', mode: 'mode', warmupMs: 'warmupMs', durationMs: 'durationMs', maxOps: 'maxOps', seed: 'seed',
  tickMs: 'tickMs', snapshotInterval: 'snapshotInterval', cpu: 'cpu', timelineBucketMs: 'timelineBucketMs', baseline: 'baseline',
}

export function flagsToRaw(flags: SweepFlags): Record<string, unknown> {
  const raw: Record<string, unknown> = {}
  const f = flags as Record<string, unknown>
  for (const [flag, field] of Object.entries(LIST_FLAGS)) {
    const v = f[flag]
    if (typeof v === 'string') raw[field] = v.trim() === 'auto' ? 'auto' : splitList(v)
  }
  for (const [flag, field] of Object.entries(SCALAR_FLAGS)) {
    const v = f[flag]
    if (typeof v === 'string') raw[field] = /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v
  }
  if (flags.messageComplexity === false) raw.messageComplexity = false
  if (flags.linearizabilityCost === true) raw.linearizabilityCost = true
  if (flags.option !== undefined && flags.option.length > 0) {
    const po: Record<string, Record<string, unknown>> = {}
    for (const text of flags.option) {
      const m = /^([^.=]+)\.([^=]+)=(.*)$/.exec(text)
      if (m === null) throw new ConfigError('--option', `expected protocol.key=value (e.g. raft.maxInflight=8), got "${text}"`)
      const [, protocol, key, value] = m as unknown as [string, string, string, string]
      const parsed: unknown = value === 'true' ? true : value === 'false' ? false
        : value !== '' && Number.isFinite(Number(value)) ? Number(value) : value
      po[protocol] = { ...(po[protocol] ?? {}), [key]: parsed }
    }
    raw.protocolOptions = po
  }
  return raw
}

export function buildSweepConfig(o: { flags: SweepFlags; configFile?: string; preset?: string; registry: Registry }): SweepConfig {
  const view = registryView(o.registry)
  let base = presetBase(o.preset)
  if (o.configFile !== undefined) {
    let parsed: unknown
    try {
      parsed = JSON.parse(readFileSync(o.configFile, 'utf8'))
    } catch (e) {
      throw new ConfigError('--config', `cannot read ${o.configFile}: ${(e as Error).message}`)
    }
    base = validateSweepConfig(parsed, view, 'file', base)
  }
  return validateSweepConfig(flagsToRaw(o.flags), view, 'flag', base)
}
