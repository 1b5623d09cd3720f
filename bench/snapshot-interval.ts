/** The host snapshot interval of a benchmark run: the sweep's, or with 'auto' what the protocol needs, else 1000. */
import type { AnyProtocol } from '../core/protocol.ts'

/**
 * A snapshot serialises the whole state machine, so its cost grows with the key space: with 1000 keys, snapshotting
 * every 64 entries made serialising snapshots most of the simulator's CPU time. 1000 is still frequent enough that
 * every run exercises compaction.
 */
export const DEFAULT_SNAPSHOT_INTERVAL = 1000

export function snapshotIntervalFor(protocol: AnyProtocol, configured: number | 'auto',
  rawOptions: Readonly<Record<string, unknown>>, n: number): number {
  if (configured !== 'auto') return configured
  return protocol.requiredSnapshotInterval?.(protocol.parseOptions(rawOptions, n)) ?? DEFAULT_SNAPSHOT_INTERVAL
}
