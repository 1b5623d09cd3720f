/**
 * Messages a replica has already found valid, remembered by object identity, so that a message it meets again is not
 * encoded and verified again: a retransmitted VIEW-CHANGE, the VIEW-CHANGEs inside a NEW-VIEW (the new primary's own
 * included, checked as it builds it), and the PRE-PREPAREs and PREPAREs repeated in every prepared certificate that
 * carries them. In a view-change storm these checks were most of the simulator's time (every VIEW-CHANGE carries up
 * to a window of certificates, each signature re-encoded per check).
 *
 * Only objects are remembered, never bytes, so a message decoded afresh (every frame off a real network, and in the
 * simulator every frame from a Byzantine sender) is checked in full: the shortcut only ever says what checking the
 * same object again would say. That holds because a signed message is immutable (its fields are readonly, and the
 * simulator's hand-over of decoded messages already relies on no receiver changing what it is given), and because a
 * check depends only on the message and on the cluster (members, quorum, window, keys), which are fixed for the
 * replica's life. Weak sets: remembering a message keeps nothing alive.
 */
import type { Verifier } from '../../core/signer.ts'
import type { NodeId } from '../../core/types.ts'
import type { SignedMessage, ViewChange } from './messages.ts'
import { verifySignature } from './signing.ts'

export class CheckedMessages {
  private readonly signed = new WeakSet<SignedMessage>()
  private readonly validViewChanges = new WeakSet<ViewChange>()
  private readonly verifier: Verifier
  private readonly publicKeyOf: (id: NodeId) => Uint8Array | undefined

  constructor(verifier: Verifier, publicKeyOf: (id: NodeId) => Uint8Array | undefined) {
    this.verifier = verifier
    this.publicKeyOf = publicKeyOf
  }

  /** verifySignature, answered from memory for a message object that verified here before. */
  verify(m: SignedMessage): boolean {
    if (this.signed.has(m)) return true
    if (!verifySignature(m, this.verifier, this.publicKeyOf)) return false
    this.signed.add(m)
    return true
  }

  /** Whether this VIEW-CHANGE object passed checkViewChange here before. */
  isValidViewChange(vc: ViewChange): boolean {
    return this.validViewChanges.has(vc)
  }

  rememberValidViewChange(vc: ViewChange): void {
    this.validViewChanges.add(vc)
  }
}
