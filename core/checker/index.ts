/**
 * Linearizability checking of key-value histories. Keys are independent registers, so a history is linearizable
 * exactly when each key's sub-history is (Herlihy & Wing's locality): we partition by key and search each
 * partition on its own, which keeps the search small even for long histories over many keys.
 */
import { pairOperations } from '../history.ts'
import type { CasValue, HistoryEvent, HistoryOperation } from '../history.ts'
import { kvKeyModel } from './kv-model.ts'
import type { KvKeyState } from './kv-model.ts'
import { searchLinearization } from './linearizability.ts'
import type { SearchBudget } from './linearizability.ts'
import { explain } from './explain.ts'

export { describeOperation } from './explain.ts'

export type Verdict = 'linearizable' | 'not-linearizable' | 'unknown'

export interface CheckOptions {
  /** Wall-clock budget for the whole check, in ms (default 60 000). Exceeding it gives verdict `unknown`. */
  readonly timeLimitMs?: number
  /** Budget in search steps for the whole check (deterministic, unlike time). Exceeding it gives `unknown`. */
  readonly maxSteps?: number
  /** Clock for the time limit (default performance.now). */
  readonly now?: () => number
}

/** One operation of a failing key and why it could not be placed after the longest linearizable prefix. */
export interface UnplacedOperation {
  readonly operation: HistoryOperation
  readonly reason: string
}

export interface KeyFailure {
  readonly key: string
  /** Operations of this key that the search considered (failed operations and unknown reads are left out). */
  readonly operations: readonly HistoryOperation[]
  /** The longest linearizable prefix found, in linearization order, with the key's value after each. */
  readonly longestPrefix: readonly { readonly operation: HistoryOperation; readonly valueAfter: KvKeyState }[]
  /** The key's value after that prefix. */
  readonly value: KvKeyState
  /** The operation that completed before it (or something it depends on) could be placed. */
  readonly blocked: HistoryOperation
  /** The operations that could have come next after the prefix, and why none could. */
  readonly unplaced: readonly UnplacedOperation[]
  /**
   * For viewers: the operation that observed a value the prefix does not leave (a read's result, a cas's expected
   * value; the blocked operation when it is one), and the operations of this key that write that value, i.e. the
   * ones that could have produced it. Absent when every unplaced operation could apply.
   */
  readonly needed?: NeededValue
}

export interface NeededValue {
  readonly operation: HistoryOperation
  readonly value: KvKeyState
  /** Writes, cas and deletes of this key (not failed ones) whose result is `value`. */
  readonly producers: readonly HistoryOperation[]
}

/** The value an operation needs the key to hold (read result, cas expected), or undefined if it needs none. */
function valueNeeded(op: HistoryOperation): KvKeyState | undefined {
  if (op.f === 'read') return op.output
  if (op.f === 'cas') return (op.input as CasValue)[0]
  return undefined
}

function produces(op: HistoryOperation, value: KvKeyState): boolean {
  if (op.f === 'write') return op.input === value
  if (op.f === 'cas') return (op.input as CasValue)[1] === value
  if (op.f === 'delete') return value === null
  return false
}

function neededValue(partition: readonly HistoryOperation[], blocked: HistoryOperation,
  unplaced: readonly { operation: HistoryOperation; fits: boolean }[]): NeededValue | undefined {
  const misfit = unplaced.find(u => u.operation === blocked && !u.fits) ?? unplaced.find(u => !u.fits && valueNeeded(u.operation) !== undefined)
  const operation = misfit?.operation ?? (valueNeeded(blocked) !== undefined ? blocked : undefined)
  if (operation === undefined) return undefined
  const value = valueNeeded(operation)!
  return { operation, value, producers: partition.filter(op => op !== operation && produces(op, value)) }
}

export interface CheckResult {
  readonly verdict: Verdict
  /** true only when the verdict is `linearizable`. */
  readonly ok: boolean
  readonly keysTotal: number
  readonly keysChecked: number
  /** Operations in the checked keys' partitions (after dropping failed operations and unknown reads). */
  readonly opsChecked: number
  /** Operations in the history (invokes), including dropped ones. */
  readonly opsTotal: number
  readonly steps: number
  /** Every non-linearizable key found, in order of first appearance in the history. */
  readonly failures: readonly KeyFailure[]
  /** Set when the verdict is `unknown`. */
  readonly unknownReason?: string
  readonly explanation: string
}

