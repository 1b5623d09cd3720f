/**
 * Chained HotStuff wire messages (Yin, Malkhi, Reiter, Gueta, Abraham, PODC 2019, Algorithm 3) and their binary codec.
 *
 * A block carries a batch of client commands, its parent's hash and the quorum certificate (justify) for that parent;
 * its hash (SHA-256 over the canonical encoding, hash.ts) is what replicas vote on. PROPOSAL carries one block signed by
 * the view's leader, VOTE one replica's signature over (view, block hash), NEW-VIEW a replica's highest QC when it
 * leaves a view on timeout. BLOCK-REQUEST / BLOCK-RESPONSE fetch missing ancestors, SNAPSHOT-REQUEST /
 * SNAPSHOT-RESPONSE carry state transfer for a replica behind a compacted prefix. Request and response messages are
 * unsigned: the transport authenticates the sender, and what they carry is checked against hashes and QCs.
 */
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import { readRequest, writeRequest } from '../../core/codec/client-messages.ts'
import { CodecError } from '../../core/errors.ts'
import type { MessageCodec } from '../../core/protocol.ts'
import type { ClientRequest, NodeId } from '../../core/types.ts'

export const HASH_LENGTH = 32
export const SIGNATURE_LENGTH = 64
/** Blocks in one BLOCK-RESPONSE at most (a chain of ancestors, newest first). */
export const MAX_BLOCKS_PER_RESPONSE = 64

/** One replica's signature inside a QC. */
export interface QcVote {
  readonly replica: NodeId
  readonly signature: Uint8Array
}

/** Quorum certificate: n - f distinct replicas signed (view, blockHash). The genesis QC (view 0) has no votes. */
export interface QuorumCert {
  readonly view: number
  readonly blockHash: Uint8Array
  readonly votes: readonly QcVote[]
}

export interface Block {
  /** The view in which the block was proposed (0 only for genesis). */
  readonly view: number
  /** Parent height + 1 (genesis: 0). */
  readonly height: number
  readonly parentHash: Uint8Array
  /** QC for the parent: justify.blockHash equals parentHash (Algorithm 3's createLeaf(highQC.node, cmd, highQC)). */
  readonly justify: QuorumCert
  readonly proposer: NodeId
  readonly commands: readonly ClientRequest[]
}

/** The leader of `block.view` proposes `block`; `signature` is the proposer's over the block hash. */
export interface Proposal {
  readonly type: 'Proposal'
  readonly block: Block
  readonly signature: Uint8Array
}

/** `replica` votes for `blockHash` proposed in `view`; sent to the leader of view + 1. */
export interface Vote {
  readonly type: 'Vote'
  readonly view: number
  readonly blockHash: Uint8Array
  readonly replica: NodeId
  readonly signature: Uint8Array
}

/**
 * `replica` gave up on the views before `view` (timeout) and reports the highest QC it holds, with its latest vote:
 * when the leader that vote went to is the one that failed, the next leader forms the QC from these votes instead
 * (otherwise a three-chain would need four correct leaders in a row, which n = 4 with one crash never has).
 */
export interface NewView {
  readonly type: 'NewView'
  readonly view: number
  readonly highQC: QuorumCert
  readonly lastVote: Vote | null
  readonly replica: NodeId
  readonly signature: Uint8Array
}

/** Ask a peer for the block with `hash` (and some of its ancestors). */
export interface BlockRequest {
  readonly type: 'BlockRequest'
  readonly hash: Uint8Array
}

/** The requested block followed by its ancestors, newest first; empty when the peer does not hold it. */
export interface BlockResponse {
  readonly type: 'BlockResponse'
  readonly hash: Uint8Array
  readonly blocks: readonly Block[]
}

/** A replica that executed through `index` and cannot fetch what it misses asks for a snapshot beyond it. */
export interface SnapshotRequest {
  readonly type: 'SnapshotRequest'
  readonly index: number
}

