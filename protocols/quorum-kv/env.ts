/**
 * What quorum-kv's roles share: the replica's identity, options, output buffer, clock and store, and the one way to
 * change the store (so every change is logged durably, and the log compacted into snapshots). The coordinator, the
 * storage role and anti-entropy each get this and never reach into each other.
 */
import { createKvStore } from '../../core/kv.ts'
import type { Logger } from '../../core/logger.ts'
import { ReadyBuffer } from '../../core/ready.ts'
import { SessionStateMachine } from '../../core/sessions.ts'
import type { NodeId } from '../../core/types.ts'
import type { QuorumKvMessage } from './messages.ts'
import type { QuorumKvOptions } from './options.ts'
import { encodeEntry, VersionedStore, type StoreEntry, type StoredValue } from './store.ts'
import { HybridLogicalClock } from './version.ts'

/**
 * The host restores a snapshot's `data` into its own state machine at start. quorum-kv keeps its store in the
 * snapshot's `meta` and never applies anything to the host's machine, so `data` is that machine's empty state.
 */
let emptyHostState: Uint8Array | null = null
function emptyHostStateMachine(): Uint8Array {
  return emptyHostState ??= new SessionStateMachine(createKvStore()).snapshot()
}

export class QuorumKvEnv {
  readonly out = new ReadyBuffer<QuorumKvMessage>()
  readonly clock = new HybridLogicalClock()
  readonly store: VersionedStore
  /** Ticks since this replica started: the physical part of its clock. */
  ticks = 0
  /** The index of the last store change logged (log records are numbered 1, 2, 3 ... across snapshots). */
  logIndex = 0
  private loggedSinceSnapshot = 0
  readonly id: NodeId
  readonly members: readonly NodeId[]
  readonly options: QuorumKvOptions
  readonly log: Logger

  constructor(id: NodeId, members: readonly NodeId[], options: QuorumKvOptions, log: Logger) {
    this.id = id
    this.members = members
    this.options = options
    this.log = log
    this.store = new VersionedStore(options.antiEntropyBuckets)
  }

  get n(): number {
    return this.members.length
  }

  /** Keep `value` for `key` if it is newer than what is stored, durably; returns whether the store changed. */
  keep(key: string, value: StoredValue): boolean {
    this.clock.observe(value.version.ts)
    if (!this.store.merge(key, value)) return false
    this.logChange({ key, value: value.value, version: value.version })
    return true
  }

  /**
   * Log one change; every `compactEvery` changes, snapshot the whole store instead, which drops the log records it
   * covers (the storage compacts at a snapshot), so the log never holds more than `compactEvery` records.
   */
  private logChange(entry: StoreEntry): void {
    this.logIndex++
    if (++this.loggedSinceSnapshot < this.options.compactEvery) {
      this.out.persist({ kind: 'entry', index: this.logIndex, value: encodeEntry(entry) })
      return
    }
    this.loggedSinceSnapshot = 0
    this.out.persist({ kind: 'snapshot', index: this.logIndex, meta: this.store.encode(), data: emptyHostStateMachine() })
  }

  /** Every replica but this one. */
  get peers(): readonly NodeId[] {
    return this.members.filter(m => m !== this.id)
  }
}
