/**
 * A chained HotStuff replica (Yin et al., PODC 2019, Algorithm 3 with the pacemaker of section 4.4): rotating leaders,
 * one block per view carrying a batch of commands and the highest QC, votes sent to the next view's leader, the
 * two-chain lock and the three-chain commit rule (direct parents in consecutive views). Missing ancestors are fetched
 * by hash; a replica behind its peers' compacted prefix catches up from a snapshot that f+1 replicas vouch for.
 *
 * Pure and deterministic: inputs are tick/receive/propose/snapshotTaken, outputs are drained with ready(). Every
 * message is checked (membership, sender, signature, QC, hash) before it touches state; what is refused is counted by
 * reason in dropCounts().
 */
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import { bytesEqual, requestSigningBytes, sameRequest } from '../../core/codec/client-messages.ts'
import type { Ready, Replica } from '../../core/protocol.ts'
import { bftQuorum, bftWeakQuorum, QuorumTally } from '../../core/quorum.ts'
import { ReadyBuffer } from '../../core/ready.ts'
import type { ClientRequest, NodeId, ReplicaStatus } from '../../core/types.ts'
import { BlockTree, type StoredBlock } from './block-tree.ts'
import {
  decodeBlock, encodeBlock, encodeQC, MAX_BLOCKS_PER_RESPONSE, readBlock, writeBlock,
  type Block, type BlockRequest, type BlockResponse, type Forward, type HotStuffMessage, type NewView, type Proposal, type QuorumCert,
  type SnapshotRequest, type SnapshotResponse, type Vote,
} from './messages.ts'
import type { HotStuffContext, HotStuffOptions } from './options.ts'
import { leaderOf, Pacemaker } from './pacemaker.ts'
import { checkQC, formQC, qcKey } from './qc.ts'
import { decodeSafetyRecord, encodeSafetyRecord, SafetyRules } from './safety.ts'
import {
  blockHash, hashKey, sha256, signNewView, signProposal, signVote, verifyNewView, verifyProposal, verifyVote,
} from './signing.ts'

/** Why an input was refused; the counters are exposed by dropCounts(). */
export type DropReason =
  | 'unknown-sender' | 'sender-mismatch' | 'not-leader' | 'bad-signature' | 'bad-qc' | 'bad-client-signature'
  | 'bad-block' | 'oversized-block' | 'stale-proposal' | 'conflicting-proposal' | 'unsafe-proposal' | 'stale-vote'
  | 'vote-too-far' | 'stale-new-view' | 'hash-mismatch' | 'unwanted-block' | 'stale-snapshot' | 'bad-snapshot'
  | 'stale-request' | 'mempool-full' | 'fetch-full' | 'rate-limited' | 'view-too-far' | 'conflicting-vote'

const ZERO_HASH = new Uint8Array(32)
const SAFETY_KEY = 'hotstuff/safety'
const COMMITTED_KEY = 'hotstuff/committed'
/**
 * Blocks are durable as log records far above any log index a snapshot can reach (snapshots drop records at or below
 * their index), one record per block at a slot of its own (numbered in the order blocks arrive), deleted ('forget')
 * only once the block is pruned from the tree: below the snapshot's root, or off its chain. A slot per height would
 * let a fork at a committed height, or a chain longer than the slots, overwrite a committed block no snapshot covers
 * yet (test/regressions/hotstuff-block-ring-overwrite, hotstuff-fork-overwrites-committed-block).
 */
const BLOCK_RECORD_BASE = 2 ** 48
/**
 * How far above our view a proposal may be, unless its QC is for the view just before (which proves 2f+1 replicas
 * got there): a faulty leader cannot drag correct replicas to a view of its choosing (up to 2^53, where views stop
 * being integers; test/regressions/hotstuff-view-overflow).
 */
const MAX_PROPOSAL_VIEWS_AHEAD = 1024
const MAX_MEMPOOL = 100_000
const MAX_WANTED = 1024
const MAX_ORPHANS = 4096
const MAX_PENDING_PROPOSALS = 64
/** Votes are collected for views at most this far above our own (a faulty voter cannot fill memory). */
const MAX_VOTE_VIEWS_AHEAD = 64
const MAX_VERIFIED_QCS = 4096

/** The genesis block every replica starts from, and the QC that certifies it without signatures. */
export const GENESIS_BLOCK: Block = {
  view: 0, height: 0, parentHash: ZERO_HASH, justify: { view: 0, blockHash: ZERO_HASH, votes: [] }, proposer: 0, commands: [],
}
export const GENESIS_HASH = blockHash(GENESIS_BLOCK)
export const GENESIS_QC: QuorumCert = { view: 0, blockHash: GENESIS_HASH, votes: [] }

function requestKey(r: ClientRequest): string {
  return `${r.clientId}:${r.seq}`
}

function requestSize(r: ClientRequest): number {
  return 24 + r.op.length + r.signature.length
}

interface Wanted {
  readonly hash: Uint8Array
  askedAt: number
  attempts: number
  peer: NodeId
}

interface HeldSnapshot {
  readonly index: number
  readonly offset: number
  readonly block: Block
  readonly data: Uint8Array
}

/** Execution progress through the committed chain: the block being executed and how many of its commands are done. */
interface ExecCursor {
  readonly entry: StoredBlock
  offset: number
}

export class HotStuffReplica implements Replica<HotStuffMessage> {
  readonly id: NodeId
  private readonly ctx: HotStuffContext
  private readonly members: readonly NodeId[]
  private readonly quorum: number
  private readonly weakQuorum: number
  private readonly o: HotStuffOptions
  private out = new ReadyBuffer<HotStuffMessage>()
  private now = 0

