/**
 * Raft's replica-to-replica messages and their binary codec. The sender is never a payload field: it is the
 * authenticated transport peer handed to `receive(from, message)`.
 *
 * Heartbeats are their own message type (not empty AppendEntries) so the transport's counters separate the per-command
 * replication cost (AppendEntries + AppendEntriesResponse) from the idle liveness traffic.
 */
import type { MessageCodec } from '../../core/protocol.ts'
import type { ClientRequest, NodeId } from '../../core/types.ts'
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import { readRequest, writeRequest } from '../../core/codec/client-messages.ts'
import { CodecError } from '../../core/errors.ts'

/** Voting members and non-voting learners; both sorted ascending. */
export interface Configuration {
  readonly voters: readonly NodeId[]
  readonly learners: readonly NodeId[]
}

/**
 * One log entry. A term's first entry is a no-op (it lets the new leader commit entries of earlier terms, Figure 8);
 * configuration entries take effect as soon as they are appended (dissertation §4.1).
 */
export type Entry =
  | { readonly term: number; readonly type: 'noop' }
  | { readonly term: number; readonly type: 'command'; readonly request: ClientRequest }
  | { readonly term: number; readonly type: 'config'; readonly config: Configuration }

export interface RequestVote {
  readonly type: 'RequestVote'
  readonly term: number
  readonly lastLogIndex: number
  readonly lastLogTerm: number
  /** Sent after TimeoutNow (leader transfer): voters must not ignore it for having heard from a leader recently. */
  readonly transfer: boolean
}

export interface RequestVoteResponse {
  readonly type: 'RequestVoteResponse'
  readonly term: number
  readonly granted: boolean
}

/** Dissertation §9.6: ask whether an election at `term` could be won, without anyone changing their term. */
export interface PreVote {
  readonly type: 'PreVote'
  /** The term the sender would campaign at (its current term + 1). */
  readonly term: number
  readonly lastLogIndex: number
  readonly lastLogTerm: number
}

export interface PreVoteResponse {
  readonly type: 'PreVoteResponse'
  /** The pre-vote's term when granted, the responder's current term when refused. */
  readonly term: number
  readonly granted: boolean
}

export interface AppendEntries {
  readonly type: 'AppendEntries'
  readonly term: number
  readonly prevLogIndex: number
  readonly prevLogTerm: number
  readonly entries: readonly Entry[]
  readonly leaderCommit: number
}

export interface AppendEntriesResponse {
  readonly type: 'AppendEntriesResponse'
  readonly term: number
  readonly success: boolean
  /**
   * On success the index of the last entry now known to match the leader's log; on failure the rejected
   * prevLogIndex (so the leader can ignore stale rejections).
   */
  readonly index: number
  /** On failure: the term of the follower's entry at prevLogIndex, 0 when its log is shorter (fast backtracking). */
  readonly conflictTerm: number
  /** On failure: the first index of conflictTerm in the follower's log, or its last index + 1 when it is shorter. */
  readonly conflictIndex: number
}

export interface Heartbeat {
  readonly type: 'Heartbeat'
  readonly term: number
  /** min(leader's commitIndex, follower's matchIndex): never beyond what the follower is known to hold. */
  readonly commit: number
  /** The leader's heartbeat round, echoed back; ReadIndex and leases count acknowledgements per round. */
  readonly round: number
}

export interface HeartbeatResponse {
  readonly type: 'HeartbeatResponse'
  readonly term: number
  readonly round: number
}

export interface InstallSnapshot {
  readonly type: 'InstallSnapshot'
  readonly term: number
  readonly lastIncludedIndex: number
  readonly lastIncludedTerm: number
  readonly config: Configuration
  readonly data: Uint8Array
}

export interface InstallSnapshotResponse {
  readonly type: 'InstallSnapshotResponse'
  readonly term: number
  /** The follower's last log index after handling the snapshot. */
  readonly index: number
}

/** Leader transfer (dissertation §3.10): the target starts an election at once, skipping pre-vote. */
export interface TimeoutNow {
  readonly type: 'TimeoutNow'
  readonly term: number
}

export type RaftMessage =
  | RequestVote | RequestVoteResponse | PreVote | PreVoteResponse | AppendEntries | AppendEntriesResponse
  | Heartbeat | HeartbeatResponse | InstallSnapshot | InstallSnapshotResponse | TimeoutNow

export type RaftMessageType = RaftMessage['type']

const TYPE_CODES: readonly RaftMessageType[] = [
  'RequestVote', 'RequestVoteResponse', 'PreVote', 'PreVoteResponse', 'AppendEntries', 'AppendEntriesResponse',
  'Heartbeat', 'HeartbeatResponse', 'InstallSnapshot', 'InstallSnapshotResponse', 'TimeoutNow',
]
const ENTRY_TYPES = ['noop', 'command', 'config'] as const

export function writeConfiguration(w: BinaryWriter, c: Configuration): void {
  w.uvarint(c.voters.length)
  for (const id of c.voters) w.uvarint(id)
  w.uvarint(c.learners.length)
  for (const id of c.learners) w.uvarint(id)
}

export function readConfiguration(r: BinaryReader): Configuration {
  const voters: NodeId[] = []
  for (let i = 0, n = r.count(); i < n; i++) voters.push(r.uvarint())
  const learners: NodeId[] = []
  for (let i = 0, n = r.count(); i < n; i++) learners.push(r.uvarint())
  return { voters, learners }
}

