/**
 * quorum-kv behind the common contract: the AP baseline (Dynamo / Cassandra style quorum replication, no consensus)
 * that shows what consensus buys. Crash faults, 2f+1 replicas for f faults at the default majority quorums, no
 * leader: clients send to their nearest replica (ClientContext.preferredReplica), which coordinates, and move to
 * another on silence (the leader client does exactly that when no replica names a leader).
 *
 * `consistency: 'eventual'`: histories are checked but not required to be linearizable (concurrent writers, weak
 * quorums or async read repair break it, on purpose: see README.md); the simulator requires liveness and convergence
 * (equal `stateDigest()` on every replica once healed and settled) instead. `order` stays at its default: quorum-kv
 * emits no committed entries at all, so there is no order for the host or the simulator to compare.
 *
 * Messages at batch size 1, steady state, per write: a Write to each other replica and a WriteAck back (N-1 each);
 * per read: Read and ReadReply (N-1 each), plus a ReadRepair and ReadRepairAck per stale replica found (none when
 * every write reached every replica). Anti-entropy digests are idle background traffic, like heartbeats.
 */
import { LeaderClient } from '../../core/clients/leader-client.ts'
import type { ProtocolDescriptor } from '../../core/protocol.ts'
import { crashFaultsTolerated } from '../../core/quorum.ts'
import { quorumKvCodec, type QuorumKvMessage } from './messages.ts'
import { parseQuorumKvOptions, type QuorumKvOptions } from './options.ts'
import { createQuorumKvReplica } from './replica.ts'

export const quorumKv: ProtocolDescriptor<QuorumKvMessage, QuorumKvOptions> = {
  name: 'quorum-kv',
  description: 'Dynamo-style quorum store (R + W > N, last-writer-wins versions, read repair, anti-entropy): no consensus, eventual consistency',
  faultModel: 'crash',
  replicasFor: f => 2 * f + 1,
  faultsTolerated: crashFaultsTolerated,
  checkClusterSize: n => Number.isInteger(n) && n >= 1 ? null : `quorum-kv needs at least 1 replica, got ${n}`,
  parseOptions: parseQuorumKvOptions,
  codec: quorumKvCodec,
  createReplica: createQuorumKvReplica,
  // Any replica serves: stay with the nearest, move on only when it is silent (no replica ever names a leader).
  createClient: ctx => new LeaderClient(ctx, { firstReplica: 'preferred' }),
  replyFrom: 'proposer',
  theoreticalMessages: n => ({ Write: n - 1, WriteAck: n - 1 }),
  leaderless: true,
  consistency: 'eventual',
}
