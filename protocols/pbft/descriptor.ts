/**
 * The PBFT protocol descriptor: what the registry, the host, the simulator and the bench need to know.
 */
import { ConfigError } from '../../core/errors.ts'
import type { ProtocolDescriptor } from '../../core/protocol.ts'
import { BYZANTINE_STRATEGIES, createByzantineReplica, isByzantineStrategy } from './byzantine/index.ts'
import { createPbftClient } from './client.ts'
import { pbftCodec, type PbftMessage } from './messages.ts'
import { parseOptions } from './options.ts'
import { createPbftReplica } from './replica.ts'

export const pbft: ProtocolDescriptor<PbftMessage> = {
  name: 'pbft',
  description: 'Practical Byzantine Fault Tolerance (Castro & Liskov 1999), Ed25519-signed messages, n = 3f+1',
  faultModel: 'byzantine',
  replicasFor: f => {
    if (!Number.isInteger(f) || f < 0) throw new RangeError(`f must be a non-negative integer, got ${f}`)
    return 3 * f + 1
  },
  faultsTolerated: n => Math.max(0, Math.floor((n - 1) / 3)),
  checkClusterSize: n => {
    if (!Number.isInteger(n) || n < 4) {
      return `pbft needs n >= 4 (n = 3f+1 with f >= 1: quorums of 2f+1 must intersect in a correct replica), got n = ${n}`
    }
    return null
  },
  // Spread into a plain record: the contract hands options around untyped.
  parseOptions: raw => ({ ...parseOptions(raw) }),
  // Checkpoints digest the host's snapshots, so the host must snapshot exactly at every checkpoint.
  requiredSnapshotInterval: options => options.checkpointInterval as number,
  codec: pbftCodec,
  createReplica: ctx => createPbftReplica(ctx),
  createClient: ctx => createPbftClient(ctx),
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
