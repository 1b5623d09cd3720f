/**
 * Client-operation histories in the Jepsen convention, for the linearizability checker.
 *
 * Each client operation is an `invoke` event followed by one completion from the same process: `ok` (it took
 * effect; a read's `ok` carries the value read), `fail` (it definitely did not take effect, e.g. a cas whose compare
 * failed, or a request rejected before it was proposed) or `info` (outcome unknown: it may take effect at any time
 * after its invoke, or never). An invoke without a completion is treated like `info`. The order of events is the
 * real-time order; `time` (virtual or real milliseconds) is carried for people reading the history and must not
 * decrease.
 *
 * On disk a history is JSON Lines, one event per line:
 *   {"process":1,"type":"invoke","f":"write","key":"k","value":"v","time":12}
 */
import { CodecError } from './errors.ts'

export type EventType = 'invoke' | 'ok' | 'fail' | 'info'
export type OpFunction = 'read' | 'write' | 'cas' | 'delete'
/** A client id, as a number or a name. One process has at most one operation outstanding. */
export type ProcessId = number | string
/** `[expected, new]`; expected null means "only if the key is absent". */
export type CasValue = readonly [string | null, string | null]
/** read: null on invoke, the value read on ok (null if absent); write: the value; cas: CasValue; delete: null. */
export type EventValue = string | null | CasValue

export interface HistoryEvent {
  readonly process: ProcessId
  readonly type: EventType
  readonly f: OpFunction
  readonly key: string
  readonly value: EventValue
  readonly time: number
}

/** An invoke paired with its completion. */
export interface HistoryOperation {
  readonly process: ProcessId
  readonly f: OpFunction
  readonly key: string
  /** The invoke's value: what was written, the cas pair; null for read and delete. */
  readonly input: EventValue
  /** For an ok read, the value read; otherwise null. */
  readonly output: string | null
  /** `info` also stands for an invoke that never completed. */
  readonly status: 'ok' | 'fail' | 'info'
  /** Position of the invoke and completion in the event list (completion -1 if none). */
  readonly invokeIndex: number
  readonly completeIndex: number
  readonly invokeTime: number
  /** null if the operation never completed. */
  readonly completeTime: number | null
}

const EVENT_TYPES: readonly string[] = ['invoke', 'ok', 'fail', 'info']
const FUNCTIONS: readonly string[] = ['read', 'write', 'cas', 'delete']

function describe(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value)
}

function isStringOrNull(value: unknown): value is string | null {
  return value === null || typeof value === 'string'
}

/** Checks one event's shape; returns what is wrong, or undefined if it is well formed. */
export function eventProblem(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return `expected a JSON object, got ${describe(event)}`
  const e = event as Record<string, unknown>
  const p = e.process
  if (!((typeof p === 'number' && Number.isSafeInteger(p) && p >= 0) || (typeof p === 'string' && p !== ''))) {
    return `"process" must be a non-negative integer or a non-empty string, got ${describe(p)}`
  }
  if (typeof e.type !== 'string' || !EVENT_TYPES.includes(e.type)) {
    return `"type" must be one of ${EVENT_TYPES.join(', ')}, got ${describe(e.type)}`
  }
  if (typeof e.f !== 'string' || !FUNCTIONS.includes(e.f)) return `"f" must be one of ${FUNCTIONS.join(', ')}, got ${describe(e.f)}`
  if (typeof e.key !== 'string') return `"key" must be a string, got ${describe(e.key)}`
  if (typeof e.time !== 'number' || !Number.isFinite(e.time)) return `"time" must be a finite number, got ${describe(e.time)}`
  if (!('value' in e)) return `"value" is missing (use null when there is none)`
  const v = e.value
  switch (e.f) {
    case 'read':
      if (e.type === 'invoke' && v !== null) return `a read's invoke must have value null, got ${describe(v)}`
      if (!isStringOrNull(v)) return `a read's value must be a string or null, got ${describe(v)}`
      break
    case 'write':
      if (typeof v !== 'string') return `a write's value must be a string, got ${describe(v)}`
      break
    case 'delete':
      if (v !== null) return `a delete's value must be null, got ${describe(v)}`
      break
    case 'cas':
      if (!Array.isArray(v) || v.length !== 2 || !isStringOrNull(v[0]) || !isStringOrNull(v[1])) {
        return `a cas's value must be [expected, new] with each a string or null, got ${describe(v)}`
      }
      break
  }
  return undefined
}

function eventOf(e: HistoryEvent): HistoryEvent {
  // Copy only the known fields, in the documented order (so JSON output is stable).
  const value = Array.isArray(e.value) ? [e.value[0], e.value[1]] as const : e.value
  return { process: e.process, type: e.type, f: e.f, key: e.key, value, time: e.time }
}

/**
 * Pairs invokes with completions, checking the rules that span events: one outstanding operation per process, a
 * completion matches its invoke's function and key, time never goes backwards. Throws CodecError naming the event
 * (`locate` turns an event index into "line 7" or "event 7").
 */
