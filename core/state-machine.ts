/**
 * The replicated state machine: deterministic, so every replica that applies the same commands in the same order
 * holds the same state and produces byte-identical snapshots (PBFT checkpoints compare their digests).
 */
export interface StateMachine {
  /** Apply a command and return its result. Must not throw for any input: a bad command yields an error result. */
  apply(command: Uint8Array): Uint8Array
  /** Answer a read-only command without changing state. */
  query(command: Uint8Array): Uint8Array
  /** Canonical bytes of the whole state (same state, same bytes). */
  snapshot(): Uint8Array
  /** Replace the state with a snapshot's; throws CodecError on malformed bytes. */
  restore(snapshot: Uint8Array): void
  /**
   * The keys a command reads or writes ([] for a malformed command, which changes nothing), so partial-order protocols
   * (EPaxos) order only commands that share a key (core/conflicts.ts). Without it every command interferes.
   */
  keysOf?(command: Uint8Array): readonly string[]
}

export type StateMachineFactory = () => StateMachine
