/**
 * Quorum certificates (paper section 4, "QC"): n - f (2f+1 when n = 3f+1) individual Ed25519 signatures over
 * (view, block hash), one per distinct member. No threshold signatures: a QC is n - f signatures of 64 bytes each
 * plus the signers' ids, so its size and its verification cost grow linearly with n (section 3 of the paper assumes
 * threshold signatures to make both constant).
 */
import { bftQuorum } from '../../core/quorum.ts'
import type { Verifier } from '../../core/signer.ts'
import type { NodeId } from '../../core/types.ts'
import type { QuorumCert, Vote } from './messages.ts'
import { hashKey, voteSigningBytes, type KeyOf } from './signing.ts'

/** Why `qc` is not a valid certificate, or null when it is. */
export function checkQC(
  qc: QuorumCert, members: readonly NodeId[], verifier: Verifier, keyOf: KeyOf, genesisHash: Uint8Array,
): string | null {
  if (qc.view === 0) {
    // The genesis QC is the only one without signatures, and it certifies the genesis block only.
    if (qc.votes.length !== 0 || hashKey(qc.blockHash) !== hashKey(genesisHash)) return 'view-0 QC that is not the genesis QC'
    return null
  }
  const quorum = bftQuorum(members.length)
  if (qc.votes.length > members.length) return `QC with ${qc.votes.length} signatures for ${members.length} members`
  const signers = new Set<NodeId>()
  for (const v of qc.votes) {
    if (!members.includes(v.replica)) return `QC signed by non-member ${v.replica}`
    if (signers.has(v.replica)) return `QC signed twice by ${v.replica}`
    signers.add(v.replica)
  }
  if (signers.size < quorum) return `QC has ${signers.size} of ${quorum} signatures`
  for (const v of qc.votes) {
    const key = keyOf(v.replica)
    if (key === undefined || !verifier.verify(key, voteSigningBytes(qc.view, qc.blockHash, v.replica), v.signature)) {
      return `bad QC signature from ${v.replica}`
    }
  }
  return null
}

/** The QC formed by `votes` (all for one view and hash, from distinct members), signers in id order. */
export function formQC(votes: readonly Vote[]): QuorumCert {
  const first = votes[0]
  if (first === undefined) throw new RangeError('a QC needs votes')
  const sorted = [...votes].sort((a, b) => a.replica - b.replica)
  return { view: first.view, blockHash: first.blockHash, votes: sorted.map(v => ({ replica: v.replica, signature: v.signature })) }
}

/** Map key of the (view, hash) a QC certifies. */
export function qcKey(qc: { readonly view: number; readonly blockHash: Uint8Array }): string {
  return `${qc.view}:${hashKey(qc.blockHash)}`
}
