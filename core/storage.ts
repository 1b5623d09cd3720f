/**
 * The storage seam. A protocol never touches storage: it emits `PersistOp`s in its Ready, the host writes them and
 * waits for `sync` before releasing the messages that depend on them (persist, then send).
 *
 * The model is deliberately small so every protocol fits and every backend (memory with modelled fsync, file WAL)
 * can implement it: named hard-state records, a sparse log of records by index, and one snapshot.
 */

export type PersistOp =
  /** Replace a small named record (Raft term+vote, Paxos promised ballot, PBFT view). */
  | { readonly kind: 'put'; readonly key: string; readonly value: Uint8Array }
  /** Write the log record at `index` (replacing any record there). Indexes may be sparse (Paxos slots). */
  | { readonly kind: 'entry'; readonly index: number; readonly value: Uint8Array }
  /** Delete every log record with index >= from (Raft conflict truncation). */
  | { readonly kind: 'truncate'; readonly from: number }
  /**
   * Delete the one log record at `index`, if any. Sparse logs whose records are not ordered by what a snapshot covers
   * (HotStuff's blocks, kept until they are pruned below the committed root) free them one by one.
   */
  | { readonly kind: 'forget'; readonly index: number }
  /**
   * Replace the snapshot: `data` is the state machine's snapshot after applying `index`, `meta` is the protocol's own
   * (last term, configuration, checkpoint proof...). Log records with index <= `index` are dropped (compaction).
   */
  | { readonly kind: 'snapshot'; readonly index: number; readonly meta: Uint8Array; readonly data: Uint8Array }

export interface DurableSnapshot {
  readonly index: number
  readonly meta: Uint8Array
  readonly data: Uint8Array
}

/** What survived: handed to a replica factory on (re)start. Log records come sorted by index. */
export interface DurableState {
  readonly hard: ReadonlyMap<string, Uint8Array>
  readonly log: ReadonlyArray<{ readonly index: number; readonly value: Uint8Array }>
  readonly snapshot: DurableSnapshot | null
}

export interface Storage {
  /** Everything durable so far. Called once when a replica starts. */
  load(): DurableState
  /** Buffer writes; they are not durable until a later `sync` completes. */
  write(ops: readonly PersistOp[]): void
  /** Make every write so far durable, then call `done`. Completions arrive in call order. */
  sync(done: () => void): void
  close?(): void
}

export const EMPTY_DURABLE_STATE: DurableState = { hard: new Map(), log: [], snapshot: null }

/**
 * One durable log shared by many consensus groups (a multi-group node, as CockroachDB stores and TiKV nodes share one
 * engine): a Storage per group, one fsync for all of them, so group commit spans groups.
 */
export interface GroupedStorage {
  /**
   * The storage of group `group` (an integer >= 0): load/write/sync as one replica's Storage. The same view every time
   * for one group; `load()` gives only that group's durable state.
   */
  group(group: number): Storage
  /** Groups that have durable state (recovered or written), ascending. */
  groups(): number[]
  /** Make everything durable (per policy) and release the files. */
  close(): void
}
