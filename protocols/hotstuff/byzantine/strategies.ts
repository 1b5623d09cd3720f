/**
 * Byzantine strategies, each a set of hooks around an honest replica (wrapper.ts). They sign with the faulty replica's
 * own key (a Byzantine replica has it); correct replicas must neither lose safety nor, once the faulty replica's views
 * have timed out, liveness.
 */
import type { NodeId } from '../../../core/types.ts'
import type { HotStuffContext } from '../options.ts'
import type { Block, HotStuffMessage } from '../messages.ts'
import { leaderOf } from '../pacemaker.ts'
import { blockHash, sha256, signProposal, signVote } from '../signing.ts'
import type { ByzantineHooks as GenericHooks } from '../../../core/byzantine-replica.ts'

/** A strategy: hooks around an honest hotstuff replica (core/byzantine-replica.ts). */
export type ByzantineHooks = GenericHooks<HotStuffMessage>

/** Say nothing at all (a crash that keeps its state), and hand nothing to the host to apply or answer. */
export function silent(): ByzantineHooks {
  return {
    rewrite: r => ({ ...r, messages: [], committed: [], replies: [], installSnapshot: null }),
  }
}

/**
 * As leader, send one block to the replicas at even positions and a different one (same view, parent and justify,
 * other commands: reversed, or none) to the others, both validly signed: no two conflicting blocks may gather a QC
 * each, and the commands must still commit once a correct leader takes over.
 */
export function equivocate(ctx: HotStuffContext): ByzantineHooks {
  return {
    rewrite: r => {
      const messages = r.messages.map(({ to, message }) => {
        if (message.type !== 'Proposal' || message.block.proposer !== ctx.id) return { to, message }
        if (ctx.members.indexOf(to) % 2 === 0 || message.block.commands.length === 0) return { to, message }
        const b = message.block
        const other: Block = { ...b, commands: b.commands.length > 1 ? [...b.commands].reverse() : [] }
        return { to, message: signProposal(ctx.signer, other) as HotStuffMessage }
      })
      return { ...r, messages }
    },
  }
}

/**
 * Vote for everything, twice: for every proposal it sees (lock and lastVotedView ignored, so also for conflicting
 * blocks in one view) and, beside each of its own votes, for an invented block of the same view. A QC needs n - f
 * distinct signers, so these votes add at most one to any block's count.
 */
export function conflictingVotes(ctx: HotStuffContext): ByzantineHooks {
  const extra: Array<{ to: NodeId; message: HotStuffMessage }> = []
  return {
    acceptMessage: (_from, m) => {
      if (m.type !== 'Proposal') return
      const next = leaderOf(m.block.view + 1, ctx.members)
      extra.push({ to: next, message: signVote(ctx.signer, m.block.view, blockHash(m.block), ctx.id) })
    },
    rewrite: r => {
      const messages = [...r.messages, ...extra]
      extra.length = 0
      for (const { to, message } of r.messages) {
        if (message.type !== 'Vote' || message.replica !== ctx.id) continue
        const invented = sha256(new Uint8Array([...message.blockHash, 0x42]))
        messages.push({ to, message: signVote(ctx.signer, message.view, invented, ctx.id) })
      }
      return { ...r, messages }
    },
  }
}

/**
 * As leader, propose nothing: the QC it formed from the previous view's votes never leaves it, so the chain stalls
 * until the replicas time out of its view and the next leader proposes from the highest QC the NEW-VIEWs carry.
 */
export function withholdQC(ctx: HotStuffContext): ByzantineHooks {
  return {
    rewrite: r => ({
      ...r,
      messages: r.messages.filter(({ message }) => message.type !== 'Proposal' || message.block.proposer !== ctx.id),
    }),
  }
}
