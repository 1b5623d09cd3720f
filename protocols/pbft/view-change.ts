/**
 * View changes (paper section 4.4): VIEW-CHANGE carries the sender's stable checkpoint with its proof and, for every
 * sequence number above it that prepared at the sender, the prepared certificate from the highest view (the set P).
 * The new primary gathers 2f+1 of them (V) and computes O: for each seq between the highest stable checkpoint in V
 * (min-s) and the highest prepared seq (max-s), a PRE-PREPARE in the new view for the batch prepared in the highest
 * view, or for the null request when nothing prepared there. Every backup recomputes O from V and rejects a NEW-VIEW
 * that differs, so a faulty new primary can neither drop a request that may have committed nor invent one.
 */
import { bytesEqual } from '../../core/codec/client-messages.ts'
import type { Signer, Verifier } from '../../core/signer.ts'
import type { ClientRequest, NodeId } from '../../core/types.ts'
import { checkCheckpointProof, type StableCheckpoint } from './checkpoints.ts'
import { batchDigest, NULL_DIGEST } from './digest.ts'
import type { CheckedMessages } from './checked-messages.ts'
import type { NewView, PreparedCertificate, PrePrepare, SignedMessage, ViewChange } from './messages.ts'
import { sign, verifySignature } from './signing.ts'

/** What checking certificates needs to know about the cluster. */
export interface QuorumContext {
  readonly members: readonly NodeId[]
  readonly f: number
  /** Certificates need this many distinct replicas: n - f (2f+1 when n = 3f+1), so any two share a correct one. */
  readonly quorum: number
  /** The watermark window L. */
  readonly window: number
  readonly verifier: Verifier
  readonly publicKeyOf: (id: NodeId) => Uint8Array | undefined
  /** The replica's memory of what it already checked (absent: every check runs in full). */
  readonly checked?: CheckedMessages
}

function verified(m: SignedMessage, q: QuorumContext): boolean {
  return q.checked !== undefined ? q.checked.verify(m) : verifySignature(m, q.verifier, q.publicKeyOf)
}

export function primaryOf(view: number, members: readonly NodeId[]): NodeId {
  return members[view % members.length]!
}

/** Why a prepared certificate reported in a VIEW-CHANGE for `newView` is not valid, or null. */
export function checkPreparedCertificate(
  cert: PreparedCertificate, stableSeq: number, newView: number, q: QuorumContext,
): string | null {
  const pp = cert.prePrepare
  if (pp.view >= newView) return `prepared certificate from view ${pp.view}, not below ${newView}`
  if (pp.replica !== primaryOf(pp.view, q.members)) return `pre-prepare of view ${pp.view} not from its primary`
  if (pp.seq <= stableSeq || pp.seq > stableSeq + q.window) return `prepared seq ${pp.seq} outside the watermarks`
  if (!bytesEqual(batchDigest(pp.batch), pp.digest)) return `prepared batch does not match its digest at seq ${pp.seq}`
  if (!verified(pp, q)) return `bad pre-prepare signature in certificate for seq ${pp.seq}`
  const senders = new Set<NodeId>()
  for (const p of cert.prepares) {
    if (p.view !== pp.view || p.seq !== pp.seq || !bytesEqual(p.digest, pp.digest)) {
      return `prepare does not match its pre-prepare at seq ${pp.seq}`
    }
    if (p.replica === pp.replica || !q.members.includes(p.replica) || senders.has(p.replica)) {
      return `prepare from an invalid or repeated sender ${p.replica} at seq ${pp.seq}`
    }
    if (!verified(p, q)) return `bad prepare signature from ${p.replica} at seq ${pp.seq}`
    senders.add(p.replica)
  }
  return senders.size >= q.quorum - 1 ? null : `prepared certificate at seq ${pp.seq} has ${senders.size} of ${q.quorum - 1} prepares`
}

/** Why a VIEW-CHANGE is not valid (signature included), or null. */
export function checkViewChange(vc: ViewChange, q: QuorumContext): string | null {
  if (q.checked?.isValidViewChange(vc) === true) return null
  if (!q.members.includes(vc.replica)) return `view-change from non-member ${vc.replica}`
  if (!verified(vc, q)) return `bad view-change signature from ${vc.replica}`
  const proofError = checkCheckpointProof(vc.stableSeq, vc.checkpointProof, q.quorum, q.members, q.verifier, q.publicKeyOf)
  if (proofError !== null) return proofError
  const seqs = new Set<number>()
  for (const cert of vc.prepared) {
    if (seqs.has(cert.prePrepare.seq)) return `two prepared certificates for seq ${cert.prePrepare.seq}`
    seqs.add(cert.prePrepare.seq)
    const e = checkPreparedCertificate(cert, vc.stableSeq, vc.newView, q)
    if (e !== null) return e
  }
  q.checked?.rememberValidViewChange(vc)
  return null
}

