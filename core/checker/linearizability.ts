/**
 * Linearizability search for one partition of a history (one key), after Wing & Gong with Lowe's just-in-time
 * linearization and Porcupine's memoisation (Athalye, github.com/anishathalye/porcupine, checker.go).
 *
 * Invokes and completions form one list in real-time order. Walking it, the search tries to linearize the next
 * operation whose invoke it meets (apply it to the model, then remove both its entries from the list); meeting a
 * completion means that operation should already have been linearized, so it backtracks. A (set of linearized
 * operations, model state) pair already explored is never explored again: whatever the order that led there, the
 * future is the same. Operations of unknown outcome complete "at infinity" (after everything else), and the
 * search succeeds as soon as every operation that completed ok is linearized: unknown ones still left out are the
 * ones that never took effect.
 *
 * Two additions to Porcupine: read-only operations that fit the current state are linearized eagerly and are not
 * choice points (a partial-order reduction, see placeReadOnly), which removes most backtracking when many clients
 * read concurrently; and the memo keys sets by a Zobrist hash, so a step costs O(1) rather than O(operations).
 */
import type { HistoryOperation } from '../history.ts'
import type { Model } from './model.ts'

/** The search reports its work every STEPS_PER_CHARGE steps; returning true stops it. */
export interface SearchBudget {
  charge(steps: number): boolean
}

export const STEPS_PER_CHARGE = 1024

/** Where the deepest attempt got stuck: the best evidence of what is wrong. */
export interface DeadEnd<State> {
  /** Indexes (into the partition's operations) of the longest linearizable prefix found, in order. */
  readonly prefix: readonly number[]
  /** The model state after that prefix. */
  readonly state: State
  /** The operation that completed without any way to linearize it (and what precedes it) in time. */
  readonly blocked: number
  /** Operations that could have come next (invoked before `blocked` completed), none of which led anywhere. */
  readonly candidates: readonly number[]
}

export type PartitionResult<State> =
  | { readonly kind: 'linearizable'; readonly order: readonly number[]; readonly steps: number }
  | { readonly kind: 'not-linearizable'; readonly deadEnd: DeadEnd<State>; readonly steps: number }
  | { readonly kind: 'exhausted'; readonly steps: number }

/** Characters of memo keys kept before the memo is cleared (it only saves work): bounds memory on hard histories. */
export const MEMO_CHARACTER_BUDGET = 100_000_000

/** Random words for Zobrist hashing (xorshift32 from a fixed seed: the search is deterministic). */
function zobristKeys(n: number, seed: number): Uint32Array {
  const keys = new Uint32Array(n)
  let x = seed | 0
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    keys[i] = x >>> 0
  }
  return keys
}

export interface SearchOptions {
  /** Memoise by the exact set of linearized operations rather than its 64-bit hash (slower, never wrong). */
  readonly exactMemo?: boolean
}

/**
 * `operations` must not contain failed operations (they never took effect) and must be ok or info. Their
 * invokeIndex/completeIndex give the real-time order.
 */
