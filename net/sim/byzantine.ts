/**
 * Byzantine replicas in a simulated cluster, wired in one place for the simulator (net/sim/run.ts, soak) and the
 * bench (bench/run-one.ts): where the faulty replicas sit, checked against the protocol, and the cluster options that
 * swap their replica factory for the protocol's adversary and keep them out of the safety checks.
 */
import { ConfigError } from '../../core/errors.ts'
import type { AnyProtocol, Replica, ReplicaContext } from '../../core/protocol.ts'
import type { NodeId } from '../../core/types.ts'

export interface ByzantinePlacement {
  readonly replica: NodeId
  readonly strategy: string
}

/** `id=strategy` items where given, else the strategies (cycled) on the `count` highest ids. */
export function placeByzantine(items: readonly string[], n: number, count: number): ByzantinePlacement[] {
  const placed = items.filter(s => s.includes('='))
  if (placed.length === 0) {
    return Array.from({ length: count }, (_, i) => ({ replica: n - 1 - i, strategy: items[i % items.length]! }))
  }
  if (placed.length !== items.length) throw new ConfigError('byzantine', 'give either strategies or id=strategy items, not both')
  const out: ByzantinePlacement[] = []
  for (const item of placed) {
    const [idText, strategy] = item.split('=') as [string, string]
    const replica = Number(idText)
    if (!Number.isInteger(replica) || replica < 0 || replica >= n) throw new ConfigError('byzantine', `"${item}": ${idText} is not a replica (0..${n - 1})`)
    if (out.some(b => b.replica === replica)) throw new ConfigError('byzantine', `replica ${replica} is given twice`)
    out.push({ replica, strategy })
  }
  return out
}

/**
 * One strategy on `count` replicas, at the primaries of the first views (ids 0..count-1, where the leaders of views
 * 0, 1, ... are) or at backups (the highest ids). 'default' puts strategies whose harm shows only at the leader
 * (descriptor.adversary.primaryOnly) at the primaries and the rest at backups.
 */
export function placeStrategy(protocol: AnyProtocol, strategy: string, placement: 'primary' | 'backup' | 'default',
  n: number, count: number): ByzantinePlacement[] {
  const atPrimary = placement === 'primary' || (placement === 'default' && protocol.adversary?.primaryOnly?.includes(strategy) === true)
  return Array.from({ length: count }, (_, i) => ({ replica: atPrimary ? i : n - 1 - i, strategy }))
}

/** Throws a ConfigError unless the protocol has these strategies and tolerates this many Byzantine replicas. */
export function checkByzantinePlacements(protocol: AnyProtocol, n: number, placements: readonly ByzantinePlacement[]): void {
  if (placements.length === 0) return
  const adversary = protocol.adversary
  if (adversary === undefined) throw new ConfigError('byzantine', `${protocol.name} has no Byzantine strategies (it tolerates crashes only)`)
  for (const { strategy } of placements) {
    if (!adversary.strategies.includes(strategy)) {
      throw new ConfigError('byzantine', `unknown strategy "${strategy}" (known: ${adversary.strategies.join(', ')})`)
    }
  }
  const f = protocol.faultsTolerated(n)
  if (placements.length > f) throw new ConfigError('byzantine', `${placements.length} Byzantine replicas, but n = ${n} tolerates f = ${f}`)
}

/** Cluster options (createSimCluster) that run `placements` as the protocol's adversary. */
export function byzantineClusterOptions(protocol: AnyProtocol, placements: readonly ByzantinePlacement[]): {
  readonly untrusted: NodeId[]
  readonly replicaFactory: (id: NodeId) => ((ctx: ReplicaContext) => Replica<unknown>) | undefined
} {
  return {
    untrusted: placements.map(b => b.replica),
    replicaFactory: id => {
      const b = placements.find(x => x.replica === id)
      return b === undefined ? undefined : ctx => protocol.adversary!.createReplica(b.strategy, ctx)
    },
  }
}
