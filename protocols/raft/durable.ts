/**
 * What Raft keeps on stable storage and how it reads it back (Figure 2's "persistent state on all servers"):
 *   - hard state (currentTerm, votedFor) under one key, rewritten whenever either changes, before the vote or the
 *     message that depends on it leaves (the host syncs a Ready's PersistOps before sending its messages);
 *   - log entries as 'entry' records by index, with 'truncate' when a conflicting suffix is dropped;
 *   - the latest snapshot, whose meta carries the last included term and the configuration in force at its index.
 * commitIndex is volatile, as in the paper: after a restart it is the snapshot's index and is relearned.
 */
import type { DurableState } from '../../core/storage.ts'
import type { NodeId } from '../../core/types.ts'
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import { CodecError } from '../../core/errors.ts'
import type { Configuration, Entry } from './messages.ts'
import { decodeEntry, readConfiguration, writeConfiguration } from './messages.ts'

export const HARD_STATE_KEY = 'raft/hard-state'

export interface HardState {
  readonly term: number
  /** The candidate voted for in `term`, or -1. */
  readonly votedFor: NodeId
}

export function encodeHardState(h: HardState): Uint8Array {
  return new BinaryWriter(12).uvarint(h.term).svarint(h.votedFor).finish()
}

export function decodeHardState(bytes: Uint8Array): HardState {
  const r = new BinaryReader(bytes, 'raft hard state')
  const h = { term: r.uvarint(), votedFor: r.svarint() }
  r.end()
  return h
}

export interface SnapshotMeta {
  readonly lastIncludedTerm: number
  readonly config: Configuration
}

export function encodeSnapshotMeta(m: SnapshotMeta): Uint8Array {
  const w = new BinaryWriter(32)
  w.uvarint(m.lastIncludedTerm)
  writeConfiguration(w, m.config)
  return w.finish()
}

export function decodeSnapshotMeta(bytes: Uint8Array): SnapshotMeta {
  const r = new BinaryReader(bytes, 'raft snapshot meta')
  const lastIncludedTerm = r.uvarint()
  const config = readConfiguration(r)
  r.end()
  return { lastIncludedTerm, config }
}

export interface RecoveredRaftState {
  readonly hard: HardState
  readonly snapshot: { readonly index: number; readonly meta: SnapshotMeta; readonly data: Uint8Array } | null
  /** Entries after the snapshot, contiguous from snapshot index + 1. */
  readonly entries: readonly Entry[]
}

export function recoverRaftState(d: DurableState): RecoveredRaftState {
  const hardBytes = d.hard.get(HARD_STATE_KEY)
  const hard = hardBytes === undefined ? { term: 0, votedFor: -1 } : decodeHardState(hardBytes)
  const snapshot = d.snapshot === null ? null
    : { index: d.snapshot.index, meta: decodeSnapshotMeta(d.snapshot.meta), data: d.snapshot.data }
  const after = snapshot?.index ?? 0
  const entries: Entry[] = []
  for (const record of d.log) {
    if (record.index <= after) continue // covered by the snapshot (storage may keep them until it compacts)
    const expected = after + entries.length + 1
    if (record.index !== expected) {
      throw new CodecError(`raft recovery: log record ${record.index} found where ${expected} was expected (gap in the log)`)
    }
    entries.push(decodeEntry(record.value))
  }
  return { hard, snapshot, entries }
}
