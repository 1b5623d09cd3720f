/**
 * Small validators for protocol and host options: each bad value is reported by field name with what was expected.
 */
import { ConfigError } from './errors.ts'

type Raw = Readonly<Record<string, unknown>>

export function intOption(raw: Raw, field: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = raw[field] ?? fallback
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(field, `expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`)
  }
  return v
}

export function boolOption(raw: Raw, field: string, fallback: boolean): boolean {
  const v = raw[field] ?? fallback
  if (typeof v !== 'boolean') throw new ConfigError(field, `expected true or false, got ${JSON.stringify(v)}`)
  return v
}

export function enumOption<T extends string>(raw: Raw, field: string, fallback: T, allowed: readonly T[]): T {
  const v = raw[field] ?? fallback
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new ConfigError(field, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`)
  }
  return v as T
}

/** Reject option names a protocol does not know (typos would otherwise be silently ignored). */
export function rejectUnknownOptions(raw: Raw, known: readonly string[], protocol: string): void {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) throw new ConfigError(key, `unknown option for ${protocol} (known: ${known.join(', ')})`)
  }
}
