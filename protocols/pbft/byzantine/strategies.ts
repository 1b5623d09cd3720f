/**
 * Byzantine strategies, each a set of hooks around an honest replica (wrapper.ts). They sign with the faulty
 * replica's own key (a Byzantine replica has it) and forge everything else, which correct replicas must reject.
 */
import type { Ready } from '../../../core/protocol.ts'
import type { PbftContext } from '../options.ts'
import type { Rng } from '../../../core/random.ts'
import type { ClientRequest, NodeId } from '../../../core/types.ts'
import { batchDigest, NULL_DIGEST } from '../digest.ts'
import type { PbftMessage, Prepare, PrePrepare, SignedMessage, ViewChange } from '../messages.ts'
import { sign } from '../signing.ts'
import { primaryOf } from '../view-change.ts'
import type { ByzantineHooks as GenericHooks } from '../../../core/byzantine-replica.ts'

/** A strategy: hooks around an honest pbft replica (core/byzantine-replica.ts). */
export type ByzantineHooks = GenericHooks<PbftMessage>

const EMPTY = new Uint8Array(0)

export interface ByzantineOptions {
  /** censor: which clients' requests the replica drops (default: clients with even ids). */
  readonly censored?: (clientId: NodeId) => boolean
}

/** Say nothing at all (a crash that keeps its state), and hand nothing to the host to apply or answer. */
export function silent(): ByzantineHooks {
  return {
    rewrite: r => ({ ...r, messages: [], committed: [], replies: [], installSnapshot: null }),
  }
}

/**
 * As primary, send one batch to half of the backups and another (reversed, or the null request) to the other half,
 * both validly signed: backups must never prepare two batches at one seq, and a view change must resolve it.
 */
export function equivocate(ctx: PbftContext): ByzantineHooks {
  return {
    rewrite: r => {
      const messages = r.messages.map(({ to, message }) => {
        if (message.type !== 'PrePrepare' || message.replica !== ctx.id) return { to, message }
        if (ctx.members.indexOf(to) % 2 === 0) return { to, message }
        const batch: ClientRequest[] = message.batch.length > 1 ? [...message.batch].reverse() : []
        const forged = sign(ctx.signer, { ...message, batch, digest: batchDigest(batch) })
        return { to, message: forged as PbftMessage }
      })
      return { ...r, messages }
    },
  }
}

/** Corrupt every signature (flipped bits, wrong length, or another message's signature). */
export function badSignature(rng: Rng): ByzantineHooks {
  return {
    rewrite: r => ({
      ...r,
      messages: r.messages.map(({ to, message }) => {
        if (message.type === 'Forward') return { to, message }
        const sig = message.signature
        const choice = rng.int(3)
        const bad = choice === 0 ? flipBit(sig) : choice === 1 ? sig.subarray(0, 32) : new Uint8Array(64).fill(7)
        return { to, message: { ...message, signature: bad } as PbftMessage }
      }),
    }),
  }
}

function flipBit(sig: Uint8Array): Uint8Array {
  const out = sig.slice()
  if (out.length > 0) out[out.length >> 1]! ^= 0x10
  return out
}

/**
 * Behave honestly, but keep what it saw and sent and replay old messages (older views, old slots, other senders'
 * messages) at random peers: correct replicas must treat them as stale duplicates.
 */
export function replay(ctx: PbftContext, rng: Rng): ByzantineHooks {
  const seen: SignedMessage[] = []
  const remember = (m: PbftMessage): void => {
    if (m.type === 'Forward') return
    if (seen.length >= 512) seen.splice(rng.int(seen.length), 1)
    seen.push(m)
  }
  const peers = ctx.members.filter(id => id !== ctx.id)
  return {
    acceptMessage: (_from, m) => { remember(m) },
    rewrite: r => {
      for (const { message } of r.messages) remember(message)
      return r
    },
    onTick: emit => {
      if (seen.length === 0 || !rng.chance(0.5)) return
      for (let i = 0; i < 3; i++) emit(peers[rng.int(peers.length)]!, seen[rng.int(seen.length)]!)
    },
  }
}

