/**
 * Checkpoints (paper section 4.3): every K executed sequence numbers a replica digests its state and broadcasts a
 * signed CHECKPOINT; 2f+1 matching ones from distinct replicas make the checkpoint stable. The stable checkpoint is
 * the low watermark, its proof travels in VIEW-CHANGE and STATE-TRANSFER, and everything below it is discarded.
 */
import { bytesEqual } from '../../core/codec/client-messages.ts'
import type { Verifier } from '../../core/signer.ts'
import type { NodeId } from '../../core/types.ts'
import { digestKey, stateDigest } from './digest.ts'
import type { Checkpoint } from './messages.ts'
import { verifySignature } from './signing.ts'

export interface StableCheckpoint {
  readonly seq: number
  /** Digest of the state after executing `seq` (empty for the initial state at 0, which needs no proof). */
  readonly stateDigest: Uint8Array
  /** 2f+1 matching signed CHECKPOINT messages from distinct replicas (empty at 0). */
  readonly proof: readonly Checkpoint[]
}

export const INITIAL_CHECKPOINT: StableCheckpoint = { seq: 0, stateDigest: new Uint8Array(0), proof: [] }

/**
 * Why a checkpoint proof is not valid, or null when it is: `quorum` matching, correctly signed CHECKPOINTs for
 * (seq, digest) from distinct members.
 */
export function checkCheckpointProof(
  seq: number, proof: readonly Checkpoint[], quorum: number, members: readonly NodeId[],
  verifier: Verifier, publicKeyOf: (id: NodeId) => Uint8Array | undefined, digest?: Uint8Array,
): string | null {
  if (seq === 0) return proof.length === 0 ? null : 'checkpoint proof for seq 0 must be empty'
  const first = proof[0]
  if (first === undefined) return `no checkpoint proof for seq ${seq}`
  const expected = digest ?? first.stateDigest
  const senders = new Set<NodeId>()
  for (const c of proof) {
    if (c.seq !== seq) return `checkpoint for seq ${c.seq} in a proof for ${seq}`
    if (!bytesEqual(c.stateDigest, expected)) return `checkpoint digests disagree at seq ${seq}`
    if (!members.includes(c.replica)) return `checkpoint from non-member ${c.replica}`
    if (senders.has(c.replica)) return `duplicate checkpoint from ${c.replica}`
    if (!verifySignature(c, verifier, publicKeyOf)) return `bad checkpoint signature from ${c.replica}`
    senders.add(c.replica)
  }
  return senders.size >= quorum ? null : `checkpoint proof has ${senders.size} of ${quorum} signatures`
}

/** Tracks our own checkpoint snapshots, the votes of others, and the stable checkpoint. */
export class CheckpointTracker {
  private stableCp: StableCheckpoint = INITIAL_CHECKPOINT
  /** Snapshots we hold (ours, or obtained by state transfer), by seq, at or above the stable checkpoint. */
  private readonly snapshots = new Map<number, { readonly data: Uint8Array; readonly digest: Uint8Array }>()
  /** Votes by seq, then by sender. */
  private readonly votes = new Map<number, Map<NodeId, Checkpoint>>()
  private readonly quorum: number
  /** Votes kept per sender, so a Byzantine replica cannot fill memory with checkpoints for invented seqs. */
  private readonly maxVotesPerSender: number

  constructor(quorum: number, maxVotesPerSender: number) {
    this.quorum = quorum
    this.maxVotesPerSender = maxVotesPerSender
  }

  get stable(): StableCheckpoint {
    return this.stableCp
  }

  /** Restore after a crash: the stable checkpoint and its snapshot as persisted. */
  restore(stable: StableCheckpoint, data: Uint8Array): void {
    this.stableCp = stable
    this.snapshots.set(stable.seq, { data, digest: stable.stateDigest })
  }

  /** Our snapshot after executing `seq`; returns its digest. */
  addSnapshot(seq: number, data: Uint8Array): Uint8Array {
    const digest = stateDigest(data)
    this.snapshots.set(seq, { data, digest })
    return digest
  }

  snapshot(seq: number): { readonly data: Uint8Array; readonly digest: Uint8Array } | undefined {
    return this.snapshots.get(seq)
  }

  /** Our own latest checkpoint above the stable one, not yet stable (for retransmission). */
  pendingOwnSeqs(): number[] {
    return [...this.snapshots.keys()].filter(s => s > this.stableCp.seq).sort((a, b) => a - b)
  }

  /**
   * Count a (signature-checked) vote. Returns the checkpoint that became stable, if this vote made one stable that is
   * newer than the current one.
   */
  addVote(c: Checkpoint): StableCheckpoint | null {
    if (c.seq <= this.stableCp.seq) return null
    let bySender = this.votes.get(c.seq)
    if (bySender === undefined) {
      bySender = new Map()
      this.votes.set(c.seq, bySender)
    }
    if (bySender.has(c.replica)) return null
    bySender.set(c.replica, c)
    this.boundVotesOf(c.replica)
    // Votes for one seq may disagree (a Byzantine sender): a quorum must match on the digest.
    const groups = new Map<string, Checkpoint[]>()
    for (const v of bySender.values()) {
      const key = digestKey(v.stateDigest)
      const g = groups.get(key) ?? []
      g.push(v)
      groups.set(key, g)
    }
    for (const g of groups.values()) {
      if (g.length >= this.quorum) {
        const stable = { seq: c.seq, stateDigest: g[0]!.stateDigest, proof: g.slice(0, this.quorum) }
        this.makeStable(stable)
        return stable
      }
    }
    return null
  }

  /** Adopt a stable checkpoint proven elsewhere (NEW-VIEW, STATE-TRANSFER); older state is discarded. */
  makeStable(stable: StableCheckpoint): boolean {
    if (stable.seq <= this.stableCp.seq) return false
    this.stableCp = stable
    for (const seq of this.votes.keys()) if (seq <= stable.seq) this.votes.delete(seq)
    for (const [seq, s] of this.snapshots) {
      if (seq < stable.seq || (seq === stable.seq && !bytesEqual(s.digest, stable.stateDigest))) this.snapshots.delete(seq)
    }
    return true
  }

  private boundVotesOf(sender: NodeId): void {
    const seqs: number[] = []
    for (const [seq, bySender] of this.votes) if (bySender.has(sender)) seqs.push(seq)
    if (seqs.length <= this.maxVotesPerSender) return
    seqs.sort((a, b) => a - b)
    for (const seq of seqs.slice(0, seqs.length - this.maxVotesPerSender)) {
      const bySender = this.votes.get(seq)!
      bySender.delete(sender)
      if (bySender.size === 0) this.votes.delete(seq)
    }
  }

  /** Checkpoint-vote entries held (for memory accounting). */
  get voteCount(): number {
    let n = 0
    for (const v of this.votes.values()) n += v.size
    return n
  }
}