  private readonly tree: BlockTree
  private readonly safety: SafetyRules
  private readonly pacemaker: Pacemaker
  /** The highest committed block; everything on its chain down to the root is committed. */
  private committedTip: StoredBlock
  private readonly execQueue: ExecCursor[] = []
  private executedIndex = 0
  /** Log indexes of the commands of executed blocks still in the tree (to find a snapshot's block). */
  private readonly executedRanges = new Map<string, { first: number; last: number }>()
  private latestSnapshot: HeldSnapshot | null = null

  /** Client commands known here and not yet executed, in arrival order. */
  private readonly mempool = new Map<string, ClientRequest>()
  private readonly executedSeq = new Map<NodeId, number>()

  /** As leader of view v + 1: votes for blocks of view v, by (view, hash). */
  private readonly votes = new Map<string, Map<NodeId, Vote>>()
  /** The block each voter voted for, per view (`view:voter`): a voter counts for one block per view. */
  private readonly voteOf = new Map<string, string>()
  /** Durable slot of every block in the tree, by hash key. */
  private readonly blockSlots = new Map<string, number>()
  private nextBlockSlot = BLOCK_RECORD_BASE
  private readonly voteTally: QuorumTally<string>
  private proposedView = 0
  /** The highest-view proposal we accepted: shown to a replica whose NEW-VIEW shows it is behind. */
  private latestProposal: Proposal | null = null
  private readonly lastHelpAt = new Map<NodeId, number>()
  /** Our latest vote, carried in our NEW-VIEWs (volatile: after a restart the next vote replaces it). */
  private lastVote: Vote | null = null
  /** The block we proposed or voted for in each recent view (conflicting proposals are equivocation). */
  private readonly proposalInView = new Map<number, string>()

  private readonly wanted = new Map<string, Wanted>()
  /** Fetched blocks whose parent we do not hold yet, by parent key. */
  private readonly orphans = new Map<string, Block[]>()
  private orphanCount = 0
  /** Proposals waiting for an ancestor, by the key of the missing parent. */
  private readonly pendingProposals = new Map<string, Proposal>()
  /** QCs learned for blocks we do not hold yet, by block key. */
  private readonly pendingQCs = new Map<string, QuorumCert>()
  private readonly verifiedQCs = new Set<string>()

  private snapshotTally: QuorumTally<SnapshotResponse>
  private lastSnapshotRequestAt = Number.NEGATIVE_INFINITY
  private snapshotsInstalled = 0
  private readonly lastSnapshotSentTo = new Map<NodeId, number>()
  private readonly drops = new Map<DropReason, number>()

  constructor(ctx: HotStuffContext) {
    this.ctx = ctx
    this.id = ctx.id
    this.members = ctx.members
    this.quorum = bftQuorum(ctx.members.length)
    this.weakQuorum = bftWeakQuorum(ctx.members.length)
    this.o = ctx.options
    this.voteTally = new QuorumTally(this.quorum)
    this.snapshotTally = new QuorumTally(this.weakQuorum)
    this.pacemaker = new Pacemaker(ctx.options)

    const rec = ctx.recovered
    const safetyRecord = rec.hard.get(SAFETY_KEY)
    this.safety = new SafetyRules(GENESIS_QC, safetyRecord === undefined ? undefined : decodeSafetyRecord(safetyRecord))
    let rootOffset = 0
    if (rec.snapshot !== null) {
      const held = decodeSnapshotMeta(rec.snapshot.index, rec.snapshot.meta, rec.snapshot.data)
      this.latestSnapshot = held
      this.tree = new BlockTree(held.block, blockHash(held.block))
      this.executedIndex = held.index
      rootOffset = held.offset
      this.executedRanges.set(this.tree.root.key, { first: held.index - held.offset + 1, last: held.index - held.offset + held.block.commands.length })
    } else {
      this.tree = new BlockTree(GENESIS_BLOCK, GENESIS_HASH)
    }
    this.committedTip = this.tree.root
    if (rootOffset < this.tree.root.block.commands.length) this.execQueue.push({ entry: this.tree.root, offset: rootOffset })
    this.recoverBlocks(rec.log)
    const committed = rec.hard.get(COMMITTED_KEY)
    if (committed !== undefined) {
      const tip = this.tree.get(hashKey(committed))
      if (tip !== undefined) this.commit(tip)
    }
    this.execute()
    this.pacemaker.enter(Math.max(this.safety.lastVotedView, this.safety.highQC.view) + 1, 0)
  }

  // ---- accessors -------------------------------------------------------------------------------------------------

  private get leader(): NodeId {
    return leaderOf(this.pacemaker.curView, this.members)
  }

  status(): ReplicaStatus {
    return {
      role: this.leader === this.id ? 'leader' : 'replica',
      epoch: this.pacemaker.curView,
      leader: this.leader,
      commitIndex: this.executedIndex,
      logSize: this.tree.size,
    }
  }

