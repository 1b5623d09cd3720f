/**
 * The Byzantine adversary for PBFT tests and benchmarks: `createByzantineReplica(strategy, ctx, rng)` builds a faulty
 * replica for one id from the same ReplicaContext an honest one gets, so a simulator can swap the replica factory for
 * chosen ids. Strategies: see strategies.ts and twins.ts.
 */
import type { Replica } from '../../../core/protocol.ts'
import type { PbftContext } from '../options.ts'
import type { Rng } from '../../../core/random.ts'
import type { PbftMessage } from '../messages.ts'
import { PbftReplica } from '../replica.ts'
import {
  badSignature, censor, equivocate, futureViewChange, lyingViewChange, replay, silent, type ByzantineOptions,
} from './strategies.ts'
import { TwinsReplica } from './twins.ts'
import { ByzantineReplica } from './wrapper.ts'

export const BYZANTINE_STRATEGIES = [
  'silent', 'equivocate', 'bad-signature', 'replay', 'censor', 'lying-view-change', 'future-view-change', 'twins',
] as const

export type ByzantineStrategy = typeof BYZANTINE_STRATEGIES[number]

export function isByzantineStrategy(name: string): name is ByzantineStrategy {
  return (BYZANTINE_STRATEGIES as readonly string[]).includes(name)
}

export function createByzantineReplica(
  strategy: ByzantineStrategy, ctx: PbftContext, rng: Rng, options: ByzantineOptions = {},
): Replica<PbftMessage> {
  // Every strategy runs inside ByzantineReplica, which keeps whatever a faulty replica throws away from its host.
  if (strategy === 'twins') return new ByzantineReplica(strategy, new TwinsReplica(ctx, rng), {})
  const inner = new PbftReplica(ctx)
  switch (strategy) {
    case 'silent': return new ByzantineReplica(strategy, inner, silent())
    case 'equivocate': return new ByzantineReplica(strategy, inner, equivocate(ctx))
    case 'bad-signature': return new ByzantineReplica(strategy, inner, badSignature(rng))
    case 'replay': return new ByzantineReplica(strategy, inner, replay(ctx, rng))
    case 'censor': return new ByzantineReplica(strategy, inner, censor(options))
    case 'lying-view-change': return new ByzantineReplica(strategy, inner, lyingViewChange(ctx))
    case 'future-view-change': return new ByzantineReplica(strategy, inner, futureViewChange(ctx, () => inner.status().epoch))
    default: throw new RangeError(`unknown PBFT Byzantine strategy "${String(strategy)}" (known: ${BYZANTINE_STRATEGIES.join(', ')})`)
  }
}

/** A replica factory for `strategy` (what a simulator's replicaFactory option takes). */
export function byzantineFactory(strategy: ByzantineStrategy, options: ByzantineOptions = {}) {
  return (ctx: PbftContext): Replica<PbftMessage> => createByzantineReplica(strategy, ctx, ctx.rng.fork(`byzantine-${strategy}`), options)
}

export { createTwins, TwinsReplica } from './twins.ts'
export { ByzantineReplica } from './wrapper.ts'
export type { ByzantineOptions } from './strategies.ts'
