/** The host snapshot interval of a benchmark run: the sweep's, or with 'auto' what the protocol needs, else 64. */
import type { AnyProtocol } from '../core/protocol.ts'

export function snapshotIntervalFor(protocol: AnyProtocol, configured: number | 'auto',
  rawOptions: Readonly<Record<string, unknown>>, n: number): number {
  if (configured !== 'auto') return configured
  return protocol.requiredSnapshotInterval?.(protocol.parseOptions(rawOptions, n)) ?? 64
}