  /** Inputs refused so far, by reason. */
  dropCounts(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.drops)
  }

  /** Introspection for tests and tools (never used for decisions). */
  debugState(): {
    view: number; lastVotedView: number; lockedQCView: number; highQCView: number; committedHeight: number
    committedHash: string; executedIndex: number; rootHeight: number; mempool: number; consecutiveTimeouts: number
    timeoutTicks: number; snapshotsInstalled: number
  } {
    return {
      view: this.pacemaker.curView, lastVotedView: this.safety.lastVotedView, lockedQCView: this.safety.lockedQC.view,
      highQCView: this.safety.highQC.view, committedHeight: this.committedTip.block.height,
      committedHash: this.committedTip.key, executedIndex: this.executedIndex, rootHeight: this.tree.root.block.height,
      mempool: this.mempool.size, consecutiveTimeouts: this.pacemaker.consecutiveTimeouts,
      timeoutTicks: this.pacemaker.timeoutTicks, snapshotsInstalled: this.snapshotsInstalled,
    }
  }

  /** The committed chain this replica holds above `aboveHeight` (default: from the root), oldest first (tests compare). */
  committedChain(aboveHeight = this.tree.root.block.height - 1): Array<{ height: number; hash: string }> {
    return this.tree.chainAbove(this.committedTip, aboveHeight).reverse()
      .map(e => ({ height: e.block.height, hash: e.key }))
  }

  ready(): Ready<HotStuffMessage> {
    return this.out.take()
  }

  private drop(reason: DropReason, detail = ''): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1)
    if (this.ctx.log.enabled) this.ctx.log('drop %s %s', reason, detail)
  }

  private isMember(id: NodeId): boolean {
    return this.members.includes(id)
  }

  // ---- client requests -------------------------------------------------------------------------------------------

  propose(request: ClientRequest, from: NodeId): void {
    if (!this.clientSigned(request)) return this.drop('bad-client-signature', `client ${request.clientId}`)
    // A client's retry of its last executed command is ordered again so that every replica answers it again (the
    // session table applies it once); anything older has been answered to a client that moved on. A replica's
    // Forward of it is not a retry but a copy that crossed the commit: ordering it again would keep a mempool (and a
    // view timer) busy for ever (test/regressions/hotstuff-executed-command-reordered-forever).
    const executed = this.executedSeq.get(request.clientId) ?? 0
    if (request.seq < executed || (request.seq === executed && from !== request.clientId)) return this.drop('stale-request')
    const key = requestKey(request)
    if (!this.mempool.has(key)) {
      if (this.mempool.size >= MAX_MEMPOOL) return this.drop('mempool-full')
      this.mempool.set(key, request)
    }
    this.maybePropose()
  }

  private clientSigned(r: ClientRequest): boolean {
    const known = this.mempool.get(requestKey(r))
    if (known !== undefined && sameRequest(known, r) && bytesEqual(known.signature, r.signature)) return true
    const key = this.ctx.publicKeyOf(r.clientId)
    if (key === undefined || this.isMember(r.clientId)) return false
    return this.ctx.verifier.verify(key, requestSigningBytes(r), r.signature)
  }

  // ---- dispatch ------------------------------------------------------------------------------------------------------

  receive(from: NodeId, m: HotStuffMessage): void {
    if (!this.isMember(from) || from === this.id) return this.drop('unknown-sender', `from ${from}`)
    switch (m.type) {
      case 'Proposal': return this.onProposal(from, m)
      case 'Vote': return this.onVote(from, m)
      case 'NewView': return this.onNewView(from, m)
      case 'BlockRequest': return this.onBlockRequest(from, m)
      case 'BlockResponse': return this.onBlockResponse(from, m)
      case 'SnapshotRequest': return this.onSnapshotRequest(from, m)
      case 'SnapshotResponse': return this.onSnapshotResponse(from, m)
      case 'Forward': return this.onForward(from, m)
    }
  }

  /**
   * Whether `qc` is a valid certificate. Checked QCs are remembered by their exact bytes (signatures included: a copy
   * of a known QC with forged signatures must not ride on the check of the real one), so each is verified once.
   */
  private validQC(qc: QuorumCert): boolean {
    const key = hashKey(sha256(encodeQC(qc)))
    if (this.verifiedQCs.has(key)) return true
    const error = checkQC(qc, this.members, this.ctx.verifier, this.ctx.publicKeyOf, GENESIS_HASH)
    if (error !== null) {
      this.drop('bad-qc', error)
      return false
    }
    if (this.verifiedQCs.size >= MAX_VERIFIED_QCS) this.verifiedQCs.clear()
    this.verifiedQCs.add(key)
    return true
  }

  // ---- proposals and votes (Algorithm 3) -----------------------------------------------------------------------------

  private onProposal(from: NodeId, p: Proposal): void {
    const b = p.block
    // Proposals may be relayed (a peer helping a laggard): the proposer's signature, not the sender, authenticates.
    if (leaderOf(b.view, this.members) !== b.proposer) return this.drop('not-leader', `proposal for view ${b.view} by ${b.proposer}`)
    if (b.view <= this.tree.root.block.view) return this.drop('stale-proposal', `view ${b.view}`)
    if (b.view > this.pacemaker.curView + MAX_PROPOSAL_VIEWS_AHEAD && b.justify.view + 1 !== b.view) {
      return this.drop('view-too-far', `proposal for view ${b.view} at view ${this.pacemaker.curView}`)
    }
    const hash = blockHash(b)
    if (!verifyProposal(p, hash, this.ctx.verifier, this.ctx.publicKeyOf)) return this.drop('bad-signature', `proposal from ${from}`)
    const seen = this.proposalInView.get(b.view)
    if (seen !== undefined && seen !== hashKey(hash)) return this.drop('conflicting-proposal', `view ${b.view} from ${from}`)
    if (!bytesEqual(b.justify.blockHash, b.parentHash) || b.justify.view >= b.view) return this.drop('bad-block', `view ${b.view}`)
    if (b.commands.length > this.o.maxBatchCount) return this.drop('oversized-block', `${b.commands.length} commands`)
    if (!this.validQC(b.justify)) return
    for (const r of b.commands) if (!this.clientSigned(r)) return this.drop('bad-client-signature', `in block of view ${b.view}`)
    this.acceptProposal(p, hash, from)
  }

  /** The proposal's block, once its parent is held: learn its QC, store it, and vote if the rules allow. */
  private acceptProposal(p: Proposal, hash: Uint8Array, from: NodeId): void {
    const b = p.block
    const parentKey = hashKey(b.parentHash)
    if (!this.tree.has(parentKey)) {
      if (this.pendingProposals.size >= MAX_PENDING_PROPOSALS) this.pendingProposals.clear()
      this.pendingProposals.set(parentKey, p)
      this.want(b.parentHash, from)
      return
    }
    if (!this.insertBlock(b, hash)) return this.drop('bad-block', `height ${b.height} does not follow its parent`)
    const entry = this.tree.get(hashKey(hash))!
    this.proposalInView.set(b.view, entry.key)
    if (this.latestProposal === null || this.latestProposal.block.view < b.view) this.latestProposal = p
    if (this.proposalInView.size > 2 * MAX_PENDING_PROPOSALS) {
      for (const view of this.proposalInView.keys()) if (view < b.view - MAX_PENDING_PROPOSALS) this.proposalInView.delete(view)
    }
    this.onQC(b.justify)
    // A leader's proposal synchronises views: whoever sees it is in its view.
    this.pacemaker.enter(b.view, this.now)
    this.tryVote(entry)
    this.maybePropose()
  }

  /**
   * Vote for `entry` if we never voted in its view or later and safeNode holds; the vote goes to the next view's
   * leader, after lastVotedView (and the block, stored on insertion) are durable.
   */
  private tryVote(entry: StoredBlock): void {
    const view = entry.block.view
    if (!this.safety.mayVoteIn(view)) return
    if (!this.safety.safeNode(this.tree, entry)) return this.drop('unsafe-proposal', `view ${view}`)
    this.safety.recordVote(view)
    this.persistSafety()
    const vote = signVote(this.ctx.signer, view, entry.hash, this.id)
    this.lastVote = vote
    this.pacemaker.enter(view + 1, this.now)
    const next = leaderOf(view + 1, this.members)
    if (next === this.id) this.countVote(vote)
    else this.out.send(next, vote)
  }

  private onVote(from: NodeId, v: Vote): void {
    if (v.replica !== from) return this.drop('sender-mismatch', `vote by ${v.replica} sent by ${from}`)
    if (leaderOf(v.view + 1, this.members) !== this.id) return this.drop('not-leader', `vote for view ${v.view}`)
    if (v.view <= this.safety.highQC.view) return this.drop('stale-vote', `view ${v.view}`)
    if (v.view > this.pacemaker.curView + MAX_VOTE_VIEWS_AHEAD) return this.drop('vote-too-far', `view ${v.view}`)
    if (!verifyVote(v, this.ctx.verifier, this.ctx.publicKeyOf)) return this.drop('bad-signature', `vote from ${from}`)
    this.countVote(v)
    this.maybePropose()
  }

  private countVote(v: Vote): void {
    const key = qcKey(v)
    // One block per voter per view: a faulty voter signing votes for invented blocks must not fill memory (and a vote
    // for a second block in a view is worthless to a correct leader anyway; test/regressions/hotstuff-vote-flood-memory).
    const voterKey = `${v.view}:${v.replica}`
    const prior = this.voteOf.get(voterKey)
    if (prior !== undefined && prior !== key) return this.drop('conflicting-vote', `replica ${v.replica} in view ${v.view}`)
    this.voteOf.set(voterKey, key)
    let byVoter = this.votes.get(key)
    if (byVoter === undefined) {
      byVoter = new Map()
      this.votes.set(key, byVoter)
    }
    if (byVoter.has(v.replica)) return
    byVoter.set(v.replica, v)
    this.voteTally.add(v.replica, key, key)
    if (!this.voteTally.reached(key) || v.view <= this.safety.highQC.view) return
    const qc = formQC(this.voteTally.votersOf(key).slice(0, this.quorum).map(id => byVoter.get(id)!))
    this.verifiedQCs.add(hashKey(sha256(encodeQC(qc))))
    this.onQC(qc)
  }

  /**
   * A valid QC: update highQC, lock on the block its block certifies (two-chain), and commit the three-chain's head
   * when the three blocks are direct parents with consecutive views. A QC for a block we lack waits for the block.
   */
  private onQC(qc: QuorumCert, from: NodeId | null = null): void {
    const b2 = this.tree.get(hashKey(qc.blockHash))
    if (b2 === undefined) {
      if (qc.view > this.safety.highQC.view) {
        if (this.pendingQCs.size >= MAX_WANTED) this.pendingQCs.clear()
        this.pendingQCs.set(hashKey(qc.blockHash), qc)
        this.want(qc.blockHash, from)
      }
      return
    }
    if (this.safety.updateHighQC(qc)) {
      this.pacemaker.progress()
      this.pacemaker.enter(qc.view + 1, this.now)
      this.persistSafety()
      for (const key of this.votes.keys()) {
        const view = Number(key.slice(0, key.indexOf(':')))
        if (view <= qc.view) this.votes.delete(key)
      }
      for (const key of this.voteOf.keys()) if (Number(key.slice(0, key.indexOf(':'))) <= qc.view) this.voteOf.delete(key)
      this.voteTally.clear()
      for (const [key, byVoter] of this.votes) for (const id of byVoter.keys()) this.voteTally.add(id, key, key)
    }
    const b1 = this.tree.parent(b2)
    if (b1 === undefined) return
    if (this.safety.updateLock(b2.block.justify)) this.persistSafety()
    const b0 = this.tree.parent(b1)
    if (b0 === undefined) return
    if (b2.block.view === b1.block.view + 1 && b1.block.view === b0.block.view + 1) this.commit(b0)
  }

  /** The block the three-chain ending in `qc` commits, or null. */
  private commitTarget(qc: QuorumCert): StoredBlock | null {
    const b2 = this.tree.get(hashKey(qc.blockHash))
    const b1 = b2 === undefined ? undefined : this.tree.parent(b2)
    const b0 = b1 === undefined ? undefined : this.tree.parent(b1)
    if (b2 === undefined || b1 === undefined || b0 === undefined) return null
    return b2.block.view === b1.block.view + 1 && b1.block.view === b0.block.view + 1 ? b0 : null
  }

  /** onCommit: `b` and every uncommitted ancestor are decided, in height order. */
  private commit(b: StoredBlock): void {
    if (b.block.height <= this.committedTip.block.height) return
    if (!this.tree.extends(b, this.committedTip)) {
      // Safety is broken (more than f faulty replicas, or a bug): refuse to apply a conflicting history.
      throw new Error(`hotstuff replica ${this.id}: block ${b.key} at height ${b.block.height} conflicts with the ` +
        `committed block ${this.committedTip.key} at height ${this.committedTip.block.height}`)
    }
    const chain = this.tree.chainAbove(b, this.committedTip.block.height).reverse()
    for (const entry of chain) this.execQueue.push({ entry, offset: 0 })
    this.committedTip = b
    this.out.persist({ kind: 'put', key: COMMITTED_KEY, value: b.hash })
    if (this.ctx.log.enabled) this.ctx.log('commit height %d view %d', b.block.height, b.block.view)
    this.execute()
  }

  /** Hand committed commands to the host, one log index each, in height order. */
  private execute(): void {
    while (this.execQueue.length > 0) {
      const cursor = this.execQueue.shift()!
      const commands = cursor.entry.block.commands
      const first = this.executedIndex - cursor.offset + 1
      for (let i = cursor.offset; i < commands.length; i++) {
        const r = commands[i]!
        this.out.commit({ index: ++this.executedIndex, requests: [r] })
        this.mempool.delete(requestKey(r))
        if ((this.executedSeq.get(r.clientId) ?? 0) < r.seq) this.executedSeq.set(r.clientId, r.seq)
      }
      if (commands.length > 0) this.executedRanges.set(cursor.entry.key, { first, last: first + commands.length - 1 })
    }
  }

  // ---- leading -------------------------------------------------------------------------------------------------------

  /**
   * As the leader of the current view, propose once we may (a QC for the previous view, or 2f+1 NEW-VIEWs for this
   * one) and there is something to do: commands waiting, or blocks with commands whose commit not every replica can
   * know yet. An idle cluster therefore stops after the three-chain of its last command block is out.
   */
  private maybePropose(): void {
    const view = this.pacemaker.curView
    // Never twice in a view, not even across a restart: our own proposal's vote made lastVotedView durable.
    if (leaderOf(view, this.members) !== this.id || this.proposedView >= view || this.safety.lastVotedView >= view) return
    const afterTimeouts = this.pacemaker.countAtOrAbove(view) >= this.quorum
    if (afterTimeouts) {
      const best = this.pacemaker.highestQC(view)
      if (best !== null) this.onQC(best)
    }
    if (this.safety.highQC.view !== view - 1 && !afterTimeouts) return
    const parent = this.tree.get(hashKey(this.safety.highQC.blockHash))
    // We must extend our highest QC's block: fetch it if we lack it (lost with a snapshot install, or recovered
    // without it), or this leader could never propose (test/regressions/hotstuff-missing-highqc-block-never-fetched).
    if (parent === undefined) return this.want(this.safety.highQC.blockHash, null)
    const batch = this.buildBatch(parent)
    if (batch.length === 0 && !afterTimeouts && !this.commitNotYetShared(parent)) return
    const block: Block = {
      view, height: parent.block.height + 1, parentHash: parent.hash, justify: this.safety.highQC, proposer: this.id, commands: batch,
    }
    const proposal = signProposal(this.ctx.signer, block)
    const hash = blockHash(block)
    this.proposedView = view
    if (this.ctx.log.enabled) this.ctx.log('propose view %d height %d [%s]', view, block.height, batch.map(requestKey).join(' '))
    if (!this.insertBlock(block, hash)) return
    this.out.broadcast(this.members, this.id, proposal)
    const entry = this.tree.get(hashKey(hash))!
    this.proposalInView.set(view, entry.key)
    this.tryVote(entry)
  }

  /** Commands from the mempool that the chain ending at `parent` does not already carry, within the batch limits. */
  private buildBatch(parent: StoredBlock): ClientRequest[] {
    if (this.mempool.size === 0) return []
    const inChain = new Set<string>()
    for (const e of this.tree.chainAbove(parent, this.committedTip.block.height)) for (const r of e.block.commands) inChain.add(requestKey(r))
    const batch: ClientRequest[] = []
    let bytes = 0
    for (const [key, r] of this.mempool) {
      if (batch.length >= this.o.maxBatchCount) break
      if (inChain.has(key) || r.seq < (this.executedSeq.get(r.clientId) ?? 0)) continue
      const size = requestSize(r)
      if (batch.length > 0 && bytes + size > this.o.maxBatchBytes) break
      batch.push(r)
      bytes += size
    }
    return batch
  }

  /**
   * Whether some block with commands on the chain ending at `tip` (the highQC block) is not yet known committed by
   * every replica: replicas learn commits from the justify of the blocks they receive, so the last commit they can
   * know of is the one the three-chain of tip's own justify decides (or an earlier block's).
   */
  private commitNotYetShared(tip: StoredBlock): boolean {
    let known: StoredBlock = this.tree.root
    for (let at: StoredBlock | undefined = tip; at !== undefined && at.block.height > this.tree.root.block.height; at = this.tree.parent(at)) {
      const target = this.commitTarget(at.block.justify)
      if (target !== null) {
        known = target
        break
      }
    }
    for (const e of this.tree.chainAbove(tip, known.block.height)) if (e.block.commands.length > 0) return true
    return false
  }

  /** Up to a batch of mempool commands, oldest first (what a timed-out replica passes on). */
  private pendingCommands(): ClientRequest[] {
    const out: ClientRequest[] = []
    for (const r of this.mempool.values()) {
      if (out.length >= this.o.maxBatchCount) break
      out.push(r)
    }
    return out
  }

  /** Work pending here: what keeps the view timer running. */
  private hasWork(): boolean {
    if (this.mempool.size > 0 || this.pendingProposals.size > 0) return true
    const high = this.tree.get(hashKey(this.safety.highQC.blockHash))
    if (high === undefined) return this.pendingQCs.size > 0
    for (const e of this.tree.chainAbove(high, this.committedTip.block.height)) if (e.block.commands.length > 0) return true
    return false
  }

  // ---- pacemaker -----------------------------------------------------------------------------------------------------

  tick(): void {
    this.now++
    if (this.pacemaker.tick(this.now, this.hasWork())) {
      if (this.ctx.log.enabled) this.ctx.log('tick %d: timeout, to view %d', this.now, this.pacemaker.curView)
      this.sendNewView()
    }
    if (this.now % this.o.retransmitTicks === 0) this.retryFetches()
  }

  private sendNewView(): void {
    const nv = signNewView(this.ctx.signer, this.pacemaker.curView, this.safety.highQC, this.lastVote, this.id)
    if (this.lastVote !== null) this.countVote(this.lastVote)
    this.pacemaker.record(nv)
    this.out.broadcast(this.members, this.id, nv)
    const pending = this.pendingCommands()
    if (pending.length > 0) this.out.broadcast(this.members, this.id, { type: 'Forward', requests: pending })
    this.maybePropose()
  }

  private onNewView(from: NodeId, m: NewView): void {
    if (m.replica !== from) return this.drop('sender-mismatch', `new-view by ${m.replica} sent by ${from}`)
    // A sender whose highest QC is older than ours missed proposals (a partition, a crash): show it the latest one;
    // from its justify it learns our QC and the commits, and fetches the blocks it lacks. (Unauthenticated help is
    // harmless: the proposal proves itself.)
    if (m.highQC.view < this.safety.highQC.view) this.helpLaggard(from)
    // Cheap checks first: signatures dominate the cost, and timed-out replicas repeat themselves.
    if (m.view <= this.safety.highQC.view) return this.drop('stale-new-view', `view ${m.view}`)
    if (m.view <= this.pacemaker.knownView(from)) return
    if (!verifyNewView(m, this.ctx.verifier, this.ctx.publicKeyOf)) return this.drop('bad-signature', `new-view from ${from}`)
    if (!this.validQC(m.highQC)) return
    this.pacemaker.record(m)
    this.onQC(m.highQC, from)
    // The vote a failed leader never used: the new view's leader counts it towards that block's QC.
    const v = m.lastVote
    if (v !== null && leaderOf(m.view, this.members) === this.id && v.replica === from && v.view > this.safety.highQC.view &&
      v.view <= this.pacemaker.curView + MAX_VOTE_VIEWS_AHEAD && this.votes.get(qcKey(v))?.has(from) !== true) {
      if (verifyVote(v, this.ctx.verifier, this.ctx.publicKeyOf)) this.countVote(v)
      else this.drop('bad-signature', `vote inside a new-view from ${from}`)
    }
    const target = this.pacemaker.joinTarget(this.id, this.weakQuorum)
    if (target !== null && this.pacemaker.enter(target, this.now)) {
      if (this.ctx.log.enabled) this.ctx.log('join view %d (f+1 replicas are there)', target)
      this.sendNewView()
      return
    }
    this.maybePropose()
  }

  private helpLaggard(peer: NodeId): void {
    const p = this.latestProposal
    const last = this.lastHelpAt.get(peer)
    if (p === null || (last !== undefined && this.now - last < this.o.retransmitTicks)) return
    this.lastHelpAt.set(peer, this.now)
    this.out.send(peer, p)
  }

  private onForward(from: NodeId, m: Forward): void {
    if (m.requests.length > this.o.maxBatchCount) return this.drop('oversized-block', `forward of ${m.requests.length} from ${from}`)
    for (const r of m.requests) this.propose(r, from)
  }

  // ---- blocks: storage and fetching ----------------------------------------------------------------------------------

  /** Add a block whose parent we hold, make it durable, and let what waited for it proceed. */
  private insertBlock(b: Block, hash: Uint8Array): boolean {
    const key = hashKey(hash)
    if (this.tree.has(key)) return true
    if (!this.tree.insert(b, hash)) return false
    this.persistBlock(key, b)
    this.wanted.delete(key)
    const children = this.orphans.get(key)
    if (children !== undefined) {
      this.orphans.delete(key)
      this.orphanCount -= children.length
      for (const c of children) this.insertBlock(c, blockHash(c))
    }
    const qc = this.pendingQCs.get(key)
    if (qc !== undefined) {
      this.pendingQCs.delete(key)
      this.onQC(qc)
    }
    const proposal = this.pendingProposals.get(key)
    if (proposal !== undefined) {
      this.pendingProposals.delete(key)
      this.acceptProposal(proposal, blockHash(proposal.block), proposal.block.proposer)
    }
    return true
  }

  /**
   * Ask for a certified block we miss (its hash comes from a verified QC or a certified child). With `send` false it
   * is only marked wanted: the response being read carries it next.
   */
  private want(hash: Uint8Array, from: NodeId | null, send = true): void {
    const key = hashKey(hash)
    if (this.wanted.has(key) || this.tree.has(key)) return
    if (this.wanted.size >= MAX_WANTED) return this.drop('fetch-full')
    const peer = from !== null && from !== this.id && this.isMember(from) ? from : this.nextPeer(this.id)
    this.wanted.set(key, { hash, askedAt: this.now, attempts: 1, peer })
    if (send) this.out.send(peer, { type: 'BlockRequest', hash })
  }

  private nextPeer(after: NodeId): NodeId {
    const i = this.members.indexOf(after)
    let next = this.members[(i + 1) % this.members.length]!
    if (next === this.id) next = this.members[(i + 2) % this.members.length]!
    return next
  }

  private retryFetches(): void {
    for (const [key, w] of this.wanted) {
      if (this.now - w.askedAt < this.o.retransmitTicks) continue
      // Every peer asked and none had it: they compacted it away (or it was a fork nobody kept), so catch up from a
      // snapshot and stop asking; a later proposal that needs it asks again.
      if (w.attempts >= this.members.length - 1) {
        this.wanted.delete(key)
        this.requestSnapshot()
        continue
      }
      w.askedAt = this.now
      w.attempts++
      w.peer = this.nextPeer(w.peer)
      this.out.send(w.peer, { type: 'BlockRequest', hash: w.hash })
    }
  }

  private onBlockRequest(from: NodeId, m: BlockRequest): void {
    const entry = this.tree.get(hashKey(m.hash))
    const blocks: Block[] = []
    for (let at = entry; at !== undefined && blocks.length < MAX_BLOCKS_PER_RESPONSE; at = this.tree.parent(at)) blocks.push(at.block)
    this.out.send(from, { type: 'BlockResponse', hash: m.hash, blocks })
  }

  /**
   * Blocks we asked for: each is accepted only if its hash is one we want (certified), and it makes its parent
   * wanted in turn (the parent's hash is inside a certified block, so it is certified too).
   */
  private onBlockResponse(from: NodeId, m: BlockResponse): void {
    const key = hashKey(m.hash)
    if (!this.wanted.has(key)) return this.drop('unwanted-block', `from ${from}`)
    if (m.blocks.length === 0) {
      // The peer does not hold it: most likely compacted below its snapshot.
      this.requestSnapshot()
      return
    }
    let missingParent: Uint8Array | null = null
    for (const b of m.blocks) {
      missingParent = null
      const hash = blockHash(b)
      const k = hashKey(hash)
      if (this.tree.has(k)) break
      if (!this.wanted.has(k)) return this.drop('hash-mismatch', `block from ${from} is not the one asked for`)
      if (!bytesEqual(b.justify.blockHash, b.parentHash) || b.justify.view >= b.view) return this.drop('bad-block', `fetched from ${from}`)
      if (this.tree.has(hashKey(b.parentHash))) {
        if (!this.insertBlock(b, hash)) return this.drop('bad-block', `fetched from ${from} does not follow its parent`)
        break
      }
      if (b.height <= this.tree.root.block.height) return this.drop('bad-block', `fetched below the root from ${from}`)
      this.wanted.delete(k)
      this.addOrphan(b)
      // The response's next block should be this parent: ask for it only if the response ends here.
      this.want(b.parentHash, from, false)
      missingParent = b.parentHash
    }
    const stillMissing = missingParent === null ? undefined : this.wanted.get(hashKey(missingParent))
    if (stillMissing !== undefined) this.out.send(stillMissing.peer, { type: 'BlockRequest', hash: stillMissing.hash })
    this.maybePropose()
  }

  private addOrphan(b: Block): void {
    if (this.orphanCount >= MAX_ORPHANS) {
      this.orphans.clear()
      this.orphanCount = 0
      this.requestSnapshot()
    }
    const parentKey = hashKey(b.parentHash)
    const list = this.orphans.get(parentKey)
    if (list === undefined) this.orphans.set(parentKey, [b])
    else list.push(b)
    this.orphanCount++
  }

  private recoverBlocks(log: ReadonlyArray<{ readonly index: number; readonly value: Uint8Array }>): void {
    const blocks: Array<{ block: Block; slot: number }> = []
    for (const { index, value } of log) {
      if (index < BLOCK_RECORD_BASE) continue
      blocks.push({ block: decodeBlock(value), slot: index })
      this.nextBlockSlot = Math.max(this.nextBlockSlot, index + 1)
    }
    blocks.sort((a, b) => a.block.height - b.block.height)
    for (const { block, slot } of blocks) {
      const hash = blockHash(block)
      const key = hashKey(hash)
      // A block pruned before the crash whose forget was not yet durable, or a second record of the root: drop it now.
      if (this.blockSlots.has(key) || !this.tree.insert(block, hash)) this.out.persist({ kind: 'forget', index: slot })
      else this.blockSlots.set(key, slot)
    }
  }

  /** Make a block of the tree durable in a slot of its own. */
  private persistBlock(key: string, b: Block): void {
    const slot = this.nextBlockSlot++
    this.blockSlots.set(key, slot)
    this.out.persist({ kind: 'entry', index: slot, value: encodeBlock(b) })
  }

  /** Blocks left the tree: their records go too. */
  private forgetBlocks(keys: readonly string[]): void {
    for (const key of keys) {
      const slot = this.blockSlots.get(key)
      if (slot === undefined) continue
      this.blockSlots.delete(key)
      this.out.persist({ kind: 'forget', index: slot })
    }
  }

  // ---- snapshots and state transfer ----------------------------------------------------------------------------------

  /**
   * The host snapshotted after applying `index`: remember it (to serve laggards), make it durable with the block
   * holding that index, and prune every block below that block.
   */
  snapshotTaken(index: number, data: Uint8Array): void {
    let holder: StoredBlock | undefined
    for (const [key, range] of this.executedRanges) {
      if (range.first <= index && index <= range.last) { holder = this.tree.get(key); break }
    }
    if (holder === undefined) return
    const range = this.executedRanges.get(holder.key)!
    const held: HeldSnapshot = { index, offset: index - range.first + 1, block: holder.block, data }
    this.latestSnapshot = held
    this.out.persist({ kind: 'snapshot', index, meta: encodeSnapshotMeta(held), data })
    this.pruneTo(holder)
  }

  private pruneTo(root: StoredBlock): void {
    if (root.block.height <= this.tree.root.block.height) return
    this.forgetBlocks(this.tree.prune(root))
    for (const key of this.executedRanges.keys()) if (!this.tree.has(key)) this.executedRanges.delete(key)
    for (const view of this.proposalInView.keys()) if (view < root.block.view) this.proposalInView.delete(view)
  }

  private requestSnapshot(): void {
    if (this.now - this.lastSnapshotRequestAt < this.o.retransmitTicks) return
    this.lastSnapshotRequestAt = this.now
    this.out.broadcast(this.members, this.id, { type: 'SnapshotRequest', index: this.executedIndex })
  }

  private onSnapshotRequest(from: NodeId, m: SnapshotRequest): void {
    const s = this.latestSnapshot
    if (s === null || s.index <= m.index) return
    const last = this.lastSnapshotSentTo.get(from)
    if (last !== undefined && this.now - last < this.o.retransmitTicks) return this.drop('rate-limited', `snapshot for ${from}`)
    this.lastSnapshotSentTo.set(from, this.now)
    this.out.send(from, { type: 'SnapshotResponse', index: s.index, offset: s.offset, block: s.block, data: s.data })
  }

  /**
   * A snapshot is installed once f+1 replicas sent the same one (same index, block, offset and state digest): at
   * least one of them is correct, so it is the committed state after `index`.
   */
  private onSnapshotResponse(from: NodeId, m: SnapshotResponse): void {
    if (m.index <= this.executedIndex) return this.drop('stale-snapshot', `index ${m.index}`)
    if (m.offset < 1 || m.offset > m.block.commands.length) return this.drop('bad-snapshot', `offset ${m.offset}`)
    const hash = blockHash(m.block)
    const key = `${m.index}:${m.offset}:${hashKey(hash)}:${hashKey(sha256(m.data))}`
    this.snapshotTally.add(from, key, m)
    if (!this.snapshotTally.reached(key)) return
    this.snapshotTally = new QuorumTally(this.weakQuorum)
    if (this.ctx.log.enabled) this.ctx.log('install snapshot at %d (height %d)', m.index, m.block.height)
    this.out.installSnapshot(m.index, m.data)
    this.snapshotsInstalled++
    this.execQueue.length = 0
    const inTree = this.tree.get(hashKey(hash))
    if (inTree !== undefined) this.pruneTo(inTree)
    else {
      this.forgetBlocks(this.tree.reset(m.block, hash))
      this.executedRanges.clear()
      this.wanted.clear()
      this.orphans.clear()
      this.orphanCount = 0
    }
    const root = this.tree.root
    this.executedIndex = m.index
    this.committedTip = root
    this.executedRanges.set(root.key, { first: m.index - m.offset + 1, last: m.index - m.offset + m.block.commands.length })
    const held: HeldSnapshot = { index: m.index, offset: m.offset, block: m.block, data: m.data }
    this.latestSnapshot = held
    this.out.persist({ kind: 'snapshot', index: m.index, meta: encodeSnapshotMeta(held), data: m.data })
    if (!this.blockSlots.has(root.key)) this.persistBlock(root.key, m.block)
    this.out.persist({ kind: 'put', key: COMMITTED_KEY, value: hash })
    if (m.offset < m.block.commands.length) this.execQueue.push({ entry: root, offset: m.offset })
    this.execute()
    // Whatever waited for the root (or a block we now hold) can proceed.
    const waiting = this.pendingProposals.get(root.key)
    if (waiting !== undefined) {
      this.pendingProposals.delete(root.key)
      this.acceptProposal(waiting, blockHash(waiting.block), waiting.block.proposer)
    }
    const qc = this.pendingQCs.get(root.key)
    if (qc !== undefined) {
      this.pendingQCs.delete(root.key)
      this.onQC(qc)
    }
    this.maybePropose()
  }

  // ---- persistence ---------------------------------------------------------------------------------------------------

  private persistSafety(): void {
    this.out.persist({ kind: 'put', key: SAFETY_KEY, value: encodeSafetyRecord(this.safety.record()) })
  }
}

/** Snapshot meta: how many commands of the holding block it covers, and that block. */
export function encodeSnapshotMeta(s: { readonly offset: number; readonly block: Block }): Uint8Array {
  const w = new BinaryWriter(256)
  w.uvarint(s.offset)
  writeBlock(w, s.block)
  return w.finish()
}

function decodeSnapshotMeta(index: number, meta: Uint8Array, data: Uint8Array): HeldSnapshot {
  const r = new BinaryReader(meta, 'HotStuff snapshot meta')
  const offset = r.uvarint()
  const block = readBlock(r)
  r.end()
  return { index, offset, block, data }
}

export function createHotStuffReplica(ctx: HotStuffContext): HotStuffReplica {
  return new HotStuffReplica(ctx)
}