/**
 * The state after applying log index `index`; `block` is the committed block holding that index, of whose commands
 * the first `offset` are covered by the snapshot (the receiver executes the rest, then the blocks after it).
 */
export interface SnapshotResponse {
  readonly type: 'SnapshotResponse'
  readonly index: number
  readonly offset: number
  readonly block: Block
  readonly data: Uint8Array
}

/**
 * Client commands a replica holds that have not committed, passed to its peers when it times out: a command that
 * reached only some replicas (the client gave up, or a partition) still reaches every leader, which keeps the pending
 * work (and so the timers) of the replicas consistent. Authenticated by the clients' own signatures.
 */
export interface Forward {
  readonly type: 'Forward'
  readonly requests: readonly ClientRequest[]
}

export type HotStuffMessage =
  | Proposal | Vote | NewView | BlockRequest | BlockResponse | SnapshotRequest | SnapshotResponse | Forward

export type HotStuffMessageType = HotStuffMessage['type']

const TAGS: readonly HotStuffMessageType[] = [
  'Proposal', 'Vote', 'NewView', 'BlockRequest', 'BlockResponse', 'SnapshotRequest', 'SnapshotResponse', 'Forward',
]

export const MESSAGE_TYPES: readonly HotStuffMessageType[] = TAGS

// ---- writers -------------------------------------------------------------------------------------------------------

function writeHash(w: BinaryWriter, hash: Uint8Array): void {
  if (hash.length !== HASH_LENGTH) throw new CodecError(`hash must be ${HASH_LENGTH} bytes, got ${hash.length}`)
  w.raw(hash)
}

export function writeQC(w: BinaryWriter, qc: QuorumCert): void {
  w.uvarint(qc.view)
  writeHash(w, qc.blockHash)
  w.uvarint(qc.votes.length)
  for (const v of qc.votes) w.uvarint(v.replica).bytes(v.signature)
}

export function writeBatch(w: BinaryWriter, batch: readonly ClientRequest[]): void {
  w.uvarint(batch.length)
  for (const r of batch) writeRequest(w, r)
}

/** The canonical block encoding: on the wire and (with a domain prefix) under the block hash. */
export function writeBlock(w: BinaryWriter, b: Block): void {
  w.uvarint(b.view).uvarint(b.height)
  writeHash(w, b.parentHash)
  writeQC(w, b.justify)
  w.uvarint(b.proposer)
  writeBatch(w, b.commands)
}

function writeVote(w: BinaryWriter, m: Vote): void {
  w.uvarint(m.view)
  writeHash(w, m.blockHash)
  w.uvarint(m.replica).bytes(m.signature)
}

function readVote(r: BinaryReader): Vote {
  const view = r.uvarint()
  const blockHash = r.raw(HASH_LENGTH)
  const replica = r.uvarint()
  return { type: 'Vote', view, blockHash, replica, signature: readSignature(r) }
}

function writeMessage(w: BinaryWriter, m: HotStuffMessage): void {
  w.u8(TAGS.indexOf(m.type))
  switch (m.type) {
    case 'Proposal': writeBlock(w, m.block); w.bytes(m.signature); break
    case 'Vote': writeVote(w, m); break
    case 'NewView':
      w.uvarint(m.view)
      writeQC(w, m.highQC)
      w.bool(m.lastVote !== null)
      if (m.lastVote !== null) writeVote(w, m.lastVote)
      w.uvarint(m.replica).bytes(m.signature)
      break
    case 'BlockRequest': writeHash(w, m.hash); break
    case 'BlockResponse':
      writeHash(w, m.hash)
      w.uvarint(m.blocks.length)
      for (const b of m.blocks) writeBlock(w, b)
      break
    case 'SnapshotRequest': w.uvarint(m.index); break
    case 'SnapshotResponse': w.uvarint(m.index).uvarint(m.offset); writeBlock(w, m.block); w.bytes(m.data); break
    case 'Forward': writeBatch(w, m.requests); break
  }
}

// ---- readers -------------------------------------------------------------------------------------------------------

