/**
 * A seeded randomized driver for HotStuff on the shared replica test network (test/support/replica-network.ts):
 * seeded loss, duplication and reordering (jitter), crashes and restarts, isolated replicas, optionally one
 * Byzantine replica, the network's KV workload, then a full heal and one more write that must commit (liveness after
 * the faulty views time out). Checked after every step of the network:
 *
 * - no two honest replicas commit different blocks at one height (so committed prefixes agree);
 * - no honest replica sends votes for two different blocks in one view (across restarts too);
 * - an honest replica's lastVotedView never falls below a view it has sent a vote for (a restart recovers it);
 * - and, by the network itself: no two honest replicas apply different commands at one index, every result a client
 *   accepts is one an honest replica computed, and an installed snapshot holds the state honest replicas had there.
 */
import { hotstuff } from '../../protocols/hotstuff/descriptor.ts'
import type { HotStuffMessage, Vote } from '../../protocols/hotstuff/messages.ts'
import type { HotStuffContext } from '../../protocols/hotstuff/options.ts'
import { createHotStuffReplica, type HotStuffReplica } from '../../protocols/hotstuff/replica.ts'
import { hashKey } from '../../protocols/hotstuff/signing.ts'
import { healAndProbe, ReplicaNetwork, type RandomRunResult } from '../support/replica-network.ts'

export interface RandomRun {
  readonly n: number
  readonly seed: number
  /** One Byzantine replica: `id=strategy`. */
  readonly byzantine?: string
  /**
   * Negative control: this replica forgets its durable safety record on every restart (and is crashed and restarted
   * once, at tick 150): the invariants must catch it.
   */
  readonly forgetful?: number
  /** Faults are injected during this many ticks (default 600: 6 s at 10 ms ticks). */
  readonly ticks?: number
}

export type { RandomRunResult }

/** Ticks the final write may take after the heal: capped view timeouts (100 ticks) a few times over. */
export const RECOVERY_BOUND_TICKS = 800

export function replayLine(r: RandomRun): string {
  return `HOTSTUFF_REPLAY='${JSON.stringify(r)}' npx vitest run test/hotstuff/randomized.test.ts`
}

export function runRandomized(r: RandomRun): RandomRunResult {
  const ticks = r.ticks ?? 600
  const f = hotstuff.faultsTolerated(r.n)
  const byz = r.byzantine === undefined ? null : { id: Number(r.byzantine.split('=')[0]), strategy: r.byzantine.split('=')[1]! }
  const net = new ReplicaNetwork<HotStuffMessage, HotStuffReplica>({
    protocol: hotstuff, n: r.n, seed: r.seed, clients: 2,
    // Small, so that runs compact and laggards sometimes need a snapshot.
    snapshotInterval: 25,
    byzantine: byz === null ? undefined : new Map([[byz.id, byz.strategy]]),
    replicaFactories: r.forgetful === undefined ? undefined : new Map([[r.forgetful, (ctx: HotStuffContext) =>
      createHotStuffReplica({ ...ctx, recovered: { ...ctx.recovered, hard: new Map() } })]]),
    onViolation: 'record', replay: replayLine(r),
  })
  const rng = net.rng.fork('hotstuff-randomized')
  net.faults = { loss: rng.next() * 0.05, duplicate: rng.next() * 0.05, jitter: rng.int(4) }
  const honest = net.ids.filter(id => byz === null || id !== byz.id)

  const votes = new Map<string, string>()
  const maxVoteSent = new Map<number, number>()
  const recordVote = (from: number, v: Vote): void => {
    const key = `${from}:${v.view}`
    const hash = hashKey(v.blockHash)
    const known = votes.get(key)
    if (known !== undefined && known !== hash) net.fail(`replica ${from} voted for two blocks in view ${v.view}`)
    votes.set(key, hash)
    maxVoteSent.set(from, Math.max(maxVoteSent.get(from) ?? 0, v.view))
  }
  // Messages are intercepted as they leave, after their Ready was made durable.
  net.intercept(m => {
    if (m.kind !== 'protocol' || !honest.includes(m.from)) return undefined
    const msg = m.message as HotStuffMessage
    if (msg.type === 'Vote' && msg.replica === m.from) recordVote(m.from, msg)
    if (msg.type === 'NewView' && msg.lastVote !== null && msg.lastVote.replica === m.from) recordVote(m.from, msg.lastVote)
    return undefined
  })
  const committedAt = new Map<number, string>()
  const lastTip = new Map<number, { hash: string; height: number; replica: HotStuffReplica }>()
  net.onStep(() => {
    for (const id of honest) {
      if (!net.isUp(id)) continue
      const replica = net.replica(id)
      const s = replica.debugState()
      const sent = maxVoteSent.get(id) ?? 0
      if (s.lastVotedView < sent) net.fail(`replica ${id}: lastVotedView ${s.lastVotedView} below its vote in view ${sent}`)
      const last = lastTip.get(id)
      if (last?.hash === s.committedHash && last.replica === replica) continue
      // Only what is new since the last look (after a restart or a snapshot install: everything it holds).
      const above = last !== undefined && last.replica === replica && s.committedHeight > last.height ? last.height : undefined
      lastTip.set(id, { hash: s.committedHash, height: s.committedHeight, replica })
      for (const { height, hash } of replica.committedChain(above)) {
        const other = committedAt.get(height)
        if (other === undefined) committedAt.set(height, hash)
        else if (other !== hash) net.fail(`height ${height}: replica ${id} committed ${hash.slice(0, 8)}, another ${other.slice(0, 8)}`)
      }
    }
  })

  // Crashes only within the fault budget left by the Byzantine replica; isolation counts as a fault too.
  const budget = byz === null ? f : f - 1
  const faulty = new Set<number>()
  for (let t = 0; t < ticks && net.violations.length === 0; t++) {
    if (r.forgetful !== undefined && t === 150) {
      net.crash(r.forgetful)
      net.restart(r.forgetful)
    }
    if (rng.chance(0.02)) {
      const roll = rng.int(3)
      const candidates = honest.filter(id => !faulty.has(id))
      if (roll === 0 && faulty.size < budget && candidates.length > 0) {
        const id = candidates[rng.int(candidates.length)]!
        net.crash(id)
        faulty.add(id)
      } else if (roll === 1 && faulty.size < budget && candidates.length > 0) {
        const id = candidates[rng.int(candidates.length)]!
        net.isolate(id)
        faulty.add(id)
      } else {
        net.heal()
        for (const id of faulty) if (net.isDown(id)) net.restart(id)
        faulty.clear()
      }
    }
    net.step()
  }
  const acknowledged = net.completedRequests
  let recoveryTicks: number | null = null
  if (net.violations.length === 0) recoveryTicks = healAndProbe(net, faulty, r.seed, RECOVERY_BOUND_TICKS)
  return { violations: [...net.violations], acknowledged, recoveryTicks, replay: replayLine(r) }
}
