/**
 * What the HTML view of a run shows, as plain data: the client history (one entry per operation), the checker's
 * verdict with the operations to highlight, and for simulated runs the message/fault/status timeline. The page
 * script (viz/page.js) draws it; this module decides what it means (which operations are the violation, which time
 * window to open on), so that logic is typed and unit-tested here rather than in the browser.
 */
import type { CheckResult } from '../core/checker/index.ts'
import { pairOperations, type CasValue, type HistoryEvent, type HistoryOperation } from '../core/history.ts'
import type { SimulationReport } from '../net/sim/run.ts'
import type { SimTimeline, TimelineFault } from '../net/sim/timeline.ts'

/** One operation, compactly (a history can have a million). */
export interface ViewOperation {
  /** Process (client) id. */
  readonly p: number | string
  /** Index into RunView.keys. */
  readonly k: number
  readonly f: string
  /** What it asked for, as text: `write "v"`, `cas "a" -> "b"`, `read`, `delete`. */
  readonly d: string
  /** A read's result as text, when it completed ok. */
  readonly r?: string
  readonly s: 'ok' | 'fail' | 'info'
  readonly t0: number
  /** null: never completed. */
  readonly t1: number | null
}

export interface ViewHighlight {
  readonly key: string
  /** Indexes into ops: the longest linearizable prefix, in linearization order. */
  readonly prefix: readonly number[]
  /** The operation that completed before it could be placed. */
  readonly blocked: number
  /** Operations that could have come next after the prefix. */
  readonly candidates: readonly number[]
  /** The operation that observed an impossible value, and the ones that could have produced that value. */
  readonly needed: number | null
  readonly neededValue: string | null
  readonly producers: readonly number[]
  /** The key's value after the prefix, as text. */
  readonly valueAfterPrefix: string
}

export interface TimeWindow {
  readonly from: number
  readonly to: number
  readonly reason: string
}

export interface RunView {
  readonly title: string
  /** Lines shown under the title (configuration, replay command). */
  readonly details: readonly string[]
  readonly verdict: {
    readonly verdict: CheckResult['verdict']
    /** linearizable, finished and safe. */
    readonly good: boolean
    readonly explanation: string
    readonly problems: readonly string[]
  }
  readonly keys: readonly string[]
  readonly ops: readonly ViewOperation[]
  readonly highlight: ViewHighlight | null
  readonly endMs: number
  /** Faults with their times (for live runs, the only timeline there is). */
  readonly faults: readonly TimelineFault[]
  readonly timeline: SimTimeline | null
  /** false for live runs: they have status and faults but no message trace. */
  readonly messagesRecorded: boolean
  /** The window the page opens on. */
  readonly focus: TimeWindow
}

/** Times to the microsecond: enough to draw, and far fewer digits in the page's JSON. */
const micros = (ms: number): number => Math.round(ms * 1000) / 1000

const show = (v: string | null): string => (v === null ? 'absent' : JSON.stringify(v))

function describe(op: HistoryOperation): string {
  switch (op.f) {
    case 'read': return 'read'
    case 'write': return `write ${show(op.input as string)}`
    case 'delete': return 'delete'
    case 'cas': {
      const [expected, next] = op.input as CasValue
      return `cas ${show(expected)} -> ${show(next)}`
    }
  }
}

/** Messages a default window holds at most when nothing calls for attention: few enough to read each arrow. */
export const DEFAULT_WINDOW_MESSAGES = 300

export interface ViewInput {
  readonly title: string
  readonly details?: readonly string[]
  readonly history: readonly HistoryEvent[]
  readonly check: CheckResult
  readonly problems?: readonly string[]
  readonly finished?: boolean
  readonly faults?: readonly TimelineFault[]
  readonly timeline?: SimTimeline | null
  readonly messagesRecorded?: boolean
  readonly endMs?: number
}