export const DEFAULT_TIME_LIMIT_MS = 60_000

/** Failed operations never took effect; an unknown read has no effect and no result to check. */
function takesPart(op: HistoryOperation): boolean {
  return op.status === 'ok' || (op.status === 'info' && op.f !== 'read')
}

/** Throws CodecError if the events are malformed or badly paired (see pairOperations). */
export function checkHistory(events: readonly HistoryEvent[], options: CheckOptions = {}): CheckResult {
  return checkOperations(pairOperations(events), options)
}

export function checkOperations(operations: readonly HistoryOperation[], options: CheckOptions = {}): CheckResult {
  const now = options.now ?? (() => performance.now())
  const timeLimit = options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS
  const maxSteps = options.maxSteps ?? Infinity
  const started = now()
  let steps = 0
  let exhaustedBy: string | undefined
  const budget: SearchBudget = {
    charge(n) {
      steps += n
      if (steps > maxSteps) exhaustedBy = `the step budget of ${maxSteps} search steps`
      else if (now() - started > timeLimit) exhaustedBy = `the time limit of ${timeLimit} ms`
      return exhaustedBy !== undefined
    },
  }

  const byKey = new Map<string, HistoryOperation[]>()
  for (const op of operations) {
    if (!takesPart(op)) continue
    let partition = byKey.get(op.key)
    if (partition === undefined) byKey.set(op.key, partition = [])
    partition.push(op)
  }

  const failures: KeyFailure[] = []
  let keysChecked = 0
  let opsChecked = 0
  let unknownKey: string | undefined
  for (const [key, partition] of byKey) {
    const searched = kvKeyModel.prune?.(partition) ?? partition
    let result = searchLinearization(searched, kvKeyModel, budget)
    // The fast search memoises by hash; confirm a violation with the exact search before reporting it.
    if (result.kind === 'not-linearizable') result = searchLinearization(searched, kvKeyModel, budget, { exactMemo: true })
    if (result.kind === 'exhausted') {
      unknownKey = key
      break
    }
    keysChecked++
    opsChecked += partition.length
    if (result.kind === 'linearizable') continue
    const { deadEnd } = result
    let value: KvKeyState = kvKeyModel.init
    const longestPrefix = deadEnd.prefix.map((i) => {
      const operation = searched[i]!
      value = kvKeyModel.step(value, operation) ?? value
      return { operation, valueAfter: value }
    })
    const blocked = searched[deadEnd.blocked]!
    const tried = deadEnd.candidates.map((i) => {
      const operation = searched[i]!
      return { operation, after: kvKeyModel.step(deadEnd.state, operation) }
    })
    const needed = neededValue(partition, blocked, tried.map(t => ({ operation: t.operation, fits: t.after !== undefined })))
    failures.push({
      key,
      operations: partition,
      longestPrefix,
      value: deadEnd.state,
      blocked,
      unplaced: tried.map(({ operation, after }) => ({
        operation,
        reason: after === undefined
          ? kvKeyModel.whyNot(deadEnd.state, operation)
          : `could apply (value becomes ${kvKeyModel.show(after)}) but no order continuing from there works`,
      })),
      ...(needed !== undefined ? { needed } : {}),
    })
  }

  const verdict: Verdict = failures.length > 0 ? 'not-linearizable' : unknownKey !== undefined ? 'unknown' : 'linearizable'
  const unknownReason = verdict === 'unknown'
    ? `checking key ${JSON.stringify(unknownKey)} exceeded ${exhaustedBy}; ${keysChecked} of ${byKey.size} keys were checked`
    : undefined
  const summary = {
    verdict,
    ok: verdict === 'linearizable',
    keysTotal: byKey.size,
    keysChecked,
    opsChecked,
    opsTotal: operations.length,
    steps,
    failures,
    ...(unknownReason !== undefined ? { unknownReason } : {}),
  }
  return { ...summary, explanation: explain(summary) }
}
