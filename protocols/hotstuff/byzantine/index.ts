/**
 * The Byzantine adversary for HotStuff tests and benchmarks: `createByzantineReplica(strategy, ctx, rng)` builds a
 * faulty replica for one id from the same ReplicaContext an honest one gets, so a simulator can swap the replica
 * factory for chosen ids. Strategies: see strategies.ts and twins.ts.
 */
import type { Replica } from '../../../core/protocol.ts'
import type { Rng } from '../../../core/random.ts'
import type { HotStuffMessage } from '../messages.ts'
import type { HotStuffContext } from '../options.ts'
import { HotStuffReplica } from '../replica.ts'
import { conflictingVotes, equivocate, silent, withholdQC } from './strategies.ts'
import { TwinsReplica } from './twins.ts'
import { ByzantineReplica } from '../../../core/byzantine-replica.ts'
import type { ByzantineHooks } from './strategies.ts'

export const BYZANTINE_STRATEGIES = ['silent', 'equivocate', 'conflicting-votes', 'withhold-qc', 'twins'] as const

export type ByzantineStrategy = typeof BYZANTINE_STRATEGIES[number]

export function isByzantineStrategy(name: string): name is ByzantineStrategy {
  return (BYZANTINE_STRATEGIES as readonly string[]).includes(name)
}

export function createByzantineReplica(strategy: ByzantineStrategy, ctx: HotStuffContext, rng: Rng): Replica<HotStuffMessage> {
  // Every strategy runs inside ByzantineReplica, which keeps whatever a faulty replica throws away from its host.
  if (strategy === 'twins') return wrap(strategy, new TwinsReplica(ctx, rng), {})
  const inner = new HotStuffReplica(ctx)
  switch (strategy) {
    case 'silent': return wrap(strategy, inner, silent())
    case 'equivocate': return wrap(strategy, inner, equivocate(ctx))
    case 'conflicting-votes': return wrap(strategy, inner, conflictingVotes(ctx))
    case 'withhold-qc': return wrap(strategy, inner, withholdQC(ctx))
    default: throw new RangeError(`unknown HotStuff Byzantine strategy "${String(strategy)}" (known: ${BYZANTINE_STRATEGIES.join(', ')})`)
  }
}

/** A replica factory for `strategy` (what a simulator's replicaFactory option takes). */
export function byzantineFactory(strategy: ByzantineStrategy) {
  return (ctx: HotStuffContext): Replica<HotStuffMessage> => createByzantineReplica(strategy, ctx, ctx.rng.fork(`byzantine-${strategy}`))
}

export { createTwins, TwinsReplica } from './twins.ts'
export { ByzantineReplica } from '../../../core/byzantine-replica.ts'

/** Every strategy runs inside ByzantineReplica; a forwarded client request passes its request filter too. */
function wrap(strategy: string, inner: Replica<HotStuffMessage>, hooks: ByzantineHooks): ByzantineReplica<HotStuffMessage> {
  return new ByzantineReplica<HotStuffMessage>(strategy, inner, hooks, (m: HotStuffMessage) => m.type === 'Forward' ? m.requests : [])
}
