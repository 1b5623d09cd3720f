/**
 * Versions of stored values: last-writer-wins timestamps, as Cassandra uses (not Dynamo's vector clocks, §4.4). A
 * version is (hybrid logical clock timestamp, coordinator id); the id breaks ties so two coordinators never issue the
 * same version. What this loses: of two concurrent writes one silently wins (no siblings are kept for the client to
 * merge), and a coordinator whose clock runs behind can order a later write before an earlier one.
 */
import type { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import type { NodeId } from '../../core/types.ts'

export interface Version {
  readonly ts: number
  readonly node: NodeId
}

/** Negative, zero or positive as `a` is older than, equal to or newer than `b`; null (no version) is oldest. */
export function compareVersions(a: Version | null, b: Version | null): number {
  if (a === null) return b === null ? 0 : -1
  if (b === null) return 1
  return a.ts !== b.ts ? a.ts - b.ts : a.node - b.node
}

export function newerThan(a: Version | null, b: Version | null): boolean {
  return compareVersions(a, b) > 0
}

export function writeVersion(w: BinaryWriter, v: Version | null): void {
  w.bool(v !== null)
  if (v !== null) w.uvarint(v.ts).uvarint(v.node)
}

export function readVersion(r: BinaryReader): Version | null {
  if (!r.bool()) return null
  const ts = r.uvarint()
  return { ts, node: r.uvarint() }
}

/**
 * Logical values per tick: a timestamp is ticks * LOGICAL_PER_TICK + a logical counter, so the packed number orders
 * first by the physical part and then by the counter (Kulkarni et al., "Logical Physical Clocks", 2014: l and c in
 * one integer). 2^16 events per tick before the physical part is overtaken; far more than a replica handles.
 */
export const LOGICAL_PER_TICK = 2 ** 16

/**
 * A hybrid logical clock: its reading never goes backwards, never falls behind the physical clock (this replica's tick
 * count, the only clock a pure replica has), and is above every timestamp it has seen, so a coordinator's write is
 * newer than any version it has read, even from a coordinator whose clock runs ahead.
 */
export class HybridLogicalClock {
  private last = 0

  /** Timestamps seen in messages or storage: the next reading will be above them. */
  observe(ts: number): void {
    if (ts > this.last) this.last = ts
  }

  /** A fresh timestamp at physical time `ticks`. */
  next(ticks: number): number {
    this.last = Math.max(this.last + 1, ticks * LOGICAL_PER_TICK)
    return this.last
  }
}
