/**
 * HotStuff options, validated by field. Times are in protocol ticks.
 */
import { ConfigError } from '../../core/errors.ts'
import { intOption, rejectUnknownOptions } from '../../core/options.ts'
import type { ReplicaContext } from '../../core/protocol.ts'

export interface HotStuffOptions {
  /** Commands per block at most. */
  readonly maxBatchCount: number
  /** Encoded bytes of commands per block at most (a single larger command still goes alone). */
  readonly maxBatchBytes: number
  /**
   * Pacemaker: a replica with work pending (a command not yet committed, or an uncommitted block with commands) that
   * sees no new QC for this long leaves the view (NEW-VIEW). Doubled per consecutive timeout, up to the cap.
   */
  readonly viewTimeoutTicks: number
  /** The longest view timeout the doubling reaches, so a healed cluster resynchronises in bounded time. */
  readonly maxViewTimeoutTicks: number
  /** Period of retries for block fetches and snapshot requests (the network may lose messages). */
  readonly retransmitTicks: number
  /** Client: ticks before a request is broadcast again to every replica. */
  readonly clientRetryTicks: number
}

export const DEFAULT_HOTSTUFF_OPTIONS: HotStuffOptions = {
  maxBatchCount: 64,
  maxBatchBytes: 64 * 1024,
  viewTimeoutTicks: 10,
  maxViewTimeoutTicks: 100,
  retransmitTicks: 10,
  clientRetryTicks: 40,
}

const KNOWN = Object.keys(DEFAULT_HOTSTUFF_OPTIONS)

export function parseHotStuffOptions(raw: Readonly<Record<string, unknown>>, _n: number): HotStuffOptions {
  rejectUnknownOptions(raw, KNOWN, 'hotstuff')
  const d = DEFAULT_HOTSTUFF_OPTIONS
  const viewTimeoutTicks = intOption(raw, 'viewTimeoutTicks', d.viewTimeoutTicks, 2, 1 << 20)
  const maxViewTimeoutTicks = intOption(raw, 'maxViewTimeoutTicks', Math.max(d.maxViewTimeoutTicks, viewTimeoutTicks), 2, 1 << 24)
  if (maxViewTimeoutTicks < viewTimeoutTicks) {
    throw new ConfigError('maxViewTimeoutTicks', `must be at least viewTimeoutTicks (${viewTimeoutTicks}), got ${maxViewTimeoutTicks}`)
  }
  return {
    maxBatchCount: intOption(raw, 'maxBatchCount', d.maxBatchCount, 1, 1 << 16),
    maxBatchBytes: intOption(raw, 'maxBatchBytes', d.maxBatchBytes, 64, 64 << 20),
    viewTimeoutTicks,
    maxViewTimeoutTicks,
    retransmitTicks: intOption(raw, 'retransmitTicks', d.retransmitTicks, 1, 1 << 20),
    clientRetryTicks: intOption(raw, 'clientRetryTicks', d.clientRetryTicks, 1, 1 << 20),
  }
}

/** What a HotStuff replica (honest or Byzantine) is created from. */
export type HotStuffContext = ReplicaContext<HotStuffOptions>
