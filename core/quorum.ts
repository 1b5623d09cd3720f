/**
 * Quorum arithmetic, in one place (etcd-io/raft's `quorum/` package is the model): how many replicas a protocol needs,
 * how many faults n replicas tolerate, and the counting every protocol does on votes, acknowledgements and match
 * indexes. Protocols call these instead of re-deriving `Math.floor(n / 2) + 1` inline; test/core/quorum.test.ts checks
 * each against a brute-force version.
 */
import type { NodeId } from './types.ts'

/** Crash faults n replicas tolerate with majority quorums: n = 2f+1. */
export function crashFaultsTolerated(n: number): number {
  return Math.max(0, Math.floor((n - 1) / 2))
}

/** Byzantine faults n replicas tolerate: n = 3f+1 (Bracha and Toueg's bound). */
export function byzantineFaultsTolerated(n: number): number {
  return Math.max(0, Math.floor((n - 1) / 3))
}

/** Replicas needed to tolerate f Byzantine faults: 3f+1. */
export function byzantineReplicasFor(f: number): number {
  if (!Number.isInteger(f) || f < 0) throw new RangeError(`f must be a non-negative integer, got ${f}`)
  return 3 * f + 1
}

/** Null when n replicas of a Byzantine protocol tolerate at least one fault, else why not (for checkClusterSize). */
export function checkByzantineClusterSize(protocol: string, n: number): string | null {
  if (!Number.isInteger(n) || n < 4) {
    return `${protocol} needs n >= 4 (n = 3f+1 with f >= 1: quorums of 2f+1 must intersect in a correct replica), got n = ${n}`
  }
  return null
}

/** The smallest set of which any two intersect: floor(n/2)+1. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1
}

/**
 * A Byzantine quorum, n - f with f = floor((n-1)/3): any two intersect in at least f+1 replicas, so in at least one
 * correct one, and the n - f correct replicas can always form one by themselves. For n = 3f+1 it is 2f+1.
 */
export function bftQuorum(n: number): number {
  return n - byzantineFaultsTolerated(n)
}

/** Matching answers that include at least one correct replica (f+1): a client accepts a result on this many. */
export function bftWeakQuorum(n: number): number {
  return byzantineFaultsTolerated(n) + 1
}

/**
 * Flexible Paxos (Howard, Malkhi, Spiegelman 2016): Phase 1 and Phase 2 quorums need only intersect each other,
 * q1 + q2 > n. Null when the sizes are safe, else why not.
 */
export function checkFlexibleQuorums(n: number, phase1: number, phase2: number): string | null {
  if (!Number.isInteger(phase1) || phase1 < 1 || phase1 > n) return `phase1Quorum must be from 1 to n (${n}), got ${phase1}`
  if (!Number.isInteger(phase2) || phase2 < 1 || phase2 > n) return `phase2Quorum must be from 1 to n (${n}), got ${phase2}`
  if (phase1 + phase2 <= n) {
    return `phase1Quorum (${phase1}) + phase2Quorum (${phase2}) must exceed n (${n}) so every Phase 1 quorum ` +
      'meets every Phase 2 quorum; otherwise two different values can be chosen for one slot'
  }
  return null
}

/** Up to this many values, highestReachedByQuorum counts (quadratic, no allocation) instead of sorting a copy. */
const SMALL_QUORUM_GROUP = 16

/**
 * The highest value that at least `quorum` of `values` reach (etcd's CommittedIndex: given each voter's match index,
 * the index a quorum holds). Null when fewer than `quorum` values are given. Does not modify `values`.
 */
export function highestReachedByQuorum(values: readonly number[], quorum: number): number | null {
  if (quorum < 1 || values.length < quorum) return null
  if (values.length <= SMALL_QUORUM_GROUP) {
    // The quorum-th largest value is the largest one that at least `quorum` values reach. For a cluster's few voters
    // counting beats copying and sorting: a leader runs this on every acknowledgement.
    let best = -Infinity
    for (const v of values) {
      if (v <= best) continue
      let reaching = 0
      for (const w of values) if (w >= v) reaching++
      if (reaching >= quorum) best = v
    }
    return best
  }
  const sorted = [...values].sort((a, b) => b - a)
  return sorted[quorum - 1]!
}

