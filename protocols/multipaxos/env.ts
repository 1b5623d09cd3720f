/**
 * What the roles of one replica share: identity, options, the slot log, the acceptor and the output buffer. The
 * replica builds one and hands it to each role, so roles stay small and never reach into each other.
 */
import type { ReadyBuffer } from '../../core/ready.ts'
import type { Rng } from '../../core/random.ts'
import type { Logger } from '../../core/logger.ts'
import type { NodeId } from '../../core/types.ts'
import type { Acceptor } from './acceptor.ts'
import type { SlotLog } from './log.ts'
import type { MultiPaxosMessage } from './messages.ts'
import type { MultiPaxosOptions } from './options.ts'

export interface ReplicaEnv {
  readonly id: NodeId
  readonly members: readonly NodeId[]
  readonly options: MultiPaxosOptions
  readonly rng: Rng
  readonly log: SlotLog
  readonly acceptor: Acceptor
  readonly out: ReadyBuffer<MultiPaxosMessage>
  readonly logger: Logger
  /** Ticks since the replica started (its logical clock). */
  now(): number
  /** Hand every newly contiguous chosen slot to the host. */
  advanceCommit(): void
}