export function writeEntry(w: BinaryWriter, e: Entry): void {
  w.uvarint(e.term).u8(ENTRY_TYPES.indexOf(e.type))
  if (e.type === 'command') writeRequest(w, e.request)
  else if (e.type === 'config') writeConfiguration(w, e.config)
}

export function readEntry(r: BinaryReader): Entry {
  const term = r.uvarint()
  const code = r.u8()
  switch (ENTRY_TYPES[code]) {
    case 'noop': return { term, type: 'noop' }
    case 'command': return { term, type: 'command', request: readRequest(r) }
    case 'config': return { term, type: 'config', config: readConfiguration(r) }
    default: throw new CodecError(`malformed raft entry: unknown entry type ${code}`)
  }
}

/** A log record as persisted with PersistOp 'entry'. */
export function encodeEntry(e: Entry): Uint8Array {
  const w = new BinaryWriter(entrySize(e) + 8)
  writeEntry(w, e)
  return w.finish()
}

export function decodeEntry(bytes: Uint8Array): Entry {
  const r = new BinaryReader(bytes, 'raft log entry')
  const e = readEntry(r)
  r.end()
  return e
}

/** Approximate encoded size, for the maxBatchBytes bound (exactness is not needed, cheapness is). */
export function entrySize(e: Entry): number {
  if (e.type === 'command') return 16 + e.request.op.length + e.request.signature.length
  if (e.type === 'config') return 8 + 4 * (e.config.voters.length + e.config.learners.length)
  return 4
}

export function encodeMessage(m: RaftMessage): Uint8Array {
  const w = new BinaryWriter(m.type === 'InstallSnapshot' ? m.data.length + 64 : 32)
  w.u8(TYPE_CODES.indexOf(m.type)).uvarint(m.term)
  switch (m.type) {
    case 'RequestVote':
      w.uvarint(m.lastLogIndex).uvarint(m.lastLogTerm).bool(m.transfer)
      break
    case 'PreVote':
      w.uvarint(m.lastLogIndex).uvarint(m.lastLogTerm)
      break
    case 'RequestVoteResponse':
    case 'PreVoteResponse':
      w.bool(m.granted)
      break
    case 'AppendEntries':
      w.uvarint(m.prevLogIndex).uvarint(m.prevLogTerm).uvarint(m.leaderCommit).uvarint(m.entries.length)
      for (const e of m.entries) writeEntry(w, e)
      break
    case 'AppendEntriesResponse':
      w.bool(m.success).uvarint(m.index).uvarint(m.conflictTerm).uvarint(m.conflictIndex)
      break
    case 'Heartbeat':
      w.uvarint(m.commit).uvarint(m.round)
      break
    case 'HeartbeatResponse':
      w.uvarint(m.round)
      break
    case 'InstallSnapshot':
      w.uvarint(m.lastIncludedIndex).uvarint(m.lastIncludedTerm)
      writeConfiguration(w, m.config)
      w.bytes(m.data)
      break
    case 'InstallSnapshotResponse':
      w.uvarint(m.index)
      break
    case 'TimeoutNow':
      break
  }
  return w.finish()
}

export function decodeMessage(bytes: Uint8Array): RaftMessage {
  const r = new BinaryReader(bytes, 'raft message')
  const code = r.u8()
  const type = TYPE_CODES[code]
  if (type === undefined) throw new CodecError(`malformed raft message: unknown type code ${code}`)
  const term = r.uvarint()
  let m: RaftMessage
  switch (type) {
    case 'RequestVote':
      m = { type, term, lastLogIndex: r.uvarint(), lastLogTerm: r.uvarint(), transfer: r.bool() }
      break
    case 'PreVote':
      m = { type, term, lastLogIndex: r.uvarint(), lastLogTerm: r.uvarint() }
      break
    case 'RequestVoteResponse':
    case 'PreVoteResponse':
      m = { type, term, granted: r.bool() }
      break
    case 'AppendEntries': {
      const prevLogIndex = r.uvarint()
      const prevLogTerm = r.uvarint()
      const leaderCommit = r.uvarint()
      const entries: Entry[] = []
      for (let i = 0, n = r.count(); i < n; i++) entries.push(readEntry(r))
      m = { type, term, prevLogIndex, prevLogTerm, entries, leaderCommit }
      break
    }
    case 'AppendEntriesResponse':
      m = { type, term, success: r.bool(), index: r.uvarint(), conflictTerm: r.uvarint(), conflictIndex: r.uvarint() }
      break
    case 'Heartbeat':
      m = { type, term, commit: r.uvarint(), round: r.uvarint() }
      break
    case 'HeartbeatResponse':
      m = { type, term, round: r.uvarint() }
      break
    case 'InstallSnapshot': {
      const lastIncludedIndex = r.uvarint()
      const lastIncludedTerm = r.uvarint()
      const config = readConfiguration(r)
      m = { type, term, lastIncludedIndex, lastIncludedTerm, config, data: r.bytes() }
      break
    }
    case 'InstallSnapshotResponse':
      m = { type, term, index: r.uvarint() }
      break
    case 'TimeoutNow':
      m = { type, term }
      break
  }
  r.end()
  return m
}

export const raftCodec: MessageCodec<RaftMessage> = {
  encode: encodeMessage,
  decode: decodeMessage,
  typeName: (m: RaftMessage) => m.type,
}
