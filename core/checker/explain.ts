/** Human-readable checker verdicts: what was checked and, for a failing key, where the history stops making sense. */
import type { CasValue, HistoryOperation } from '../history.ts'
import type { CheckResult } from './index.ts'

/** How many prefix operations to print before the point of failure (the structured result has them all). */
const PREFIX_SHOWN = 12

const show = (v: string | null): string => (v === null ? 'absent' : JSON.stringify(v))

/** e.g. `process 2 cas "a" -> "b" (invoked t=10, ok t=14)`. */
export function describeOperation(op: HistoryOperation): string {
  let what: string
  switch (op.f) {
    case 'read': what = op.status === 'ok' ? `read -> ${show(op.output)}` : 'read'; break
    case 'write': what = `write ${show(op.input as string)}`; break
    case 'delete': what = 'delete'; break
    case 'cas': {
      const [expected, next] = op.input as CasValue
      what = `cas ${show(expected)} -> ${show(next)}`
      break
    }
  }
  const completion = op.completeTime === null ? 'never completed' : `${op.status} t=${op.completeTime}`
  return `process ${JSON.stringify(op.process)} ${what} (invoked t=${op.invokeTime}, ${completion})`
}

export function explain(result: Omit<CheckResult, 'explanation'>): string {
  const counts = `${result.opsChecked} operations over ${result.keysChecked} of ${result.keysTotal} keys`
  if (result.verdict === 'linearizable') return `linearizable: checked ${counts}`
  if (result.verdict === 'unknown') return `unknown: ${result.unknownReason}`

  const lines: string[] = []
  const others = result.failures.length - 1
  lines.push(`not linearizable: key ${JSON.stringify(result.failures[0]!.key)}`
    + (others > 0 ? ` and ${others} other key${others > 1 ? 's' : ''} (${result.failures.slice(1, 6).map((f) => JSON.stringify(f.key)).join(', ')}${others > 5 ? ', ...' : ''})` : '')
    + ` (checked ${counts})`)
  const f = result.failures[0]!
  lines.push(`key ${JSON.stringify(f.key)}: ${f.operations.length} operations; the longest linearizable prefix has `
    + `${f.longestPrefix.length}, leaving the value ${show(f.value)}:`)
  const hidden = f.longestPrefix.length - PREFIX_SHOWN
  if (hidden > 0) lines.push(`  ... ${hidden} earlier operations`)
  for (const step of f.longestPrefix.slice(Math.max(0, hidden))) {
    lines.push(`  ${describeOperation(step.operation)}  => ${show(step.valueAfter)}`)
  }
  lines.push(`then ${describeOperation(f.blocked)} completed, but no operation can come next:`)
  for (const u of f.unplaced) lines.push(`  ${describeOperation(u.operation)}: ${u.reason}`)
  return lines.join('\n')
}
