/**
 * Explicit prepare (Moraru et al. §4.5, the tech report's Figure 4 for the simplified protocol) with the published
 * corrections: what a recoverer does once a majority has promised its ballot, decided from their replies alone.
 *
 *   1. someone committed it           -> commit that (replicas answer a Prepare for a committed instance with Commit);
 *   2. someone accepted it            -> Paxos-Accept the attributes accepted at the highest vballot. Sutra (IPL 2020):
 *                                        the promised ballot and the ballot of the attributes are two variables, so
 *                                        "highest" is over vballot, never over the promise;
 *   3. at least `threshold` replicas other than the command leader pre-accepted it at the default ballot with the
 *      leader's attributes unchanged -> it may have committed on the fast path: Paxos-Accept those attributes. Only
 *      unchanged default-ballot pre-accepts count: all of them carry the one proposal of the leader, so there is
 *      nothing to choose between (the original text's "identical attributes" let a recoverer adopt attributes no
 *      fast path produced);
 *   4. someone holds the command      -> run phase 1 again at the new ballot (PreAccept, never the fast path), then
 *                                        Accept: fresh attributes from a majority;
 *   5. nobody holds it                -> commit a no-op through Accept.
 */
import type { Batch, InstanceStatus } from './messages.ts'

/** One replica's answer to a Prepare (PrepareOK), or the recoverer's own state. */
export interface PrepareReply {
  readonly from: number
  readonly status: InstanceStatus
  readonly vballot: number
  readonly unchanged: boolean
  readonly requests: Batch
  readonly seq: number
  readonly deps: readonly number[]
}

export type RecoveryDecision =
  | { readonly kind: 'commit'; readonly requests: Batch; readonly seq: number; readonly deps: readonly number[] }
  | { readonly kind: 'accept'; readonly rule: 'accepted' | 'fast-path-possible' | 'no-op'; readonly requests: Batch;
    readonly seq: number; readonly deps: readonly number[] }
  | { readonly kind: 'preaccept'; readonly requests: Batch }

/**
 * `leader` is the command leader's position (its own reply is not one of the `threshold` others), `n` the cluster size
 * (for the no-op's deps).
 */
export function decideRecovery(replies: readonly PrepareReply[], leader: number, threshold: number, n: number): RecoveryDecision {
  const committed = replies.find(r => r.status === 'committed')
  if (committed !== undefined) return { kind: 'commit', requests: committed.requests, seq: committed.seq, deps: committed.deps }
  let accepted: PrepareReply | undefined
  for (const r of replies) if (r.status === 'accepted' && (accepted === undefined || r.vballot > accepted.vballot)) accepted = r
  if (accepted !== undefined) {
    return { kind: 'accept', rule: 'accepted', requests: accepted.requests, seq: accepted.seq, deps: accepted.deps }
  }
  const unchanged = replies.filter(r => r.from !== leader && r.status === 'preaccepted' && r.vballot === 0 && r.unchanged)
  if (threshold > 0 && unchanged.length >= threshold) {
    const u = unchanged[0]!
    return { kind: 'accept', rule: 'fast-path-possible', requests: u.requests, seq: u.seq, deps: u.deps }
  }
  const holder = replies.find(r => r.status === 'preaccepted' && r.requests.length > 0)
  if (holder !== undefined) return { kind: 'preaccept', requests: holder.requests }
  return { kind: 'accept', rule: 'no-op', requests: [], seq: 0, deps: new Array<number>(n).fill(0) }
}
