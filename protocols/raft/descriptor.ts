/**
 * Raft behind the common contract: crash faults, 2f+1 replicas, the leader answers clients, and in steady state each
 * committed command costs one AppendEntries and one AppendEntriesResponse per follower (commit indexes ride on later
 * messages; heartbeats are separate and idle traffic).
 */
import type { ProtocolDescriptor } from '../../core/protocol.ts'
import { crashFaultsTolerated } from '../../core/quorum.ts'
import { LeaderClient } from '../../core/clients/leader-client.ts'
import type { RaftMessage } from './messages.ts'
import { raftCodec } from './messages.ts'
import { parseRaftOptions, type RaftOptions } from './options.ts'
import { createRaftReplica } from './replica.ts'

export const raft: ProtocolDescriptor<RaftMessage, RaftOptions> = {
  name: 'raft',
  description: 'Raft with pre-vote, check-quorum, pipelining, batching, ReadIndex, snapshots and membership changes',
  faultModel: 'crash',
  replicasFor: f => 2 * f + 1,
  faultsTolerated: crashFaultsTolerated,
  checkClusterSize: n => Number.isInteger(n) && n >= 1 ? null : `raft needs at least 1 replica, got ${n}`,
  parseOptions: raw => parseRaftOptions(raw),
  codec: raftCodec,
  createReplica: createRaftReplica,
  createClient: ctx => new LeaderClient(ctx),
  replyFrom: 'proposer',
  adminCommands: ['add-learner', 'promote', 'remove', 'transfer-leadership'],
  theoreticalMessages: n => ({ AppendEntries: n - 1, AppendEntriesResponse: n - 1 }),
  timingAssumptions: o => {
    if (!o.leaseReads) return undefined
    return {
      maxClockRateRatio: 1 + o.heartbeatTicks / o.electionTicks, pauseSafe: false,
      statement: `lease reads: tick rates differ by less than one heartbeat per election timeout ` +
        `(${o.heartbeatTicks}/${o.electionTicks}), and no replica stops mid-lease`,
    }
  },
}
