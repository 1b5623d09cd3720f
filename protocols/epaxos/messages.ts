/**
 * Replica-to-replica messages of EPaxos (Moraru et al., SOSP 2013, Figure 2 and §4.5) and their binary codec.
 *
 * An instance is named by its command leader and a number, `replica.num`. Its value is a batch of client requests (an
 * empty batch is the no-op that recovery commits when nobody saw the command) with two attributes: `deps`, one number
 * per replica (the instance depends on every interfering instance of replica q numbered up to deps[q], the compact
 * form of the reference implementation), and `seq`, which orders the instances of one strongly connected component.
 */
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import { readRequest, writeRequest } from '../../core/codec/client-messages.ts'
import { CodecError } from '../../core/errors.ts'
import type { MessageCodec } from '../../core/protocol.ts'
import type { ClientRequest } from '../../core/types.ts'

export type Batch = readonly ClientRequest[]

/** Where an instance stands at one replica (executed is the replica's own business, kept apart). */
export type InstanceStatus = 'none' | 'preaccepted' | 'accepted' | 'committed'
const STATUSES = ['none', 'preaccepted', 'accepted', 'committed'] as const satisfies readonly InstanceStatus[]

/** Phase 1: the command leader (ballot 0) or a recoverer (its ballot) proposes the batch with its attributes. */
export interface PreAccept {
  readonly type: 'PreAccept'
  readonly ballot: number
  readonly replica: number
  readonly num: number
  readonly requests: Batch
  readonly seq: number
  readonly deps: readonly number[]
}

/**
 * Phase 1 reply: the attributes merged with the replier's interfering instances; `unchanged` says they equal the
 * proposal's (what the fast path needs from every fast-quorum member, and what recovery counts).
 */
export interface PreAcceptOK {
  readonly type: 'PreAcceptOK'
  readonly ballot: number
  readonly replica: number
  readonly num: number
  readonly seq: number
  readonly deps: readonly number[]
  readonly unchanged: boolean
}

/** Paxos-Accept (the slow path, and recovery), with the batch so an acceptor that never pre-accepted holds it. */
export interface Accept {
  readonly type: 'Accept'
  readonly ballot: number
  readonly replica: number
  readonly num: number
  readonly requests: Batch
  readonly seq: number
  readonly deps: readonly number[]
}

export interface AcceptOK {
  readonly type: 'AcceptOK'
  readonly ballot: number
  readonly replica: number
  readonly num: number
}

/** The instance is decided: every replica records it and may execute it. */
export interface Commit {
  readonly type: 'Commit'
  readonly replica: number
  readonly num: number
  readonly requests: Batch
  readonly seq: number
  readonly deps: readonly number[]
}

/** Explicit prepare (§4.5): a recoverer asks for promises at `ballot` and for what each replica holds. */
export interface Prepare {
  readonly type: 'Prepare'
  readonly ballot: number
  readonly replica: number
  readonly num: number
}

/**
 * Promise plus the replier's state of the instance: `vballot` is the ballot at which it took these attributes,
 * kept apart from the promised ballot (Sutra, IPL 2020: one variable for both lets a recoverer pick stale attributes).
 */
export interface PrepareOK {
  readonly type: 'PrepareOK'
  readonly ballot: number
  readonly replica: number
  readonly num: number
  readonly status: InstanceStatus
  readonly vballot: number
  /** Pre-accepted at the default ballot with the command leader's attributes unchanged. */
  readonly unchanged: boolean
  readonly requests: Batch
  readonly seq: number
  readonly deps: readonly number[]
}

/** A PreAccept, Accept or Prepare at `ballot` refused: the replier promised `promised`. */
export interface Nack {
  readonly type: 'Nack'
  readonly ballot: number
  readonly replica: number
  readonly num: number
  readonly promised: number
}

/**
 * The sender's durable executed frontier (per replica q, every instance q.1 .. q.executed[q] is in its last durable
 * snapshot): an instance below every replica's frontier is executed everywhere and may be dropped (compaction).
 */
export interface Frontier {
  readonly type: 'Frontier'
  readonly executed: readonly number[]
}

export type EpaxosMessage = PreAccept | PreAcceptOK | Accept | AcceptOK | Commit | Prepare | PrepareOK | Nack | Frontier

const TAGS = [
  'PreAccept', 'PreAcceptOK', 'Accept', 'AcceptOK', 'Commit', 'Prepare', 'PrepareOK', 'Nack', 'Frontier',
] as const satisfies ReadonlyArray<EpaxosMessage['type']>

/** Deps vectors have one entry per replica; this bounds what a frame may claim. */
const MAX_REPLICAS = 1024

export function writeBatch(w: BinaryWriter, batch: Batch): void {
  w.uvarint(batch.length)
  for (const r of batch) writeRequest(w, r)
}

export function readBatch(r: BinaryReader): ClientRequest[] {
  const n = r.count()
  const out: ClientRequest[] = []
  for (let i = 0; i < n; i++) out.push(readRequest(r))
  return out
}