export function searchLinearization<State>(
  operations: readonly HistoryOperation[],
  model: Model<State>,
  budget?: SearchBudget,
  options: SearchOptions = {},
): PartitionResult<State> {
  const n = operations.length
  let required = 0
  for (const op of operations) if (op.status === 'ok') required++
  if (required === 0) return { kind: 'linearizable', order: [], steps: 0 }

  // Entry 2i is operation i's invoke, 2i+1 its completion; HEAD is the list's sentinel.
  const HEAD = 2 * n
  const NIL = -1
  const position = (e: number): number => {
    const op = operations[e >> 1]!
    if ((e & 1) === 0) return op.invokeIndex
    return op.status === 'ok' ? op.completeIndex : Infinity
  }
  const order = Array.from({ length: 2 * n }, (_, e) => e)
  order.sort((a, b) => {
    const pa = position(a)
    const pb = position(b)
    return pa === pb ? a - b : pa < pb ? -1 : 1
  })
  const next = new Int32Array(2 * n + 1)
  const prev = new Int32Array(2 * n + 1)
  let last = HEAD
  for (const e of order) {
    next[last] = e
    prev[e] = last
    last = e
  }
  next[last] = NIL

  const remove = (e: number): void => {
    next[prev[e]!] = next[e]!
    if (next[e] !== NIL) prev[next[e]!] = prev[e]!
  }
  const restore = (e: number): void => {
    next[prev[e]!] = e
    if (next[e] !== NIL) prev[next[e]!] = e
  }
  // Remove invoke then completion; restore in the reverse order (the completion may directly follow the invoke).
  const lift = (op: number): void => { remove(2 * op); remove(2 * op + 1) }
  const unlift = (op: number): void => { restore(2 * op + 1); restore(2 * op) }

  // The memo identifies the linearized set by a 64-bit Zobrist hash (two words, updated in O(1) per step), or, in
  // exact mode, by the set's full bitset (O(n) per step). A hash collision could only prune a branch that might
  // have succeeded, never invent a linearization, so callers confirm a not-linearizable verdict in exact mode.
  const exact = options.exactMemo ?? false
  const zobristLow = zobristKeys(n, 0x9e3779b9)
  const zobristHigh = zobristKeys(n, 0x7f4a7c15)
  const bits = new Uint32Array(exact ? (n + 31) >>> 5 : 0)
  let setLow = 0
  let setHigh = 0
  const toggle = (op: number): void => {
    setLow ^= zobristLow[op]!
    setHigh ^= zobristHigh[op]!
    if (exact) bits[op >>> 5]! ^= 1 << (op & 31)
  }
  const memoKey = (stateKey: string): string => `${exact ? bits.join(',') : `${setLow},${setHigh}`}|${stateKey}`
  const memo = new Set<string>()
  let memoCharacters = 0

  const stackOp = new Int32Array(n)
  const stackState: State[] = new Array<State>(n)
  const stackForced = new Uint8Array(n)
  let depth = 0
  let state = model.init
  let deadEnd: DeadEnd<State> | undefined
  let steps = 0
  let uncharged = 0
  const notLinearizable = (): PartitionResult<State> => {
    budget?.charge(uncharged)
    // A dead end is always recorded before the search can run out of choices: the first backtrack starts at one.
    return { kind: 'not-linearizable', deadEnd: deadEnd!, steps }
  }

  /** Linearizes `op` next unless (set + op, after) was explored already; false if it was. */
  const linearize = (op: number, after: State, forced: boolean): boolean => {
    toggle(op)
    const key = memoKey(model.key(after))
    if (memo.has(key)) {
      toggle(op)
      return false
    }
    memoCharacters += key.length
    if (memoCharacters > MEMO_CHARACTER_BUDGET) {
      memo.clear()
      memoCharacters = key.length
    }
    memo.add(key)
    stackOp[depth] = op
    stackState[depth] = state
    stackForced[depth] = forced ? 1 : 0
    depth++
    state = after
    lift(op)
    if (operations[op]!.status === 'ok') required--
    return true
  }

  // Undo linearizations back to the latest choice point; false when none is left. A read-only operation
  // linearized eagerly (below) is no choice point, so it is undone along with what led to it.
  const backtrack = (): boolean => {
    for (;;) {
      if (depth === 0) return false
      depth--
      const op = stackOp[depth]!
      state = stackState[depth]!
      toggle(op)
      unlift(op)
      if (operations[op]!.status === 'ok') required++
      if (stackForced[depth] === 0) {
        entry = next[2 * op]!
        return true
      }
    }
  }

  /**
   * Partial-order reduction: a read-only operation that can be linearized now (everything that must precede it
   * already is) may as well be: any linearization placing it later stays valid with it moved here, since it
   * changes no state. So alternatives to placing it now need no exploring, and if placing it now was explored
   * already, this whole branch was. Returns 'none' if no such read is among the operations that could come next.
   */
  const placeReadOnly = (): 'placed' | 'explored' | 'none' => {
    for (let e = next[HEAD]!; e !== NIL && (e & 1) === 0; e = next[e]!) {
      const op = e >> 1
      const operation = operations[op]!
      if (!model.readOnly(operation)) continue
      const after = model.step(state, operation)
      if (after === undefined) continue
      return linearize(op, after, true) ? 'placed' : 'explored'
    }
    return 'none'
  }

  let entry = next[HEAD]!
  let lookForReads = true
  for (;;) {
    steps++
    if (++uncharged === STEPS_PER_CHARGE) {
      uncharged = 0
      if (budget?.charge(STEPS_PER_CHARGE)) return { kind: 'exhausted', steps }
    }
    if (required === 0) {
      budget?.charge(uncharged)
      return { kind: 'linearizable', order: Array.from(stackOp.subarray(0, depth)), steps }
    }

    if (lookForReads) {
      const placed = placeReadOnly()
      if (placed === 'placed') {
        entry = next[HEAD]!
        continue
      }
      lookForReads = false
      if (placed === 'explored') {
        if (!backtrack()) return notLinearizable()
        continue
      }
    }

    if (entry === NIL) throw new Error('linearizability search: ran off the end of the history (internal error)')
    if ((entry & 1) === 0) {
      const op = entry >> 1
      const operation = operations[op]!
      // Read-only operations that fit were placed above; those left do not fit this state.
      const after = model.readOnly(operation) ? undefined : model.step(state, operation)
      if (after !== undefined && linearize(op, after, false)) {
        entry = next[HEAD]!
        lookForReads = true
        continue
      }
      entry = next[entry]!
      continue
    }

    // A completion: its operation had to be linearized by now. Keep the deepest such failure as the evidence.
    if (deadEnd === undefined || depth > deadEnd.prefix.length) {
      const candidates: number[] = []
      for (let e = next[HEAD]!; e !== entry; e = next[e]!) if ((e & 1) === 0) candidates.push(e >> 1)
      deadEnd = { prefix: Array.from(stackOp.subarray(0, depth)), state, blocked: entry >> 1, candidates }
    }
    if (!backtrack()) return notLinearizable()
  }
}
