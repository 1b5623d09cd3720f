/**
 * PBFT options, validated by field. Times are in protocol ticks.
 */
import { ConfigError } from '../../core/errors.ts'
import { intOption, rejectUnknownOptions } from '../../core/options.ts'
import type { ReplicaContext } from '../../core/protocol.ts'

export interface PbftOptions {
  /**
   * K: a CHECKPOINT is taken every K executed sequence numbers. Set the host's `snapshotInterval` to it: a checkpoint
   * digests the snapshot the host takes (replicas checkpoint on every host snapshot, so a host interval other than K
   * still works as long as it fits the watermark window; one larger than L is reported as a ConfigError).
   * The default matches the simulator's default snapshot interval.
   */
  readonly checkpointInterval: number
  /** L: sequence numbers accepted above the low watermark (the last stable checkpoint). At least 2K so the primary can
   * keep ordering while the next checkpoint becomes stable. */
  readonly watermarkWindow: number
  /** Requests per PRE-PREPARE at most. */
  readonly maxBatchCount: number
  /** Encoded bytes of requests per PRE-PREPARE at most (a single larger request still goes alone). */
  readonly maxBatchBytes: number
  /** Batches the primary keeps in flight (pre-prepared, not yet executed) before it waits: the pipeline depth. */
  readonly maxInflightBatches: number
  /** A backup waiting this long for a request it knows of to execute starts a view change (doubled for each
   * successive view change without progress). */
  readonly requestTimeoutTicks: number
  /** A replica in a view change waits this long for the NEW-VIEW before moving to the next view (also doubled). */
  readonly viewChangeTicks: number
  /** Request and view-change timeouts double per successive view change without progress at most this many times
   * (the longest wait is 2^maxTimeoutDoublings times the base), so a healed cluster recovers in bounded time. */
  readonly maxTimeoutDoublings: number
  /** Period of retransmissions for slots and view changes that stall (the network may lose messages). */
  readonly retransmitTicks: number
  /** Client: ticks before a request is broadcast to all replicas (and between later rebroadcasts). */
  readonly clientRetryTicks: number
}

export const DEFAULT_PBFT_OPTIONS: PbftOptions = {
  checkpointInterval: 128,
  watermarkWindow: 1000,
  maxBatchCount: 64,
  maxBatchBytes: 64 * 1024,
  maxInflightBatches: 4,
  requestTimeoutTicks: 100,
  viewChangeTicks: 100,
  maxTimeoutDoublings: 3,
  retransmitTicks: 10,
  clientRetryTicks: 40,
}

const KNOWN = Object.keys(DEFAULT_PBFT_OPTIONS)

export function parsePbftOptions(raw: Readonly<Record<string, unknown>>): PbftOptions {
  rejectUnknownOptions(raw, KNOWN, 'pbft')
  const d = DEFAULT_PBFT_OPTIONS
  const checkpointInterval = intOption(raw, 'checkpointInterval', d.checkpointInterval, 1, 1 << 20)
  const watermarkWindow = intOption(raw, 'watermarkWindow', 2 * checkpointInterval, 1, 1 << 22)
  if (watermarkWindow < 2 * checkpointInterval) {
    throw new ConfigError('watermarkWindow', `must be at least 2 * checkpointInterval (${2 * checkpointInterval}) ` +
      `so ordering continues while a checkpoint becomes stable, got ${watermarkWindow}`)
  }
  return {
    checkpointInterval,
    watermarkWindow,
    maxBatchCount: intOption(raw, 'maxBatchCount', d.maxBatchCount, 1, 1 << 16),
    maxBatchBytes: intOption(raw, 'maxBatchBytes', d.maxBatchBytes, 64, 64 << 20),
    maxInflightBatches: intOption(raw, 'maxInflightBatches', d.maxInflightBatches, 1, 1 << 16),
    requestTimeoutTicks: intOption(raw, 'requestTimeoutTicks', d.requestTimeoutTicks, 2),
    viewChangeTicks: intOption(raw, 'viewChangeTicks', d.viewChangeTicks, 2),
    maxTimeoutDoublings: intOption(raw, 'maxTimeoutDoublings', d.maxTimeoutDoublings, 0, 16),
    retransmitTicks: intOption(raw, 'retransmitTicks', d.retransmitTicks, 1),
    clientRetryTicks: intOption(raw, 'clientRetryTicks', d.clientRetryTicks, 1),
  }
}


/** What a PBFT replica (honest or Byzantine) is created from. */
export type PbftContext = ReplicaContext<PbftOptions>