export function buildRunView(input: ViewInput): RunView {
  const operations = pairOperations(input.history)
  const keyIndex = new Map<string, number>()
  const keys: string[] = []
  const byInvoke = new Map<number, number>()
  const ops: ViewOperation[] = operations.map((op, i) => {
    let k = keyIndex.get(op.key)
    if (k === undefined) { keyIndex.set(op.key, k = keys.length); keys.push(op.key) }
    byInvoke.set(op.invokeIndex, i)
    return {
      p: op.process, k, f: op.f, d: describe(op), s: op.status, t0: micros(op.invokeTime),
      t1: op.completeTime === null ? null : micros(op.completeTime),
      ...(op.f === 'read' && op.status === 'ok' ? { r: show(op.output) } : {}),
    }
  })
  const index = (op: HistoryOperation): number => byInvoke.get(op.invokeIndex)!
  const failure = input.check.failures[0]
  const highlight: ViewHighlight | null = failure === undefined ? null : {
    key: failure.key,
    prefix: failure.longestPrefix.map(s => index(s.operation)),
    blocked: index(failure.blocked),
    candidates: failure.unplaced.map(u => index(u.operation)),
    needed: failure.needed === undefined ? null : index(failure.needed.operation),
    neededValue: failure.needed === undefined ? null : show(failure.needed.value),
    producers: failure.needed?.producers.map(index) ?? [],
    valueAfterPrefix: show(failure.value),
  }
  const timeline = input.timeline ?? null
  let endMs = input.endMs ?? timeline?.endMs ?? 0
  for (const op of ops) endMs = Math.max(endMs, op.t1 ?? op.t0)
  const faults = timeline?.faults ?? input.faults ?? []
  const problems = [...(input.problems ?? [])]
  if (input.finished === false) problems.unshift('not every operation completed within the time bound (a stall)')
  return {
    title: input.title,
    details: input.details ?? [],
    verdict: {
      verdict: input.check.verdict,
      good: input.check.ok && problems.length === 0,
      explanation: input.check.explanation,
      problems,
    },
    keys, ops, highlight, endMs, faults, timeline, messagesRecorded: input.messagesRecorded ?? timeline !== null,
    focus: focusWindow(ops, highlight, timeline, endMs, input.finished ?? true),
  }
}

/**
 * The window to open on: around the first violation (from the first operation the explanation involves to the
 * blocked one's completion), else around the stall (the last completions before progress stopped), else the
 * whole run if it is small enough to read, else DEFAULT_WINDOW_MESSAGES messages from just before the first crash or
 * partition (or from the start).
 */
export function focusWindow(ops: readonly ViewOperation[], h: ViewHighlight | null, timeline: SimTimeline | null,
  endMs: number, finished: boolean): TimeWindow {
  const pad = (from: number, to: number, reason: string): TimeWindow => {
    const span = Math.max(to - from, 20)
    return { from: Math.max(0, from - span * 0.25), to: Math.min(endMs, to + span * 0.25), reason }
  }
  if (h !== null) {
    const involved = [h.blocked, ...(h.needed !== null ? [h.needed] : []), ...h.candidates, ...h.producers, ...h.prefix.slice(-2)]
    const from = Math.min(...involved.map(i => ops[i]!.t0))
    const to = Math.max(...involved.map(i => ops[i]!.t1 ?? ops[i]!.t0))
    return pad(from, Math.min(to, from + 5000), 'around the first violation')
  }
  if (!finished) {
    let lastDone = 0
    for (const op of ops) if (op.t1 !== null) lastDone = Math.max(lastDone, op.t1)
    return pad(Math.max(0, lastDone - 500), Math.min(endMs, lastDone + 1500), 'around the stall (the last completions)')
  }
  const at = timeline?.messages.at ?? []
  if (at.length <= DEFAULT_WINDOW_MESSAGES) return { from: 0, to: endMs, reason: 'the whole run' }
  const fault = timeline?.faults.find(f => f.kind === 'crash' || f.kind === 'partition' || f.kind === 'pause')
  const sorted = [...at].sort((a, b) => a - b)
  let first = 0
  if (fault !== undefined) {
    while (first < sorted.length && sorted[first]! < fault.at) first++
    first = Math.max(0, first - Math.floor(DEFAULT_WINDOW_MESSAGES / 6))
  }
  const last = Math.min(sorted.length - 1, first + DEFAULT_WINDOW_MESSAGES - 1)
  const from = first === 0 ? 0 : sorted[first]!
  return {
    from, to: Math.max(sorted[last]!, from + 1),
    reason: fault !== undefined ? `${DEFAULT_WINDOW_MESSAGES} messages around the first ${fault.kind}` : `the first ${DEFAULT_WINDOW_MESSAGES} messages`,
  }
}

/** The view of one simulated run (`npm run sim -- --html`, soak's failing seeds). */
export function simulationView(report: SimulationReport, replay: string): RunView {
  const problems = [...report.safetyViolations.map(v => `safety: ${v}`)]
  return buildRunView({
    title: `${report.protocol}, n = ${report.n}, seed ${report.seed}`,
    details: [
      `${report.ops.ok} ok, ${report.ops.fail} fail, ${report.ops.info} info of ${report.ops.requested} operations; `
        + `${(report.virtualMs / 1000).toFixed(3)} s virtual; trace fingerprint ${report.traceHash}`,
      `replay: ${replay}`,
    ],
    history: report.history,
    check: report.check,
    problems,
    finished: report.finished,
    timeline: report.timeline ?? null,
  })
}
