/**
 * Histories in the formats other checkers read, so a run can be cross-checked with the tools the field trusts:
 *
 * - `jsonl`: ours (core/history.ts), one Jepsen-style event per line.
 * - `jepsen-edn`: Knossos / Elle's EDN, one op map per line, with keys as Jepsen's independent tuples:
 *     {:type :invoke, :f :write, :value ["k1" "v"], :process 1000, :time 0, :index 0}
 *   `:time` is in nanoseconds (Jepsen's unit; ours is milliseconds). A read's invoke carries `["k" nil]`, its ok the
 *   value read; cas is `["k" ["expected" "new"]]`; a delete is written as `:f :write` of nil (in Knossos' cas-register
 *   model nil is the absent value, so the two mean the same) and read back as a delete.
 * - `porcupine`: a JSON array of Porcupine operations (github.com/anishathalye/porcupine `Operation`: ClientId,
 *   Input, Call, Output, Return; Go's encoding/json matches the lower-case names). Call and Return are positions in
 *   the real-time order (event indexes), which Porcupine only compares; an operation of unknown outcome returns "at
 *   infinity" (after every event) with output `{"unknown": true}`, the way Porcupine models a timeout. Failed
 *   operations are kept with `"status": "fail"` (they never took effect: a Porcupine model should skip them). The
 *   extra fields `callTime`, `returnTime` and `returnIndex` carry our times and the real completion position, so
 *   the file reads back to the same history.
 *
 * Reading detects the format from the first characters; every reader validates through core/history.ts.
 */
import { CodecError } from './errors.ts'
import { eventProblem, pairOperations, parseHistory, toJsonLines } from './history.ts'
import type { CasValue, EventType, EventValue, HistoryEvent, OpFunction, ProcessId } from './history.ts'

export type HistoryFormat = 'jsonl' | 'jepsen-edn' | 'porcupine'
export const HISTORY_FORMATS: readonly HistoryFormat[] = ['jsonl', 'jepsen-edn', 'porcupine']

export function formatHistory(events: readonly HistoryEvent[], format: HistoryFormat): string {
  switch (format) {
    case 'jsonl': return toJsonLines(events)
    case 'jepsen-edn': return toJepsenEdn(events)
    case 'porcupine': return toPorcupine(events)
  }
}

/** Which format a file is in, from its first characters. */
export function detectHistoryFormat(text: string): HistoryFormat {
  const s = text.replace(/^(\s|,|;[^\n]*\n)*/, '')
  if (s.startsWith('[')) {
    const inner = s.slice(1).trimStart()
    return inner.startsWith('{') && inner.slice(1).trimStart().startsWith('"') ? 'porcupine' : inner === ']' ? 'porcupine' : 'jepsen-edn'
  }
  if (s.startsWith('{') && s.slice(1).trimStart().startsWith(':')) return 'jepsen-edn'
  if (s.startsWith('#') || s.startsWith('(')) return 'jepsen-edn'
  return 'jsonl'
}

/** Parses a history in any of the formats (detected unless given); errors name the line or operation. */
export function parseAnyHistory(text: string, format: HistoryFormat = detectHistoryFormat(text)): HistoryEvent[] {
  switch (format) {
    case 'jsonl': return parseHistory(text)
    case 'jepsen-edn': return parseJepsenEdn(text)
    case 'porcupine': return parsePorcupine(text)
  }
}

// ---------------------------------------------------------------- Jepsen EDN

const ednString = (s: string): string => JSON.stringify(s) // EDN strings use the same escapes for what we write
const ednValue = (v: string | null): string => (v === null ? 'nil' : ednString(v))
const NS_PER_MS = 1_000_000

export function toJepsenEdn(events: readonly HistoryEvent[]): string {
  let out = ''
  events.forEach((e, index) => {
    let f: string = e.f
    let value: string
    if (e.f === 'cas') {
      const [expected, next] = e.value as CasValue
      value = `[${ednValue(expected)} ${ednValue(next)}]`
    } else if (e.f === 'delete') {
      f = 'write'
      value = 'nil'
    } else {
      value = ednValue(e.value as string | null)
    }
    const process = typeof e.process === 'number' ? String(e.process) : ednString(e.process)
    out += `{:type :${e.type}, :f :${f}, :value [${ednString(e.key)} ${value}], :process ${process}, `
      + `:time ${Math.round(e.time * NS_PER_MS)}, :index ${index}}\n`
  })
  return out
}

/** The EDN subset histories use: maps, vectors, lists, sets, keywords, strings, numbers, nil, booleans, symbols. */
type Edn = null | boolean | number | string | { readonly keyword: string } | { readonly symbol: string } | Edn[] | Map<string, Edn>

class EdnReader {
  private pos = 0
  private readonly text: string
  constructor(text: string) { this.text = text }

  line(at = this.pos): number {
    let n = 1
    for (let i = 0; i < at && i < this.text.length; i++) if (this.text.charCodeAt(i) === 10) n++
    return n
  }

  private fail(message: string): never {
    throw new CodecError(`line ${this.line()}: ${message}`)
  }