export function pairOperations(
  events: readonly HistoryEvent[],
  locate: (index: number) => string = (i) => `event ${i + 1}`,
): HistoryOperation[] {
  const pending = new Map<ProcessId, number>()
  const completion = new Map<number, number>()
  let lastTime = -Infinity
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    const problem = eventProblem(e)
    if (problem !== undefined) throw new CodecError(`${locate(i)}: ${problem}`)
    if (e.time < lastTime) throw new CodecError(`${locate(i)}: time ${e.time} is earlier than the previous event's ${lastTime}`)
    lastTime = e.time
    const open = pending.get(e.process)
    if (e.type === 'invoke') {
      if (open !== undefined) {
        throw new CodecError(`${locate(i)}: process ${JSON.stringify(e.process)} invokes a new operation while its `
          + `operation invoked at ${locate(open)} has not completed`)
      }
      pending.set(e.process, i)
      continue
    }
    if (open === undefined) {
      throw new CodecError(`${locate(i)}: ${e.type} for process ${JSON.stringify(e.process)}, which has no operation in progress`)
    }
    const invoke = events[open]!
    if (invoke.f !== e.f || invoke.key !== e.key) {
      throw new CodecError(`${locate(i)}: ${e.type} is for ${e.f} of key ${JSON.stringify(e.key)} but process `
        + `${JSON.stringify(e.process)} invoked ${invoke.f} of key ${JSON.stringify(invoke.key)} at ${locate(open)}`)
    }
    pending.delete(e.process)
    completion.set(open, i)
  }

  const operations: HistoryOperation[] = []
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    if (e.type !== 'invoke') continue
    const done = completion.get(i)
    const c = done === undefined ? undefined : events[done]!
    const status = c === undefined ? 'info' : c.type as 'ok' | 'fail' | 'info'
    operations.push({
      process: e.process,
      f: e.f,
      key: e.key,
      input: eventOf(e).value,
      output: e.f === 'read' && status === 'ok' ? (c!.value as string | null) : null,
      status,
      invokeIndex: i,
      completeIndex: done ?? -1,
      invokeTime: e.time,
      completeTime: c?.time ?? null,
    })
  }
  return operations
}

/** One operation in progress, returned by `HistoryRecorder.invoke`; complete it exactly once. */
export class PendingOperation {
  readonly process: ProcessId
  readonly f: OpFunction
  readonly key: string
  readonly value: EventValue
  private readonly onComplete: (type: EventType, time: number, value: EventValue) => void
  private completed = false

  constructor(process: ProcessId, f: OpFunction, key: string, value: EventValue,
    onComplete: (type: EventType, time: number, value: EventValue) => void) {
    this.onComplete = onComplete
    this.process = process
    this.f = f
    this.key = key
    this.value = value
  }

  /** It took effect. A read must pass the value it read (null if the key was absent). */
  ok(time: number, valueRead?: string | null): void {
    if (this.f === 'read' && valueRead === undefined) throw new Error('history: a read completes ok with the value it read')
    this.complete('ok', time, this.f === 'read' ? valueRead! : this.value)
  }

  /** It definitely did not take effect (including a cas whose compare failed). */
  fail(time: number): void {
    this.complete('fail', time, this.f === 'read' ? null : this.value)
  }

  /** Its outcome is unknown (timeout, connection lost): it may take effect later, or never. */
  info(time: number): void {
    this.complete('info', time, this.f === 'read' ? null : this.value)
  }

  get done(): boolean {
    return this.completed
  }

  private complete(type: EventType, time: number, value: EventValue): void {
    if (this.completed) throw new Error(`history: operation ${this.f} ${JSON.stringify(this.key)} of process ${JSON.stringify(this.process)} completed twice`)
    this.onComplete(type, time, value)
    this.completed = true
  }
}

/** Collects a history as clients run; rejects misuse (two outstanding operations per process, time going backwards). */
export class HistoryRecorder {
  private readonly recorded: HistoryEvent[] = []
  private readonly inProgress = new Set<ProcessId>()
  private lastTime = -Infinity

  invoke(process: ProcessId, f: OpFunction, key: string, value: EventValue, time: number): PendingOperation {
    if (this.inProgress.has(process)) {
      throw new Error(`history: process ${JSON.stringify(process)} invoked ${f} while its previous operation is still in progress`)
    }
    this.record({ process, type: 'invoke', f, key, value, time })
    this.inProgress.add(process)
    return new PendingOperation(process, f, key, value, (type, doneTime, doneValue) => {
      this.record({ process, type, f, key, value: doneValue, time: doneTime })
      this.inProgress.delete(process)
    })
  }

  /** Number of operations invoked and not yet completed. */
  get pendingCount(): number {
    return this.inProgress.size
  }

  get events(): readonly HistoryEvent[] {
    return this.recorded
  }

  private record(event: HistoryEvent): void {
    const problem = eventProblem(event)
    if (problem !== undefined) throw new Error(`history: ${problem}`)
    if (event.time < this.lastTime) throw new Error(`history: time ${event.time} is earlier than the previous event's ${this.lastTime}`)
    this.lastTime = event.time
    this.recorded.push(eventOf(event))
  }
}

export function toJsonLines(events: readonly HistoryEvent[]): string {
  let out = ''
  for (const e of events) out += JSON.stringify(eventOf(e)) + '\n'
  return out
}

/** Parses JSON Lines (blank lines allowed), validating every event and the pairing; errors name the line. */
export function parseHistory(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = []
  const lineOf: number[] = []
  const lines = text.split('\n')
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim()
    if (line === '') continue
    let raw: unknown
    try {
      raw = JSON.parse(line)
    } catch (err) {
      throw new CodecError(`line ${n + 1}: not valid JSON (${(err as Error).message})`)
    }
    const problem = eventProblem(raw)
    if (problem !== undefined) throw new CodecError(`line ${n + 1}: ${problem}`)
    events.push(eventOf(raw as HistoryEvent))
    lineOf.push(n + 1)
  }
  pairOperations(events, (i) => `line ${lineOf[i]}`)
  return events
}
