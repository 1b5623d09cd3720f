/**
 * Multi-Paxos behind the common contract. Steady state at batch size 1 costs one Accept and one Accepted per
 * follower per committed request, 2(n-1) messages: followers learn from the commit index piggybacked on the next
 * Accept or Heartbeat, so there is no Commit message.
 */
import { LeaderClient } from '../../core/clients/leader-client.ts'
import type { ProtocolDescriptor } from '../../core/protocol.ts'
import { crashFaultsTolerated } from '../../core/quorum.ts'
import type { MultiPaxosMessage } from './messages.ts'
import { multiPaxosCodec } from './messages.ts'
import { parseMultiPaxosOptions, type MultiPaxosOptions } from './options.ts'
import { createMultiPaxosReplica } from './replica.ts'

export const multipaxos: ProtocolDescriptor<MultiPaxosMessage, MultiPaxosOptions> = {
  name: 'multipaxos',
  description: 'Multi-Paxos (Lamport): stable leader, Phase 1 once per leadership, pipelined and batched Phase 2, ' +
    'flexible quorums',
  faultModel: 'crash',
  replicasFor: f => 2 * f + 1,
  faultsTolerated: crashFaultsTolerated,
  checkClusterSize: n => Number.isInteger(n) && n >= 1 ? null : `multipaxos needs at least 1 replica, got ${n}`,
  parseOptions: parseMultiPaxosOptions,
  timingAssumptions: options => options.leaseReads ? {
    // Less than a factor of two, minus a tick of granularity (README): keep a margin.
    maxClockRateRatio: 1.8, pauseSafe: false,
    statement: 'lease reads: tick rates differ by less than a factor of two, and no replica stops mid-lease',
  } : undefined,
  codec: multiPaxosCodec,
  createReplica: createMultiPaxosReplica,
  createClient: ctx => new LeaderClient(ctx),
  replyFrom: 'proposer',
  // A TakeOver message asks the target to run Phase 1 at once (multi-group nodes place leaders with it).
  adminCommands: ['transfer-leadership'],
  theoreticalMessages: (n): Readonly<Record<string, number>> => n <= 1 ? {} : { Accept: n - 1, Accepted: n - 1 },
}