  skipSpace(): void {
    const t = this.text
    while (this.pos < t.length) {
      const c = t[this.pos]!
      if (c === ';') { while (this.pos < t.length && t[this.pos] !== '\n') this.pos++ }
      else if (c === ',' || /\s/.test(c)) this.pos++
      else break
    }
  }

  get done(): boolean {
    this.skipSpace()
    return this.pos >= this.text.length
  }

  get offset(): number { return this.pos }

  read(): Edn {
    this.skipSpace()
    const t = this.text
    const c = t[this.pos]
    if (c === undefined) this.fail('unexpected end of input')
    if (c === '{') return this.map()
    if (c === '[' || c === '(') return this.seq(c === '[' ? ']' : ')')
    if (c === '#') {
      this.pos++
      if (t[this.pos] === '{') return this.seq('}', 1)
      if (t[this.pos] === '_') { this.pos++; this.read(); return this.read() } // #_ discards the next form
      this.token() // a tag such as #jepsen.history.Op: read what it tags
      return this.read()
    }
    if (c === '"') return this.string()
    if (c === ':') { this.pos++; return { keyword: this.token() } }
    if (c === '\\') this.fail('EDN characters are not supported in histories')
    const tok = this.token()
    if (tok === 'nil') return null
    if (tok === 'true') return true
    if (tok === 'false') return false
    if (/^[+-]?\d/.test(tok)) {
      const n = Number(tok.replace(/[NM]$/, ''))
      if (!Number.isFinite(n)) this.fail(`bad number ${tok}`)
      return n
    }
    return { symbol: tok }
  }

