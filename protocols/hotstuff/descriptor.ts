/**
 * The chained HotStuff protocol descriptor: what the registry, the host, the simulator and the bench need to know.
 */
import { ConfigError } from '../../core/errors.ts'
import { QuorumClient } from '../../core/clients/quorum-client.ts'
import type { ProtocolDescriptor } from '../../core/protocol.ts'
import { bftWeakQuorum, byzantineFaultsTolerated, byzantineReplicasFor, checkByzantineClusterSize } from '../../core/quorum.ts'
import { BYZANTINE_STRATEGIES, createByzantineReplica, isByzantineStrategy } from './byzantine/index.ts'
import { hotstuffCodec, type HotStuffMessage } from './messages.ts'
import { parseHotStuffOptions, type HotStuffOptions } from './options.ts'
import { createHotStuffReplica } from './replica.ts'

/**
 * Views a command's block needs at batch size 1 with nothing else in flight: the block's own view, two more for the
 * two-chain (lock) and three-chain (commit) above it, and one more whose proposal carries the QC that lets every
 * replica (not only the leader that formed it) see the commit. Each view costs one PROPOSAL to n-1 replicas and one
 * VOTE from each of n-1 replicas to the next leader (the next leader's own vote is not a message). After that a leader
 * proposes nothing (its chain holds no command whose commit is not yet known everywhere), so an idle cluster is silent.
 */
export const VIEWS_PER_COMMAND_AT_BATCH_SIZE_1 = 4

export const hotstuff: ProtocolDescriptor<HotStuffMessage, HotStuffOptions> = {
  name: 'hotstuff',
  description: 'Chained HotStuff (Yin et al. 2019): rotating leaders, linear views, Ed25519 QCs of 2f+1 signatures, n = 3f+1',
  faultModel: 'byzantine',
  replicasFor: byzantineReplicasFor,
  faultsTolerated: byzantineFaultsTolerated,
  checkClusterSize: n => checkByzantineClusterSize('hotstuff', n),
  parseOptions: (raw, n) => parseHotStuffOptions(raw, n),
  codec: hotstuffCodec,
  createReplica: ctx => createHotStuffReplica(ctx),
  // Leaders rotate every view and any replica may be the one to include a command, so the first attempt goes to
  // every replica: each holds it in its mempool, whichever leader comes next proposes it, and no replica has to
  // forward it (a faulty leader can delay a command by one view at most). Results need f+1 matching replies.
  createClient: ctx => new QuorumClient(ctx, {
    matchingReplies: bftWeakQuorum(ctx.replicas.length),
    retryTicks: ctx.options.clientRetryTicks,
    firstAttemptTo: (_view, replicas) => replicas,
  }),
  replyFrom: 'all',
  theoreticalMessages: n => ({
    Proposal: VIEWS_PER_COMMAND_AT_BATCH_SIZE_1 * (n - 1),
    Vote: VIEWS_PER_COMMAND_AT_BATCH_SIZE_1 * (n - 1),
  }),
  adversary: {
    strategies: BYZANTINE_STRATEGIES,
    primaryOnly: ['equivocate', 'withhold-qc'],
    createReplica: (strategy, ctx) => {
      if (!isByzantineStrategy(strategy)) {
        throw new ConfigError('byzantine', `unknown HotStuff strategy "${strategy}" (known: ${BYZANTINE_STRATEGIES.join(', ')})`)
      }
      return createByzantineReplica(strategy, ctx, ctx.rng.fork(`byzantine-${strategy}`))
    },
  },
}
