/**
 * A seeded randomized driver for HotStuff on the deterministic simulator (net/sim): random crashes, restarts,
 * partitions, loss, duplication and reordering (randomFaultSchedule), optionally one Byzantine replica, a put
 * workload from two clients, then a full heal and one more write that must commit (liveness after the faulty views
 * time out). Invariants are checked after every simulator event:
 *
 * - no two honest replicas commit different blocks at one height (so committed prefixes agree);
 * - no honest replica sends votes for two different blocks in one view (across restarts too);
 * - an honest replica's lastVotedView never falls below a view it has sent a vote for (a restart recovers it);
 * - and, from the cluster, no two honest replicas apply different commands at one log index.
 *
 * The shared replica test network (test/support/replica-network.ts on the `testnet` branch) was not there yet when
 * this was written; this driver sits on createSimCluster so it can move onto it without changing its invariants.
 */
import { encodeKvCommand } from '../../core/kv.ts'
import { createRng } from '../../core/random.ts'
import { createSimCluster } from '../../net/sim/cluster.ts'
import { randomFaultSchedule } from '../../net/sim/faults.ts'
import { hotstuff } from '../../protocols/hotstuff/descriptor.ts'
import { decodeMessage, type Vote } from '../../protocols/hotstuff/messages.ts'
import type { HotStuffReplica } from '../../protocols/hotstuff/replica.ts'
import { hashKey } from '../../protocols/hotstuff/signing.ts'

export interface RandomRun {
  readonly n: number
  readonly seed: number
  /** One Byzantine replica: `id=strategy`. */
  readonly byzantine?: string
  /** Random faults are injected in [0, windowMs). */
  readonly windowMs?: number
}

export interface RandomRunResult {
  readonly violations: string[]
  /** Puts acknowledged during the run. */
  readonly acknowledged: number
  /** Virtual ms from the heal to the commit of the final write, or null if it never committed. */
  readonly recoveryMs: number | null
  readonly replay: string
}

export function replayLine(r: RandomRun): string {
  return `HOTSTUFF_REPLAY='${JSON.stringify(r)}' npx vitest run test/hotstuff/randomized.test.ts`
}

export function runRandomized(r: RandomRun): RandomRunResult {
  const windowMs = r.windowMs ?? 1500
  const f = hotstuff.faultsTolerated(r.n)
  const byz = r.byzantine === undefined ? null : { id: Number(r.byzantine.split('=')[0]), strategy: r.byzantine.split('=')[1]! }
  const cluster = createSimCluster({
    protocol: hotstuff, n: r.n, seed: r.seed, clients: 3,
    untrusted: byz === null ? [] : [byz.id],
    maxCrashed: byz === null ? f : f - 1,
    replicaFactory: id => byz !== null && id === byz.id ? ctx => hotstuff.adversary!.createReplica(byz.strategy, ctx as never) : undefined,
  })
  const violations: string[] = []
  const honest = cluster.replicaIds.filter(id => byz === null || id !== byz.id)
  const votes = new Map<string, string>()
  const maxVoteSent = new Map<number, number>()
  const recordVote = (from: number, v: Vote): void => {
    const key = `${from}:${v.view}`
    const hash = hashKey(v.blockHash)
    const known = votes.get(key)
    if (known !== undefined && known !== hash) violations.push(`replica ${from} voted for two blocks in view ${v.view}`)
    votes.set(key, hash)
    maxVoteSent.set(from, Math.max(maxVoteSent.get(from) ?? 0, v.view))
  }
  cluster.network.observer = {
    sent: (_time, from, _to, frame) => {
      if (frame.channel !== 'protocol' || !honest.includes(from) || (frame.type !== 'Vote' && frame.type !== 'NewView')) return -1
      const m = decodeMessage(frame.bytes)
      if (m.type === 'Vote' && m.replica === from) recordVote(from, m)
      if (m.type === 'NewView' && m.lastVote !== null && m.lastVote.replica === from) recordVote(from, m.lastVote)
      return -1
    },
    fate: () => {},
  }
  const committedAt = new Map<number, string>()
  const lastTip = new Map<number, { hash: string; height: number; replica: HotStuffReplica }>()
  const check = (): boolean => {
    for (const id of honest) {
      if (!cluster.isUp(id)) continue
      const replica = cluster.replica<HotStuffReplica>(id)
      const s = replica.debugState()
      const sent = maxVoteSent.get(id) ?? 0
      if (s.lastVotedView < sent) violations.push(`replica ${id}: lastVotedView ${s.lastVotedView} below its vote in view ${sent}`)
      const last = lastTip.get(id)
      if (last?.hash === s.committedHash) continue
      // Only what is new since the last look (a restart or a snapshot install may move the tip anywhere: then all).
      const above = last !== undefined && last.replica === replica && s.committedHeight > last.height ? last.height : undefined
      lastTip.set(id, { hash: s.committedHash, height: s.committedHeight, replica })
      for (const { height, hash } of replica.committedChain(above)) {
        const other = committedAt.get(height)
        if (other === undefined) committedAt.set(height, hash)
        else if (other !== hash) violations.push(`height ${height}: replica ${id} committed ${hash.slice(0, 8)}, another ${other.slice(0, 8)}`)
      }
    }
    return violations.length > 0
  }
  cluster.schedule(randomFaultSchedule(createRng(r.seed).fork('faults'), { n: r.n, windowMs }))
  let acknowledged = 0
  for (const client of cluster.clients.slice(0, 2)) {
    let i = 0
    const loop = (): void => {
      if (cluster.sim.now() >= windowMs) return
      client.submit(encodeKvCommand({ type: 'put', key: `k${i % 3}`, value: `${client.id}-${i++}` }), false, 1000, outcome => {
        if (outcome.status === 'ok') acknowledged++
        cluster.sim.setTimer(5, loop)
      })
    }
    loop()
  }
  cluster.sim.run(windowMs, check)
  let recoveryMs: number | null = null
  if (violations.length === 0) {
    const healedAt = cluster.sim.now()
    let done = false
    cluster.clients[2]!.submit(encodeKvCommand({ type: 'put', key: 'after-heal', value: String(r.seed) }), false, 30_000, outcome => {
      if (outcome.status === 'ok') recoveryMs = cluster.sim.now() - healedAt
      done = true
    })
    cluster.sim.run(healedAt + 30_000, () => check() || done)
  }
  violations.push(...cluster.safetyViolations)
  return { violations, acknowledged, recoveryMs, replay: replayLine(r) }
}
