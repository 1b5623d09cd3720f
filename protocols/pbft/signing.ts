/**
 * What each replica signs. The signing bytes are a canonical, domain-separated encoding that binds the message type,
 * view, sequence number, digest and sender, so a signature over one message can never be replayed as another kind of
 * message, for another view or slot, or as coming from another replica. Batches are covered through their digest
 * (backups recompute it), snapshots through their state digest; VIEW-CHANGE and NEW-VIEW sign their whole encoded body,
 * which already contains the signed certificates it carries.
 */
import { BinaryWriter } from '../../core/codec/binary.ts'
import type { Signer, Verifier } from '../../core/signer.ts'
import type { NodeId } from '../../core/types.ts'
import { stateDigest } from './digest.ts'
import {
  MESSAGE_TYPES, writeNewViewBody, writeViewChangeBody,
  type NewView, type PbftMessageType, type SignedMessage,
} from './messages.ts'

const DOMAIN = 'consensus/pbft/v1'

function header(type: PbftMessageType): BinaryWriter {
  const w = new BinaryWriter(96)
  w.string(DOMAIN).u8(MESSAGE_TYPES.indexOf(type))
  return w
}

export function signingBytes(m: SignedMessage): Uint8Array {
  const w = header(m.type)
  switch (m.type) {
    case 'PrePrepare': case 'Prepare': case 'Commit':
      w.uvarint(m.view).uvarint(m.seq).raw(m.digest).uvarint(m.replica)
      break
    case 'Checkpoint':
      w.uvarint(m.seq).raw(m.stateDigest).uvarint(m.replica)
      break
    case 'ViewChange':
      writeViewChangeBody(w, m)
      break
    case 'NewView':
      writeNewViewBody(w, m as NewView)
      break
    case 'StateRequest':
      w.uvarint(m.seq).uvarint(m.replica)
      break
    case 'StateTransfer':
      w.uvarint(m.seq).raw(stateDigest(m.data)).uvarint(m.replica)
      break
  }
  return w.finish()
}

/** The message with its `signature` set by `signer` (which must be the key of `m.replica`). */
export function sign<T extends SignedMessage>(signer: Signer, m: T): T {
  return { ...m, signature: signer.sign(signingBytes(m)) }
}

/** true when `m.signature` is `m.replica`'s valid signature; unknown senders never verify. */
export function verifySignature(
  m: SignedMessage, verifier: Verifier, publicKeyOf: (id: NodeId) => Uint8Array | undefined,
): boolean {
  const key = publicKeyOf(m.replica)
  if (key === undefined) return false
  return verifier.verify(key, signingBytes(m), m.signature)
}
