/**
 * The voting rule (paper section 4, Algorithm 3 and the safeNode predicate of Algorithm 1) and the durable state it
 * rests on: the last view voted in, the locked QC and the highest QC. A replica votes at most once per view
 * (lastVotedView only grows, and is durable before the vote leaves), and only for a block that extends the locked
 * block (safety rule) or whose justify QC is newer than the lock (liveness rule).
 */
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import type { BlockTree, StoredBlock } from './block-tree.ts'
import { readQC, writeQC, type QuorumCert } from './messages.ts'
import { hashKey } from './signing.ts'

export interface SafetyRecord {
  readonly lastVotedView: number
  readonly lockedQC: QuorumCert
  readonly highQC: QuorumCert
}

export class SafetyRules {
  lastVotedView = 0
  lockedQC: QuorumCert
  highQC: QuorumCert

  constructor(genesisQC: QuorumCert, recovered?: SafetyRecord) {
    this.lockedQC = recovered?.lockedQC ?? genesisQC
    this.highQC = recovered?.highQC ?? genesisQC
    this.lastVotedView = recovered?.lastVotedView ?? 0
  }

  /**
   * safeNode(b, qc): b extends the locked block (safety), or qc.view > lockedQC.view (liveness: a newer QC proves
   * that a quorum moved on, so the lock may be given up). A locked block the tree no longer holds fails the safety
   * rule: if it was an ancestor of the committed root, every block in the tree has a justify newer than it (the
   * liveness rule passes); if it was on a pruned fork, only a newer QC may override it.
   */
  safeNode(tree: BlockTree, block: StoredBlock): boolean {
    if (block.block.justify.view > this.lockedQC.view) return true
    const locked = tree.get(hashKey(this.lockedQC.blockHash))
    return locked !== undefined && tree.extends(block, locked)
  }

  /** Whether a vote in `view` is allowed at all (one vote per view, views only increase). */
  mayVoteIn(view: number): boolean {
    return view > this.lastVotedView
  }

  recordVote(view: number): void {
    if (view <= this.lastVotedView) throw new Error(`hotstuff: vote in view ${view} after voting in ${this.lastVotedView}`)
    this.lastVotedView = view
  }

  /** updateQCHigh: returns whether `qc` is newer than the highest QC so far. */
  updateHighQC(qc: QuorumCert): boolean {
    if (qc.view <= this.highQC.view) return false
    this.highQC = qc
    return true
  }

  /** Two-chain: lock on the block the newest QC's block certifies (its parent), if newer than the lock. */
  updateLock(qc: QuorumCert): boolean {
    if (qc.view <= this.lockedQC.view) return false
    this.lockedQC = qc
    return true
  }

  record(): SafetyRecord {
    return { lastVotedView: this.lastVotedView, lockedQC: this.lockedQC, highQC: this.highQC }
  }
}

export function encodeSafetyRecord(s: SafetyRecord): Uint8Array {
  const w = new BinaryWriter(512)
  w.uvarint(s.lastVotedView)
  writeQC(w, s.lockedQC)
  writeQC(w, s.highQC)
  return w.finish()
}

export function decodeSafetyRecord(bytes: Uint8Array): SafetyRecord {
  const r = new BinaryReader(bytes, 'HotStuff safety record')
  const lastVotedView = r.uvarint()
  const lockedQC = readQC(r)
  const highQC = readQC(r)
  r.end()
  return { lastVotedView, lockedQC, highQC }
}