/** As primary (and as a backup that would forward), drop the requests of the censored clients. */
export function censor(options: ByzantineOptions): ByzantineHooks {
  const censored = options.censored ?? ((id: NodeId) => id % 2 === 0)
  return { acceptRequest: request => !censored(request.clientId) }
}

/**
 * Lie in view changes: report a forged prepared certificate (a batch "prepared" in the previous view, with prepares
 * the replica signed itself under other replicas' names) instead of what really prepared; as the new primary, send a
 * NEW-VIEW whose O differs from what V implies (a prepared batch replaced by the null request, or an invented one).
 * As the primary of a view it orders nothing, so view changes happen and the lies are put to the test.
 */
export function lyingViewChange(ctx: PbftContext): ByzantineHooks {
  const lieAbout = (vc: ViewChange): ViewChange => {
    const seq = vc.stableSeq + 1
    const view = Math.max(0, vc.newView - 1)
    const batch: ClientRequest[] = []
    const digest = batchDigest([{ clientId: 4242, seq: 1, readOnly: false, op: new Uint8Array([1, 2, 3]), signature: new Uint8Array(64) }])
    const prePrepare: PrePrepare = sign(ctx.signer, {
      type: 'PrePrepare', view, seq, digest, batch, replica: primaryOf(view, ctx.members), signature: EMPTY,
    })
    const prepares: Prepare[] = ctx.members.filter(id => id !== prePrepare.replica).map(id => sign(ctx.signer, {
      type: 'Prepare' as const, view, seq, digest, replica: id, signature: EMPTY,
    }))
    return sign(ctx.signer, { ...vc, prepared: [{ prePrepare, prepares }] })
  }
  return {
    rewrite: (r: Ready<PbftMessage>) => ({
      ...r,
      // As primary of a normal view it orders nothing, so that view changes (where it lies) keep happening.
      messages: r.messages.filter(({ message }) => message.type !== 'PrePrepare' || message.replica !== ctx.id).map(({ to, message }) => {
        if (message.type === 'ViewChange' && message.replica === ctx.id) return { to, message: lieAbout(message) }
        if (message.type === 'NewView' && message.replica === ctx.id) {
          const prePrepares = [...message.prePrepares]
          const first = prePrepares[0]
          if (first !== undefined && first.batch.length > 0) {
            prePrepares[0] = sign(ctx.signer, { ...first, batch: [], digest: NULL_DIGEST })
          } else {
            const seq = (prePrepares.at(-1)?.seq ?? message.viewChanges.reduce((m, v) => Math.max(m, v.stableSeq), 0)) + 1
            prePrepares.push(sign(ctx.signer, {
              type: 'PrePrepare', view: message.view, seq, digest: NULL_DIGEST, batch: [], replica: ctx.id, signature: EMPTY,
            }))
          }
          return { to, message: sign(ctx.signer, { ...message, prePrepares }) }
        }
        return { to, message }
      }),
    }),
  }
}

/**
 * Ask for far-future views: besides behaving honestly, every few ticks send every peer a valid VIEW-CHANGE (own
 * signature, initial checkpoint, nothing prepared) for a view far above the current one, a new one each time. Correct
 * replicas must neither follow it there (the f+1 rule) nor keep an unbounded number of them.
 */
export function futureViewChange(ctx: PbftContext, currentView: () => number): ByzantineHooks {
  let ticks = 0
  let next = 1000
  return {
    onTick: emit => {
      if (++ticks % 10 !== 0) return
      const vc: ViewChange = sign(ctx.signer, {
        type: 'ViewChange', newView: currentView() + next, stableSeq: 0, checkpointProof: [], prepared: [],
        replica: ctx.id, signature: EMPTY,
      })
      next += 1000
      for (const id of ctx.members) if (id !== ctx.id) emit(id, vc)
    },
  }
}
