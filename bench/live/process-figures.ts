/**
 * Per-process figures of a live measurement: for each replica (and each load generator) the CPU time it spent in the
 * measured window, its resident memory at the window's end and, for replicas, the replica-to-replica messages it sent
 * per completed operation. Multi-process runs have every figure; in-process runs share one process, so replicas get
 * only their messages and one 'whole-process' row carries the CPU and memory of everything together.
 */
import type { TypeCount } from '../../core/message-stats.ts'
import { round3 } from '../latency.ts'
import { cpuMsBetween, type ProcessReading } from './proc-stat.ts'

export interface ProcessFigures {
  /** 'whole-process': the in-process form's single process (replicas and clients together). */
  readonly role: 'replica' | 'load-generator' | 'whole-process'
  /** Replica id, or load generator index (0 for the whole process). */
  readonly id: number
  readonly pid: number
  /** User + system CPU ms in the measured window (from /proc/<pid>/stat); null when not separable or not on Linux. */
  readonly cpuMs: number | null
  /** cpuMs over the window's wall time, in percent of one core. */
  readonly cpuPercent: number | null
  readonly cpuUsPerOp: number | null
  /** Resident set size at the window's end (VmRSS). */
  readonly rssBytes: number | null
  /** Replica-to-replica messages this replica sent in the window per completed operation (replicas only). */
  readonly messagesPerOp: number | null
}

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
