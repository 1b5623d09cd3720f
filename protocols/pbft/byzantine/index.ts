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
import { ByzantineReplica } from '../../../core/byzantine-replica.ts'
import type { ByzantineHooks } from './strategies.ts'

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
  if (strategy === 'twins') return wrap(strategy, new TwinsReplica(ctx, rng), {})
  const inner = new PbftReplica(ctx)
  switch (strategy) {
    case 'silent': return wrap(strategy, inner, silent())
    case 'equivocate': return wrap(strategy, inner, equivocate(ctx))
    case 'bad-signature': return wrap(strategy, inner, badSignature(rng))
    case 'replay': return wrap(strategy, inner, replay(ctx, rng))
    case 'censor': return wrap(strategy, inner, censor(options))
    case 'lying-view-change': return wrap(strategy, inner, lyingViewChange(ctx))
    case 'future-view-change': return wrap(strategy, inner, futureViewChange(ctx, () => inner.status().epoch))
    default: throw new RangeError(`unknown PBFT Byzantine strategy "${String(strategy)}" (known: ${BYZANTINE_STRATEGIES.join(', ')})`)
  }
}

/** A replica factory for `strategy` (what a simulator's replicaFactory option takes). */
export function byzantineFactory(strategy: ByzantineStrategy, options: ByzantineOptions = {}) {
  return (ctx: PbftContext): Replica<PbftMessage> => createByzantineReplica(strategy, ctx, ctx.rng.fork(`byzantine-${strategy}`), options)
}

export { createTwins, TwinsReplica } from './twins.ts'
export { ByzantineReplica } from '../../../core/byzantine-replica.ts'
export type { ByzantineOptions } from './strategies.ts'

/** Every strategy runs inside ByzantineReplica; a forwarded client request passes its request filter too. */
function wrap(strategy: string, inner: Replica<PbftMessage>, hooks: ByzantineHooks): ByzantineReplica<PbftMessage> {
  return new ByzantineReplica<PbftMessage>(strategy, inner, hooks, (m: PbftMessage) => m.type === 'Forward' ? [m.request] : [])
}