/** The decision a NEW-VIEW must carry: the stable checkpoint to start from and one order per seq above it. */
export interface NewViewPlan {
  readonly stable: StableCheckpoint
  readonly orders: ReadonlyArray<{ readonly seq: number; readonly digest: Uint8Array; readonly batch: readonly ClientRequest[] }>
}

/** min-s, max-s and O of the paper, from valid view-changes. */
export function planNewView(viewChanges: readonly ViewChange[]): NewViewPlan {
  let best: ViewChange | undefined
  for (const vc of viewChanges) if (best === undefined || vc.stableSeq > best.stableSeq) best = vc
  const minS = best?.stableSeq ?? 0
  const stable: StableCheckpoint = {
    seq: minS,
    stateDigest: best?.checkpointProof[0]?.stateDigest ?? new Uint8Array(0),
    proof: best?.checkpointProof ?? [],
  }
  const chosen = new Map<number, PrePrepare>()
  let maxS = minS
  for (const vc of viewChanges) {
    for (const { prePrepare: pp } of vc.prepared) {
      if (pp.seq <= minS) continue
      maxS = Math.max(maxS, pp.seq)
      const current = chosen.get(pp.seq)
      if (current === undefined || pp.view > current.view) chosen.set(pp.seq, pp)
    }
  }
  const orders: Array<{ seq: number; digest: Uint8Array; batch: readonly ClientRequest[] }> = []
  for (let seq = minS + 1; seq <= maxS; seq++) {
    const pp = chosen.get(seq)
    orders.push(pp === undefined ? { seq, digest: NULL_DIGEST, batch: [] } : { seq, digest: pp.digest, batch: pp.batch })
  }
  return { stable, orders }
}

/** The new primary's NEW-VIEW for `view` from 2f+1 valid view-changes. */
export function buildNewView(signer: Signer, self: NodeId, view: number, viewChanges: readonly ViewChange[]): NewView {
  const plan = planNewView(viewChanges)
  const prePrepares = plan.orders.map(o => sign(signer, {
    type: 'PrePrepare' as const, view, seq: o.seq, digest: o.digest, batch: o.batch, replica: self, signature: new Uint8Array(0),
  }))
  return sign(signer, { type: 'NewView', view, viewChanges, prePrepares, replica: self, signature: new Uint8Array(0) })
}

/** Why a NEW-VIEW is not valid, or null; on success also the plan it carries out. */
export function checkNewView(nv: NewView, q: QuorumContext): { error: string } | { plan: NewViewPlan } {
  const primary = primaryOf(nv.view, q.members)
  if (nv.replica !== primary) return { error: `new-view for ${nv.view} from ${nv.replica}, not its primary ${primary}` }
  if (!verified(nv, q)) return { error: 'bad new-view signature' }
  const senders = new Set<NodeId>()
  for (const vc of nv.viewChanges) {
    if (vc.newView !== nv.view) return { error: `view-change for ${vc.newView} inside new-view for ${nv.view}` }
    if (senders.has(vc.replica)) return { error: `two view-changes from ${vc.replica}` }
    const e = checkViewChange(vc, q)
    if (e !== null) return { error: e }
    senders.add(vc.replica)
  }
  if (senders.size < q.quorum) return { error: `new-view has ${senders.size} of ${q.quorum} view-changes` }
  const plan = planNewView(nv.viewChanges)
  if (plan.orders.length !== nv.prePrepares.length) {
    return { error: `new-view re-issues ${nv.prePrepares.length} pre-prepares, recomputed ${plan.orders.length}` }
  }
  for (let i = 0; i < plan.orders.length; i++) {
    const o = plan.orders[i]!
    const pp = nv.prePrepares[i]!
    if (pp.view !== nv.view || pp.seq !== o.seq || pp.replica !== primary || !bytesEqual(pp.digest, o.digest)) {
      return { error: `new-view pre-prepare for seq ${pp.seq} differs from the recomputed one for seq ${o.seq}` }
    }
    if (!bytesEqual(batchDigest(pp.batch), pp.digest)) return { error: `new-view batch does not match its digest at seq ${pp.seq}` }
    if (!verified(pp, q)) return { error: `bad new-view pre-prepare signature at seq ${pp.seq}` }
  }
  return { plan }
}

/**
 * Timeout after k successive view changes without progress: base * 2^k (paper 4.5.2: T, then 2T, ...), doubled at
 * most `maxDoublings` times, so that once the network is healthy again the cluster recovers in bounded time however
 * many views the faults burnt.
 */
export function backoffTicks(base: number, successiveViewChanges: number, maxDoublings: number): number {
  return base * 2 ** Math.max(0, Math.min(successiveViewChanges, maxDoublings))
}
