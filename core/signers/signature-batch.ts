/**
 * Batch signatures (Merkle-tree signing): one signature covers many messages. A client with many requests in flight
 * signs the ones it starts in one event-loop turn together, and the replica that checks them pays one signature
 * verification for the lot instead of one per request (on this project's machines a node:crypto Ed25519 verification
 * costs 60-210 us, a SHA-256 of a few hundred bytes about 1 us).
 *
 * The signer hashes each message to a leaf, builds a binary hash tree over the leaves (padded with zero hashes to a
 * power of two), and signs the root once. Each message's signature is that root signature followed by the message's
 * path to the root: the tree's depth, the message's index, and one sibling hash per level. A verifier recomputes the
 * root from the message and its path, checks the root's signature with the plain verifier, and remembers roots that
 * verified, so the batch's other messages cost it hashing only.
 *
 * Why it is as unforgeable as the signature under it: a batch signature verifies only when the key holder signed a root
 * that commits (SHA-256 collision resistance) to exactly this message at this position. Leaves and inner nodes are
 * hashed under different prefixes, so a leaf cannot pose as an inner node nor the reverse, and the root is signed under
 * its own domain string, distinct from every plain message this project signs (those each begin with their own domain
 * string in the same length-prefixed form), so a root signature is never a valid plain signature nor the reverse.
 * A remembered root is remembered with its key and its signature bytes: only that exact triple, once verified, skips
 * the verification.
 *
 * Layout of a batch signature: signature (64) | depth (1 byte, 1..MAX_BATCH_DEPTH) | index (4 bytes, big-endian,
 * below 2^depth) | depth sibling hashes (32 bytes each, leaf level first). A single message is signed plainly (64
 * bytes), so a client that never has two requests in one turn, and every simulated client, sends what it sent before.
 */
import { hash } from 'node:crypto'
import { BinaryWriter } from '../codec/binary.ts'
import type { Signer, Verifier } from '../signer.ts'
import { PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH } from './key-lengths.ts'

/** Deepest tree: 65,536 messages per signature; a longer batch is signed in several. */
export const MAX_BATCH_DEPTH = 16

const HASH_LENGTH = 32
const HEADER_LENGTH = SIGNATURE_LENGTH + 1 + 4

/** The longest signature a batch produces: what a codec must accept in a signature field. */
export const MAX_BATCH_SIGNATURE_LENGTH = HEADER_LENGTH + MAX_BATCH_DEPTH * HASH_LENGTH

const ROOT_DOMAIN = 'consensus/signature-batch/v1'
const LEAF_PREFIX = 0
const NODE_PREFIX = 1
const ZERO_HASH = new Uint8Array(HASH_LENGTH)

/** Tree nodes a verifier remembers by default (about 3 MB): many batches' worth for every client in flight at once. */
export const DEFAULT_REMEMBERED_NODES = 1 << 15

// One-shot hashing of one buffer costs about 0.7x createHash().update().digest() for inputs this small.
function leafHash(message: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + message.length)
  input[0] = LEAF_PREFIX
  input.set(message, 1)
  return hash('sha256', input, 'buffer')
}

const nodeInput = new Uint8Array(1 + 2 * HASH_LENGTH)
function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  nodeInput[0] = NODE_PREFIX
  nodeInput.set(left, 1)
  nodeInput.set(right, 1 + HASH_LENGTH)
  return hash('sha256', nodeInput, 'buffer')
}

/** The bytes the root signature is over: the batch domain, the depth and the root. */
function rootSigningBytes(depth: number, root: Uint8Array): Uint8Array {
  return new BinaryWriter(64).string(ROOT_DOMAIN).u8(depth).raw(root).finish()
}

/**
 * Signatures for `messages`, in order: plain ones for a batch of one, else batch signatures, each valid for its own
 * message only (with a verifier from `withSignatureBatches`).
 */
export function signBatch(signer: Signer, messages: readonly Uint8Array[]): Uint8Array[] {
  if (messages.length <= 1) return messages.map(m => signer.sign(m))
  const most = 2 ** MAX_BATCH_DEPTH
  if (messages.length > most) {
    const out: Uint8Array[] = []
    for (let i = 0; i < messages.length; i += most) out.push(...signBatch(signer, messages.slice(i, i + most)))
    return out
  }
  const depth = Math.ceil(Math.log2(messages.length))
  // levels[0] are the leaves (padded), levels[depth] the root.
  const levels: Uint8Array[][] = [messages.map(leafHash)]
  while (levels[0]!.length < 2 ** depth) levels[0]!.push(ZERO_HASH)
  for (let d = 0; d < depth; d++) {
    const below = levels[d]!
    const level: Uint8Array[] = []
    for (let i = 0; i < below.length; i += 2) level.push(nodeHash(below[i]!, below[i + 1]!))
    levels.push(level)
  }
  const rootSignature = signer.sign(rootSigningBytes(depth, levels[depth]![0]!))
  return messages.map((_, index) => {
    const out = new Uint8Array(HEADER_LENGTH + depth * HASH_LENGTH)
    out.set(rootSignature, 0)
    const view = new DataView(out.buffer)
    view.setUint8(SIGNATURE_LENGTH, depth)
    view.setUint32(SIGNATURE_LENGTH + 1, index)
    for (let d = 0, at = index; d < depth; d++, at >>>= 1) out.set(levels[d]![at ^ 1]!, HEADER_LENGTH + d * HASH_LENGTH)
    return out
  })
}