  private token(): string {
    const start = this.pos
    while (this.pos < this.text.length && !/[\s,{}[\]()";]/.test(this.text[this.pos]!)) this.pos++
    if (this.pos === start) this.fail(`unexpected ${JSON.stringify(this.text[this.pos])}`)
    return this.text.slice(start, this.pos)
  }

  private string(): string {
    const t = this.text
    let out = ''
    this.pos++
    for (;;) {
      const c = t[this.pos++]
      if (c === undefined) this.fail('unterminated string')
      if (c === '"') return out
      if (c !== '\\') { out += c; continue }
      const e = t[this.pos++]
      switch (e) {
        case 'n': out += '\n'; break
        case 't': out += '\t'; break
        case 'r': out += '\r'; break
        case 'b': out += '\b'; break
        case 'f': out += '\f'; break
        case '"': case '\\': case '/': out += e; break
        case 'u': {
          const hex = t.slice(this.pos, this.pos + 4)
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail(`bad \\u escape`)
          out += String.fromCharCode(parseInt(hex, 16))
          this.pos += 4
          break
        }
        default: this.fail(`unknown string escape \\${e ?? ''}`)
      }
    }
  }

  private seq(close: string, skip = 0): Edn[] {
    this.pos += 1 + skip
    const items: Edn[] = []
    for (;;) {
      this.skipSpace()
      if (this.text[this.pos] === close) { this.pos++; return items }
      if (this.pos >= this.text.length) this.fail(`missing ${close}`)
      items.push(this.read())
    }
  }

  private map(): Map<string, Edn> {
    const items = this.seq('}')
    if (items.length % 2 !== 0) this.fail('a map needs an even number of forms')
    const m = new Map<string, Edn>()
    for (let i = 0; i < items.length; i += 2) {
      const k = items[i]!
      const name = typeof k === 'object' && k !== null && 'keyword' in k ? k.keyword : JSON.stringify(k)
      m.set(name, items[i + 1]!)
    }
    return m
  }
}

const keywordOf = (v: Edn | undefined): string | undefined =>
  typeof v === 'object' && v !== null && 'keyword' in v ? v.keyword : undefined

function scalar(v: Edn | undefined, what: string): string | null {
  if (v === null || v === undefined) return null
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  throw new Error(`${what} must be a string, number or nil`)
}

/** Reads Knossos/Elle EDN: op maps one after another, or one vector of them. Nemesis ops are skipped. */
export function parseJepsenEdn(text: string): HistoryEvent[] {
  const reader = new EdnReader(text)
  const forms: { form: Edn; line: number }[] = []
  while (!reader.done) {
    reader.skipSpace()
    const line = reader.line(reader.offset)
    const form = reader.read()
    if (Array.isArray(form) && forms.length === 0 && reader.done) {
      for (const f of form) forms.push({ form: f, line })
    } else {
      forms.push({ form, line })
    }
  }
  const events: HistoryEvent[] = []
  const lineOf: number[] = []
  for (const { form, line } of forms) {
    const where = `line ${line}`
    if (!(form instanceof Map)) throw new CodecError(`${where}: expected an op map {:type ..., :f ..., :value ...}`)
    const processForm = form.get('process')
    if (keywordOf(processForm) !== undefined) continue // :nemesis and other non-client processes
    let process: ProcessId
    if (typeof processForm === 'number' || typeof processForm === 'string') process = processForm
    else throw new CodecError(`${where}: :process must be a number or string`)
    const type = keywordOf(form.get('type'))
    let f = keywordOf(form.get('f'))
    const raw = form.get('value')
    if (!Array.isArray(raw) || raw.length !== 2) {
      throw new CodecError(`${where}: :value must be an independent-key tuple [key value] (got ${raw === undefined ? 'nothing' : 'something else'})`)
    }
    let key: string
    let value: EventValue
    try {
      key = scalar(raw[0], 'the key') ?? 'nil'
      const v = raw[1]
      if (f === 'cas') {
        if (!Array.isArray(v) || v.length !== 2) throw new Error('a cas value must be [expected new]')
        value = [scalar(v[0], 'the expected value'), scalar(v[1], 'the new value')] as const
      } else {
        value = scalar(v, 'the value')
        if (f === 'write' && value === null) f = 'delete'
      }
    } catch (err) {
      throw new CodecError(`${where}: ${(err as Error).message}`)
    }
    const timeNs = form.get('time')
    const event = {
      process, type: type as EventType, f: f as OpFunction, key, value,
      time: typeof timeNs === 'number' ? timeNs / NS_PER_MS : events.at(-1)?.time ?? 0,
    }
    // Jepsen records a failed or unknown read with the value it asked for (nil); ours requires null too.
    if (event.f === 'read' && event.type !== 'ok') event.value = null
    const problem = eventProblem(event)
    if (problem !== undefined) throw new CodecError(`${where}: ${problem}`)
    events.push(event)
    lineOf.push(line)
  }
  pairOperations(events, i => `line ${lineOf[i]}`)
  return events
}

// ---------------------------------------------------------------- Porcupine

interface PorcupineOperation {
  readonly clientId: ProcessId
  readonly input: { readonly op: OpFunction; readonly key: string; readonly value: EventValue }
  readonly call: number
  readonly output: { readonly status: 'ok' | 'fail' | 'info'; readonly value?: string | null; readonly unknown?: true }
  readonly return: number
  readonly callTime: number
  readonly returnTime: number | null
  readonly returnIndex: number | null
}

export function toPorcupine(events: readonly HistoryEvent[]): string {
  const infinity = events.length
  const ops = pairOperations(events).map((op): PorcupineOperation => ({
    clientId: op.process,
    input: { op: op.f, key: op.key, value: op.input },
    call: op.invokeIndex,
    output: op.status === 'info' ? { status: 'info', unknown: true }
      : op.f === 'read' && op.status === 'ok' ? { status: 'ok', value: op.output } : { status: op.status },
    return: op.status === 'info' ? infinity : op.completeIndex,
    callTime: op.invokeTime,
    returnTime: op.completeTime,
    returnIndex: op.completeIndex < 0 ? null : op.completeIndex,
  }))
  return '[\n' + ops.map(o => JSON.stringify(o)).join(',\n') + (ops.length > 0 ? '\n' : '') + ']\n'
}

export function parsePorcupine(text: string): HistoryEvent[] {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new CodecError(`not valid JSON (${(err as Error).message})`)
  }
  if (!Array.isArray(raw)) throw new CodecError('a Porcupine history is a JSON array of operations')
  const placed: { at: number; order: number; event: HistoryEvent }[] = []
  raw.forEach((item: unknown, i) => {
    const where = `operation ${i + 1}`
    if (typeof item !== 'object' || item === null) throw new CodecError(`${where}: expected an object`)
    // Go writes the field names capitalised (ClientId, Input, ...); accept either spelling.
    const o = item as Record<string, unknown>
    const get = (name: string): unknown => o[name] ?? o[name[0]!.toUpperCase() + name.slice(1)]
    const input = get('input') as Record<string, unknown> | undefined
    const output = (get('output') ?? {}) as Record<string, unknown>
    const call = get('call')
    const ret = get('returnIndex') ?? get('return')
    if (typeof input !== 'object' || input === null) throw new CodecError(`${where}: "input" must be {op, key, value}`)
    if (typeof call !== 'number') throw new CodecError(`${where}: "call" must be a number`)
    const f = input.op as OpFunction
    const status = (output.status ?? (output.unknown === true ? 'info' : 'ok')) as 'ok' | 'fail' | 'info'
    const base = { process: get('clientId') as ProcessId, f, key: input.key as string }
    const callTime = typeof o.callTime === 'number' ? o.callTime : call
    const invoke = { ...base, type: 'invoke' as const, value: f === 'read' ? null : input.value as EventValue, time: callTime }
    const problem = eventProblem(invoke)
    if (problem !== undefined) throw new CodecError(`${where}: ${problem}`)
    placed.push({ at: call, order: 2 * i, event: invoke })
    const completed = 'returnTime' in o ? o.returnTime !== null : typeof ret === 'number'
    if (!completed) return
    if (typeof ret !== 'number') throw new CodecError(`${where}: "return" must be a number`)
    const returnTime = typeof o.returnTime === 'number' ? o.returnTime : ret
    const value = f === 'read' ? (status === 'ok' ? (output.value ?? null) as string | null : null) : invoke.value
    placed.push({ at: ret, order: 2 * i + 1, event: { ...base, type: status, value, time: returnTime } })
  })
  placed.sort((a, b) => a.at - b.at || a.order - b.order)
  const events = placed.map(p => p.event)
  pairOperations(events)
  return events
}
