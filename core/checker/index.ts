/**
 * Linearizability checking of key-value histories. Keys are independent registers, so a history is linearizable
 * exactly when each key's sub-history is (Herlihy & Wing's locality): we partition by key and search each
 * partition on its own, which keeps the search small even for long histories over many keys.
 */
import { pairOperations } from '../history.ts'
import type { HistoryEvent, HistoryOperation } from '../history.ts'
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
    failures.push({
      key,
      operations: partition,
      longestPrefix,
      value: deadEnd.state,
      blocked: searched[deadEnd.blocked]!,
      unplaced: deadEnd.candidates.map((i) => {
        const operation = searched[i]!
        const after = kvKeyModel.step(deadEnd.state, operation)
        return {
          operation,
          reason: after === undefined
            ? kvKeyModel.whyNot(deadEnd.state, operation)
            : `could apply (value becomes ${kvKeyModel.show(after)}) but no order continuing from there works`,
        }
      }),
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
