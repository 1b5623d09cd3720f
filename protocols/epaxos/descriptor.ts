/**
 * EPaxos behind the common contract: crash faults, 2f+1 replicas, no leader (every replica leads its own instances),
 * a partial order (only interfering commands are ordered), and the replica a client asked answers it once it has
 * executed the command.
 *
 * Messages per command at batch size 1 (thrifty, §4.3): the fast path is PreAccept and PreAcceptOK between the
 * command leader and the rest of its fast quorum (F - 1 each, F = epaxosFastQuorum(n)) and a Commit to every other
 * replica (n - 1). The slow path adds Accept and AcceptOK with the rest of a majority: `slowPathMessages(n)`.
 */
import { LeaderClient } from '../../core/clients/leader-client.ts'
import type { ProtocolDescriptor } from '../../core/protocol.ts'
import { crashFaultsTolerated, epaxosFastQuorum, majority } from '../../core/quorum.ts'
import { epaxosCodec, type EpaxosMessage } from './messages.ts'
import { parseEpaxosOptions, type EpaxosOptions } from './options.ts'
import { createEpaxosReplica } from './replica.ts'

/** Fast path, batch size 1: one round trip with the fast quorum, then the Commit broadcast. */
export function fastPathMessages(n: number): Record<string, number> {
  const f = epaxosFastQuorum(n) - 1
  return { PreAccept: f, PreAcceptOK: f, Commit: n - 1 }
}

/** Slow path, batch size 1: the fast path's round trip, a Paxos-Accept round trip with a majority, the Commit. */
export function slowPathMessages(n: number): Record<string, number> {
  const m = majority(n) - 1
  return { ...fastPathMessages(n), Accept: m, AcceptOK: m }
}

export const epaxos: ProtocolDescriptor<EpaxosMessage, EpaxosOptions> = {
  name: 'epaxos',
  description: 'Egalitarian Paxos: leaderless, fast path on non-conflicting commands, SCC execution, corrected recovery',
  faultModel: 'crash',
  replicasFor: f => 2 * f + 1,
  faultsTolerated: crashFaultsTolerated,
  checkClusterSize: n => Number.isInteger(n) && n >= 1 ? null : `epaxos needs at least 1 replica, got ${n}`,
  parseOptions: (raw, n) => parseEpaxosOptions(raw, n),
  codec: epaxosCodec,
  createReplica: createEpaxosReplica,
  // Leaderless: start at the nearest replica, stay there while it answers, move on after a silent retry period.
  createClient: ctx => new LeaderClient(ctx, { firstReplica: 'preferred', retryTicks: ctx.options.clientRetryTicks }),
  replyFrom: 'proposer',
  order: 'partial',
  leaderless: true,
  theoreticalMessages: fastPathMessages,
}
