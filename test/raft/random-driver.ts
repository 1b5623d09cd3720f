/**
 * A seeded randomized driver for Raft clusters: message loss, duplication and reordering, crashes (the replica is
 * recreated from its durable record), partitions, client proposals and ReadIndex reads, and optionally membership
 * changes and leader transfers. The invariant checker runs after every step; reads are checked to reflect every entry
 * applied anywhere before they were issued. At the end the network heals and the cluster must commit new commands
 * (liveness once faults stop). Same seed, same run.
 */
import type { NodeId } from '../../core/types.ts'
import { createRng } from '../../core/random.ts'
import { Cluster, readRequest, request } from './harness.ts'
import { RaftInvariants } from './invariants.ts'

export interface RandomRunOptions {
  readonly seed: number
  readonly n: number
  readonly steps: number
  readonly membership?: boolean
  readonly options?: Readonly<Record<string, unknown>>
}

export interface RandomRunResult {
  readonly messages: ReadonlyMap<string, number>
  readonly committed: number
  readonly maxTerm: number
  readonly reads: number
  readonly crashes: number
}

export function replayLine(o: RandomRunOptions): string {
  return `RAFT_SEED=${o.seed} RAFT_N=${o.n} RAFT_STEPS=${o.steps}${o.membership === true ? ' RAFT_MEMBERSHIP=1' : ''} ` +
    'npx vitest run test/raft/randomized.test.ts'
}

export function runRandomCluster(o: RandomRunOptions): RandomRunResult {
  const ids = Array.from({ length: o.n }, (_, i) => i)
  const cluster = new Cluster(ids, {
    seed: o.seed,
    snapshotInterval: 9,
    options: { electionTicks: 8, heartbeatTicks: 2, maxInflight: 3, maxBatchCount: 3, ...o.options },
  })
  const invariants = new RaftInvariants(cluster)
  const rng = createRng(`${o.seed}/driver`)
  const f = Math.floor((o.n - 1) / 2)
  const readFloor = new Map<string, number>()
  let readsChecked = 0
  const readCursor = new Map<NodeId, number>()
  let seq = 0
  let crashes = 0
  let nextNodeId = o.n

  const checkReads = (): void => {
    for (const host of cluster.nodes.values()) {
      const from = readCursor.get(host.id) ?? 0
      for (let i = from; i < host.reads.length; i++) {
        const r = host.reads[i]!
        const floor = readFloor.get(`${r.request.clientId}:${r.request.seq}`)!
        if (r.index < floor) {
          throw new Error(`stale read at node ${host.id}: read index ${r.index} below ${floor} applied before it was issued`)
        }
        readsChecked++
      }
      readCursor.set(host.id, host.reads.length)
    }
  }

  const pickUp = (): NodeId | undefined => {
    const up = cluster.up
    return up.length === 0 ? undefined : up[rng.int(up.length)]!.id
  }

  for (let step = 0; step < o.steps; step++) {
    const roll = rng.int(1000) / 10
    if (roll < 45 && cluster.queue.length > 0) {
      // Deliver: mostly in order, sometimes out of order; sometimes lose or duplicate.
      const pos = rng.chance(0.3) ? rng.int(cluster.queue.length) : 0
      if (rng.chance(0.05)) cluster.queue.splice(pos, 1)
      else {
        if (rng.chance(0.03)) cluster.queue.push(cluster.queue[pos]!)
        cluster.deliverAt(pos)
      }
    } else if (roll < 70) {
      const id = pickUp()
      if (id !== undefined) cluster.tick(id)
    } else if (roll < 82) {
      // A client command at some live node (followers redirect; the harness records it).
      const id = pickUp()
      if (id !== undefined) cluster.propose(id, request(1000 + (seq % 3), ++seq))
    } else if (roll < 86) {
      const id = pickUp()
      if (id !== undefined) {
        const req = readRequest(2000, ++seq)
        readFloor.set(`2000:${seq}`, invariants.maxCommitted)
        cluster.read(id, req)
      }
    } else if (roll < 87.5) {
      const down = cluster.nodes.size - cluster.up.length
      const id = pickUp()
      if (id !== undefined && down < f) { cluster.crash(id); crashes++ }
    } else if (roll < 90) {
      const down = [...cluster.nodes.values()].filter(n => n.replica === null)
      if (down.length > 0) cluster.restart(down[rng.int(down.length)]!.id)
    } else if (roll < 91) {
      const all = [...cluster.nodes.keys()]
      const side = all.filter(() => rng.chance(0.5))
      cluster.partition(side, all.filter(x => !side.includes(x)))
    } else if (roll < 94) {
      cluster.heal()
    } else if (o.membership === true) {
      const leader = cluster.leader()
      if (leader !== undefined) {
        const config = leader.configuration
        const choice = rng.int(4)
        if (choice === 0 && config.learners.length === 0 && cluster.nodes.size < o.n + 3) {
          const id = nextNodeId++
          cluster.addNode(id, [])
          leader.proposeMembershipChange({ kind: 'addLearner', id })
        } else if (choice === 1 && config.learners.length > 0) {
          leader.proposeMembershipChange({ kind: 'promoteLearner', id: config.learners[0]! })
        } else if (choice === 2 && config.voters.length > 3) {
          leader.proposeMembershipChange({ kind: 'removeVoter', id: config.voters[rng.int(config.voters.length)]! })
        } else if (choice === 3) {
          leader.transferLeadership(config.voters[rng.int(config.voters.length)]!)
        }
        cluster.drain(leader.id)
      }
    }
    invariants.check(cluster)
    checkReads()
  }

  // Faults stop: everyone restarts, the network heals and delivers reliably; the cluster must make progress.
  cluster.heal()
  for (const n of cluster.nodes.values()) if (n.replica === null) cluster.restart(n.id)
  const voters = (): NodeId[] => cluster.leader()?.configuration.voters.slice() ?? []
  const final = request(3000, 1, 'final')
  let sinceProposal = Infinity
  cluster.runUntil(() => {
    invariants.check(cluster)
    checkReads()
    const l = cluster.leader()
    if (l === undefined) return false
    // Retry now and then, as a client would (a leader change or transfer may drop it; applying it twice is fine here).
    if (++sinceProposal > 30 && l.log.term(l.commitIndex) === l.term) {
      sinceProposal = 0
      cluster.propose(l.id, final)
    }
    return voters().every(v => cluster.historyOf(v).includes('final'))
  }, 3000)
  checkReads()
  return {
    messages: cluster.sentByType,
    committed: invariants.maxCommitted,
    maxTerm: Math.max(...cluster.up.map(n => n.replica!.term)),
    reads: readsChecked,
    crashes,
  }
}
