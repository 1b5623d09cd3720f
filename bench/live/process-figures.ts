/**
 * Per-process figures of a live measurement (bench/figures.ts LiveProcessFigures says what each means), derived from
 * /proc readings and message counters taken at the edges of the measured window.
 */
import type { TypeCount } from '../../core/message-stats.ts'
import type { LiveProcessFigures } from '../figures.ts'
import { round3 } from '../latency.ts'
import { cpuMsBetween, type ProcessReading } from './proc-stat.ts'

/** The results' type (bench/figures.ts), named for this folder. */
export type ProcessFigures = LiveProcessFigures

/** Messages in `after` beyond `before`, every type together. */
export function messagesBetween(before: ReadonlyMap<string, TypeCount>, after: ReadonlyMap<string, TypeCount>): number {
  let total = 0
  for (const [type, c] of after) total += c.messages - (before.get(type)?.messages ?? 0)
  return total
}

/** CPU and memory figures of one process from its readings at the window's edges (null readings: not measured). */
export function cpuFigures(before: ProcessReading | null, after: ProcessReading | null, windowMs: number, ops: number):
  Pick<ProcessFigures, 'cpuMs' | 'cpuPercent' | 'cpuUsPerOp' | 'rssBytes'> {
  if (before === null || after === null) return { cpuMs: null, cpuPercent: null, cpuUsPerOp: null, rssBytes: after?.rssBytes ?? null }
  const cpuMs = cpuMsBetween(before, after)
  return {
    cpuMs: Math.round(cpuMs),
    cpuPercent: windowMs > 0 ? Math.round(cpuMs / windowMs * 1000) / 10 : null,
    cpuUsPerOp: ops > 0 ? Math.round(cpuMs * 1000 / ops) : null,
    rssBytes: after.rssBytes,
  }
}

export function perOpOf(messages: number, ops: number): number | null {
  return ops > 0 ? round3(messages / ops) : null
}

/** Signature time over CPU time in the window (null when either is unknown or no CPU was used). */
export function signatureShareOf(signatureMs: number | null, cpuMs: number | null): number | null {
  if (signatureMs === null || cpuMs === null || cpuMs <= 0) return null
  return round3(Math.min(1, signatureMs / cpuMs))
}