function readSignature(r: BinaryReader): Uint8Array {
  return r.bytes(SIGNATURE_LENGTH)
}

export function readQC(r: BinaryReader): QuorumCert {
  const view = r.uvarint()
  const blockHash = r.raw(HASH_LENGTH)
  const n = r.count()
  const votes: QcVote[] = []
  for (let i = 0; i < n; i++) {
    const replica = r.uvarint()
    votes.push({ replica, signature: readSignature(r) })
  }
  return { view, blockHash, votes }
}

export function readBlock(r: BinaryReader): Block {
  const view = r.uvarint()
  const height = r.uvarint()
  const parentHash = r.raw(HASH_LENGTH)
  const justify = readQC(r)
  const proposer = r.uvarint()
  const n = r.count()
  const commands: ClientRequest[] = []
  for (let i = 0; i < n; i++) commands.push(readRequest(r))
  return { view, height, parentHash, justify, proposer, commands }
}

function readMessage(r: BinaryReader): HotStuffMessage {
  const tag = r.u8()
  const type = TAGS[tag]
  switch (type) {
    case 'Proposal': {
      const block = readBlock(r)
      return { type, block, signature: readSignature(r) }
    }
    case 'Vote': return readVote(r)
    case 'NewView': {
      const view = r.uvarint()
      const highQC = readQC(r)
      const lastVote = r.bool() ? readVote(r) : null
      const replica = r.uvarint()
      return { type, view, highQC, lastVote, replica, signature: readSignature(r) }
    }
    case 'BlockRequest': return { type, hash: r.raw(HASH_LENGTH) }
    case 'BlockResponse': {
      const hash = r.raw(HASH_LENGTH)
      const n = r.count()
      if (n > MAX_BLOCKS_PER_RESPONSE) throw new CodecError(`malformed HotStuff BlockResponse: ${n} blocks, at most ${MAX_BLOCKS_PER_RESPONSE}`)
      const blocks: Block[] = []
      for (let i = 0; i < n; i++) blocks.push(readBlock(r))
      return { type, hash, blocks }
    }
    case 'SnapshotRequest': return { type, index: r.uvarint() }
    case 'SnapshotResponse': {
      const index = r.uvarint()
      const offset = r.uvarint()
      const block = readBlock(r)
      return { type, index, offset, block, data: r.bytes() }
    }
    case 'Forward': {
      const n = r.count()
      const requests: ClientRequest[] = []
      for (let i = 0; i < n; i++) requests.push(readRequest(r))
      return { type, requests }
    }
    default: throw new CodecError(`malformed HotStuff message: unknown type tag ${tag}`)
  }
}

export function encodeMessage(m: HotStuffMessage): Uint8Array {
  const w = new BinaryWriter(m.type === 'Proposal' || m.type === 'BlockResponse' || m.type === 'SnapshotResponse' ? 512 : 256)
  writeMessage(w, m)
  return w.finish()
}

export function decodeMessage(bytes: Uint8Array): HotStuffMessage {
  const r = new BinaryReader(bytes, 'HotStuff message')
  const m = readMessage(r)
  r.end()
  return m
}

export function encodeBlock(b: Block): Uint8Array {
  const w = new BinaryWriter(256)
  writeBlock(w, b)
  return w.finish()
}

export function decodeBlock(bytes: Uint8Array): Block {
  const r = new BinaryReader(bytes, 'HotStuff block')
  const b = readBlock(r)
  r.end()
  return b
}

export function encodeQC(qc: QuorumCert): Uint8Array {
  const w = new BinaryWriter(64 + qc.votes.length * 70)
  writeQC(w, qc)
  return w.finish()
}

export function decodeQC(bytes: Uint8Array): QuorumCert {
  const r = new BinaryReader(bytes, 'HotStuff QC')
  const qc = readQC(r)
  r.end()
  return qc
}

export const hotstuffCodec: MessageCodec<HotStuffMessage> = {
  encode: encodeMessage,
  decode: decodeMessage,
  typeName: m => m.type,
}