export function writeNumbers(w: BinaryWriter, values: readonly number[]): void {
  w.uvarint(values.length)
  for (const v of values) w.uvarint(v)
}

export function readNumbers(r: BinaryReader, what: string): number[] {
  const n = r.count()
  if (n > MAX_REPLICAS) throw new CodecError(`malformed epaxos message: ${what} has ${n} entries (at most ${MAX_REPLICAS})`)
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(r.uvarint())
  return out
}

export function writeStatus(w: BinaryWriter, status: InstanceStatus): void {
  w.u8(STATUSES.indexOf(status))
}

export function readStatus(r: BinaryReader): InstanceStatus {
  const code = r.u8()
  const status = STATUSES[code]
  if (status === undefined) throw new CodecError(`malformed epaxos message: unknown instance status ${code}`)
  return status
}

function batchSize(batch: Batch): number {
  let size = 4
  for (const r of batch) size += 16 + r.op.length + r.signature.length
  return size
}

export function encodeMessage(m: EpaxosMessage): Uint8Array {
  const hasBatch = m.type === 'PreAccept' || m.type === 'Accept' || m.type === 'Commit' || m.type === 'PrepareOK'
  const w = new BinaryWriter(hasBatch ? 64 + batchSize(m.requests) : 64)
  w.u8(TAGS.indexOf(m.type))
  switch (m.type) {
    case 'PreAccept':
    case 'Accept':
      w.uvarint(m.ballot).uvarint(m.replica).uvarint(m.num).uvarint(m.seq)
      writeNumbers(w, m.deps)
      writeBatch(w, m.requests)
      break
    case 'PreAcceptOK':
      w.uvarint(m.ballot).uvarint(m.replica).uvarint(m.num).uvarint(m.seq)
      writeNumbers(w, m.deps)
      w.bool(m.unchanged)
      break
    case 'AcceptOK':
    case 'Prepare':
      w.uvarint(m.ballot).uvarint(m.replica).uvarint(m.num)
      break
    case 'Commit':
      w.uvarint(m.replica).uvarint(m.num).uvarint(m.seq)
      writeNumbers(w, m.deps)
      writeBatch(w, m.requests)
      break
    case 'PrepareOK':
      w.uvarint(m.ballot).uvarint(m.replica).uvarint(m.num)
      writeStatus(w, m.status)
      w.uvarint(m.vballot).bool(m.unchanged).uvarint(m.seq)
      writeNumbers(w, m.deps)
      writeBatch(w, m.requests)
      break
    case 'Nack':
      w.uvarint(m.ballot).uvarint(m.replica).uvarint(m.num).uvarint(m.promised)
      break
    case 'Frontier':
      writeNumbers(w, m.executed)
      break
  }
  return w.finish()
}

export function decodeMessage(bytes: Uint8Array): EpaxosMessage {
  const r = new BinaryReader(bytes, 'epaxos message')
  const tag = r.u8()
  const type = TAGS[tag]
  let m: EpaxosMessage
  switch (type) {
    case 'PreAccept':
    case 'Accept': {
      const ballot = r.uvarint()
      const replica = r.uvarint()
      const num = r.uvarint()
      const seq = r.uvarint()
      const deps = readNumbers(r, 'deps')
      m = { type, ballot, replica, num, seq, deps, requests: readBatch(r) }
      break
    }
    case 'PreAcceptOK': {
      const ballot = r.uvarint()
      const replica = r.uvarint()
      const num = r.uvarint()
      const seq = r.uvarint()
      const deps = readNumbers(r, 'deps')
      m = { type, ballot, replica, num, seq, deps, unchanged: r.bool() }
      break
    }
    case 'AcceptOK':
    case 'Prepare': {
      const ballot = r.uvarint()
      const replica = r.uvarint()
      m = { type, ballot, replica, num: r.uvarint() }
      break
    }
    case 'Commit': {
      const replica = r.uvarint()
      const num = r.uvarint()
      const seq = r.uvarint()
      const deps = readNumbers(r, 'deps')
      m = { type, replica, num, seq, deps, requests: readBatch(r) }
      break
    }
    case 'PrepareOK': {
      const ballot = r.uvarint()
      const replica = r.uvarint()
      const num = r.uvarint()
      const status = readStatus(r)
      const vballot = r.uvarint()
      const unchanged = r.bool()
      const seq = r.uvarint()
      const deps = readNumbers(r, 'deps')
      m = { type, ballot, replica, num, status, vballot, unchanged, seq, deps, requests: readBatch(r) }
      break
    }
    case 'Nack': {
      const ballot = r.uvarint()
      const replica = r.uvarint()
      const num = r.uvarint()
      m = { type, ballot, replica, num, promised: r.uvarint() }
      break
    }
    case 'Frontier':
      m = { type, executed: readNumbers(r, 'executed frontier') }
      break
    default:
      throw new CodecError(`malformed epaxos message: unknown type tag ${tag}`)
  }
  r.end()
  return m
}

export const epaxosCodec: MessageCodec<EpaxosMessage> = {
  encode: encodeMessage,
  decode: decodeMessage,
  typeName: m => m.type,
}