/** How many of `voters` satisfy `agrees`; the caller compares with its quorum. */
export function countAgreeing(voters: readonly NodeId[], agrees: (id: NodeId) => boolean): number {
  let count = 0
  for (const v of voters) if (agrees(v)) count++
  return count
}

/** Whether at least `quorum` of `voters` satisfy `agrees`. */
export function quorumAgrees(voters: readonly NodeId[], quorum: number, agrees: (id: NodeId) => boolean): boolean {
  return countAgreeing(voters, agrees) >= quorum
}

export type VoteResult = 'won' | 'lost' | 'pending'

/**
 * An election's outcome so far (etcd's VoteResult): won once `quorum` voters granted, lost once so many refused that
 * the rest cannot make a quorum, pending otherwise. Votes from non-voters are ignored; each voter counts once.
 */
export function voteResult(votes: ReadonlyMap<NodeId, boolean>, voters: readonly NodeId[], quorum: number): VoteResult {
  let granted = 0
  let refused = 0
  for (const v of voters) {
    const vote = votes.get(v)
    if (vote === true) granted++
    else if (vote === false) refused++
  }
  if (granted >= quorum) return 'won'
  if (voters.length - refused < quorum) return 'lost'
  return 'pending'
}

/**
 * Votes grouped by what they vote for (a digest, a block hash): a quorum certificate forms when `quorum` distinct
 * voters back the same value. A Byzantine voter may back two values; it then counts once in each, which the quorum
 * size already allows for (two BFT quorums share a correct replica, and a correct replica backs one value).
 */
export class QuorumTally<V> {
  private readonly byValue = new Map<string, { value: V; voters: Set<NodeId> }>()
  private readonly quorum: number

  constructor(quorum: number) {
    this.quorum = quorum
  }

  /** Record `voter` backing `value` (identified by `key`); returns how many distinct voters back it now. */
  add(voter: NodeId, key: string, value: V): number {
    let entry = this.byValue.get(key)
    if (entry === undefined) {
      entry = { value, voters: new Set() }
      this.byValue.set(key, entry)
    }
    entry.voters.add(voter)
    return entry.voters.size
  }

  /** Whether `key` has a quorum of voters behind it. */
  reached(key: string): boolean {
    return (this.byValue.get(key)?.voters.size ?? 0) >= this.quorum
  }

  /** The voters behind `key`, in the order they were first recorded. */
  votersOf(key: string): NodeId[] {
    return [...(this.byValue.get(key)?.voters ?? [])]
  }

  clear(): void {
    this.byValue.clear()
  }
}

/**
 * EPaxos fast quorum without the optimized recovery (Moraru et al., SOSP 2013, §4.3 and the tech report's simplified
 * variant): the smallest F such that (a) two fast quorums intersect, (b) a fast quorum and a majority intersect, and
 * (c) recovery can tell a possibly fast-committed command: a recoverer's majority that misses the command leader still
 * holds `epaxosRecoveryThreshold(n)` = majority + F - n replicas that pre-accepted it unchanged, and those plus the
 * leader intersect every fast quorum, every majority and every other such set (two commands recovered that way on the
 * two sides of a partition must see each other). For n = 2f+1 this is 2f; for even n it is n - 1 (with 2f, two
 * recoveries on the sides of an even split each took their command as possibly fast-committed without either seeing
 * the other: test/regressions/epaxos-even-n-recovery-sets.test.ts); 1 and 2 replicas need everyone.
 */
export function epaxosFastQuorum(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`)
  const m = majority(n)
  for (let fast = 1; fast < n; fast++) {
    const seen = m + fast - n // the leader's unchanged pre-accepts any majority without the leader must hold
    if (seen < 1) continue
    if (2 * fast > n && fast + m > n && seen + 1 + fast > n && seen + 1 + m > n && 2 * (seen + 1) > n) return fast
  }
  return n
}

/**
 * How many replicas other than the command leader must report an unchanged default-ballot pre-accept among a
 * recoverer's majority before it may take the leader's attributes as possibly fast-committed (EPaxos explicit prepare,
 * "at least floor(N/2) identical pre-accepts" for N = 2f+1): a fast quorum minus the leader meets any majority in at
 * least this many replicas.
 */
export function epaxosRecoveryThreshold(n: number): number {
  return Math.max(0, majority(n) + epaxosFastQuorum(n) - n)
}
