/**
 * The PBFT protocol descriptor: what the registry, the host, the simulator and the bench need to know.
 */
import { ConfigError } from '../../core/errors.ts'
import { QuorumClient } from '../../core/clients/quorum-client.ts'
import type { ProtocolDescriptor } from '../../core/protocol.ts'
import { bftWeakQuorum, byzantineFaultsTolerated, byzantineReplicasFor, checkByzantineClusterSize } from '../../core/quorum.ts'
import { BYZANTINE_STRATEGIES, createByzantineReplica, isByzantineStrategy } from './byzantine/index.ts'
import { pbftCodec, type PbftMessage } from './messages.ts'
import { parsePbftOptions, type PbftOptions } from './options.ts'
import { createPbftReplica } from './replica.ts'

export const pbft: ProtocolDescriptor<PbftMessage, PbftOptions> = {
  name: 'pbft',
  description: 'Practical Byzantine Fault Tolerance (Castro & Liskov 1999), Ed25519-signed messages, n = 3f+1',
  faultModel: 'byzantine',
  replicasFor: byzantineReplicasFor,
  faultsTolerated: byzantineFaultsTolerated,
  checkClusterSize: n => checkByzantineClusterSize('pbft', n),
  parseOptions: raw => parsePbftOptions(raw),
  // Checkpoints digest the host's snapshots, so the host must snapshot exactly at every checkpoint.
  requiredSnapshotInterval: options => options.checkpointInterval,
  codec: pbftCodec,
  createReplica: ctx => createPbftReplica(ctx),
  // Paper 4.1: the client accepts f+1 matching replies. It sends even its first attempt to every replica (the BFT
  // library's separate request transmission, Castro & Liskov 2002 section 5.1): a backup then holds the request as
  // the client sent it and need not verify its signature inside the pre-prepare (replica.ts propose).
  createClient: ctx => new QuorumClient(ctx, {
    matchingReplies: bftWeakQuorum(ctx.replicas.length),
    retryTicks: ctx.options.clientRetryTicks,
    firstAttemptTo: (_view, replicas) => replicas,
  }),
  replyFrom: 'all',
  theoreticalMessages: n => ({ PrePrepare: n - 1, Prepare: (n - 1) * (n - 1), Commit: n * (n - 1) }),
  adversary: {
    strategies: BYZANTINE_STRATEGIES,
    primaryOnly: ['equivocate', 'censor', 'lying-view-change'],
    createReplica: (strategy, ctx) => {
      if (!isByzantineStrategy(strategy)) {
        throw new ConfigError('byzantine', `unknown PBFT strategy "${strategy}" (known: ${BYZANTINE_STRATEGIES.join(', ')})`)
      }
      return createByzantineReplica(strategy, ctx, ctx.rng.fork(`byzantine-${strategy}`))
    },
  },
}