interface BatchPath {
  readonly depth: number
  readonly index: number
  readonly rootSignature: Uint8Array
  /** Sibling hash at `level` (0: the leaf's sibling). */
  sibling(level: number): Uint8Array
}

/** A batch signature's parts, or null when it is not of that form. */
function parsePath(signature: Uint8Array): BatchPath | null {
  if (signature.length <= HEADER_LENGTH) return null
  const view = new DataView(signature.buffer, signature.byteOffset, signature.length)
  const depth = view.getUint8(SIGNATURE_LENGTH)
  const index = view.getUint32(SIGNATURE_LENGTH + 1)
  if (depth < 1 || depth > MAX_BATCH_DEPTH || signature.length !== HEADER_LENGTH + depth * HASH_LENGTH) return null
  if (index >= 2 ** depth) return null
  return {
    depth, index, rootSignature: signature.subarray(0, SIGNATURE_LENGTH),
    sibling: level => signature.subarray(HEADER_LENGTH + level * HASH_LENGTH, HEADER_LENGTH + (level + 1) * HASH_LENGTH),
  }
}

/** Where a node sits in its tree, as one number: level above the leaves, and position along that level. */
function place(level: number, position: number): number {
  return level * 2 ** (MAX_BATCH_DEPTH + 1) + position
}

/**
 * The nodes known of a tree whose root signature verified: every node on a verified path and every sibling given with
 * it (by collision resistance, those are the signed tree's real nodes). Each known node's ancestors and their
 * siblings are known too, so a path that reaches a known node needs no more hashing: its remaining siblings are compared
 * with the known ones instead.
 */
interface VerifiedTree {
  readonly nodes: Map<number, Uint8Array>
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1')
}

/**
 * `inner`, also accepting batch signatures: a plain (64-byte) signature goes to `inner` unchanged; a batch signature
 * verifies when its path leads from the message to a root whose signature `inner` accepts.
 *
 * The first message of a batch costs one inner verification and its path's hashes; the tree's known nodes are then
 * remembered, so each further message of the batch costs its leaf hash and as many hashes as it takes to reach a known
 * node (one for the known leaf's sibling, a few at most). The verdict is always what the full check would say: a path
 * is accepted from a known node only when its remaining siblings are exactly the signed tree's, i.e. when hashing on
 * would have reached the signed root. Known nodes are kept for the most recent trees up to `rememberedNodes` nodes in
 * all (oldest trees forgotten first), so memory stays bounded whatever senders present.
 */
export function withSignatureBatches(inner: Verifier, rememberedNodes = DEFAULT_REMEMBERED_NODES): Verifier {
  if (!Number.isInteger(rememberedNodes) || rememberedNodes < 1) {
    throw new RangeError(`remembered nodes must be a positive integer, got ${rememberedNodes}`)
  }
  /** By key, depth and root signature. */
  const trees = new Map<string, VerifiedTree>()
  let nodesKept = 0

  function remember(tree: VerifiedTree, level: number, position: number, hash: Uint8Array): void {
    const at = place(level, position)
    if (tree.nodes.has(at)) return
    tree.nodes.set(at, hash)
    nodesKept++
  }

  /** Forget the oldest trees but `current` while more nodes are kept than allowed. */
  function forgetOldest(current: VerifiedTree): void {
    for (const [oldId, old] of trees) {
      if (nodesKept <= rememberedNodes || old === current) break
      trees.delete(oldId)
      nodesKept -= old.nodes.size
    }
  }

  return {
    verify(publicKey, message, signature) {
      if (!(signature instanceof Uint8Array) || signature.length <= SIGNATURE_LENGTH) {
        return inner.verify(publicKey, message, signature)
      }
      if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_LENGTH || !(message instanceof Uint8Array)) {
        return false
      }
      const path = parsePath(signature)
      if (path === null) return false
      const id = latin1(publicKey) + String.fromCharCode(path.depth) + latin1(path.rootSignature)
      const tree = trees.get(id)
      // Hash up from the leaf until a known node (or the root): `computed` are the path's nodes so far.
      const computed: Uint8Array[] = [leafHash(message)]
      for (let level = 0; ; level++) {
        const position = path.index >>> level
        const known = tree?.nodes.get(place(level, position))
        if (known !== undefined) {
          if (!bytesEqual(known, computed[level]!)) return false
          for (let above = level; above < path.depth; above++) {
            const realSibling = tree!.nodes.get(place(above, (path.index >>> above) ^ 1))!
            if (!bytesEqual(realSibling, path.sibling(above))) return false
          }
          for (let below = 0; below < level; below++) {
            remember(tree!, below, path.index >>> below, computed[below]!)
            remember(tree!, below, (path.index >>> below) ^ 1, path.sibling(below))
          }
          forgetOldest(tree!)
          return true
        }
        if (level === path.depth) break
        const sibling = path.sibling(level)
        computed.push((position & 1) === 0 ? nodeHash(computed[level]!, sibling) : nodeHash(sibling, computed[level]!))
      }
      // No known node on the way (a known tree's root is known): a tree not verified here yet, or forgotten.
      const root = computed[path.depth]!
      if (!inner.verify(publicKey, rootSigningBytes(path.depth, root), path.rootSignature)) return false
      const verified: VerifiedTree = { nodes: new Map() }
      for (let level = 0; level <= path.depth; level++) {
        remember(verified, level, path.index >>> level, computed[level]!)
        if (level < path.depth) remember(verified, level, (path.index >>> level) ^ 1, path.sibling(level))
      }
      trees.set(id, verified)
      forgetOldest(verified)
      return true
    },
  }
}
