/**
 * A sequential specification for the linearizability search: the state of one partition (one key) and how each
 * operation changes it. `step` returns undefined when the operation, with its recorded output, is impossible in
 * that state. The search memoises explored states by `key`, which must be equal exactly for equal states.
 */
import type { HistoryOperation } from '../history.ts'

export interface Model<State> {
  readonly init: State
  step(state: State, op: HistoryOperation): State | undefined
  /** True for operations that never change the state (reads): the search may linearize them eagerly. */
  readOnly(op: HistoryOperation): boolean
  key(state: State): string
  /**
   * Optionally drop operations of unknown outcome that provably cannot matter (some linearization leaves them
   * out whenever any linearization exists). Each one left in the search but never linearized slows it down.
   */
  prune?(operations: readonly HistoryOperation[]): HistoryOperation[]
  /** Why `op` cannot follow `state` (for failure reports); only called when step returned undefined. */
  whyNot(state: State, op: HistoryOperation): string
  show(state: State): string
}
