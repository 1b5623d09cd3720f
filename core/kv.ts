/**
 * The default replicated state machine: a key-value store with get, put, delete and compare-and-set.
 * Commands and results have a compact binary form (they ride inside client requests and log entries).
 */
import { BinaryReader, BinaryWriter } from './codec/binary.ts'
import { CodecError } from './errors.ts'
import type { StateMachine } from './state-machine.ts'

export type KvCommand =
  | { readonly type: 'get'; readonly key: string }
  | { readonly type: 'put'; readonly key: string; readonly value: string }
  | { readonly type: 'delete'; readonly key: string }
  /** Set `value` if the current value equals `expected` (null: only if the key is absent). */
  | { readonly type: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string }

export type KvResult =
  | { readonly type: 'value'; readonly value: string | null }
  | { readonly type: 'ok' }
  | { readonly type: 'deleted'; readonly existed: boolean }
  | { readonly type: 'cas'; readonly ok: boolean; readonly current: string | null }
  | { readonly type: 'error'; readonly message: string }

const OP = { get: 1, put: 2, delete: 3, cas: 4 } as const
const RES = { value: 1, ok: 2, deleted: 3, cas: 4, error: 5 } as const

function writeOptional(w: BinaryWriter, s: string | null): void {
  w.bool(s !== null)
  if (s !== null) w.string(s)
}

function readOptional(r: BinaryReader): string | null {
  return r.bool() ? r.string() : null
}

export function encodeKvCommand(c: KvCommand): Uint8Array {
  const w = new BinaryWriter(16 + c.key.length * 3)
  w.u8(OP[c.type]).string(c.key)
  if (c.type === 'put') w.string(c.value)
  else if (c.type === 'cas') {
    writeOptional(w, c.expected)
    w.string(c.value)
  }
  return w.finish()
}

export function decodeKvCommand(bytes: Uint8Array): KvCommand {
  const r = new BinaryReader(bytes, 'kv command')
  const code = r.u8()
  const key = r.string()
  let c: KvCommand
  switch (code) {
    case OP.get: c = { type: 'get', key }; break
    case OP.put: c = { type: 'put', key, value: r.string() }; break
    case OP.delete: c = { type: 'delete', key }; break
    case OP.cas: { const expected = readOptional(r); c = { type: 'cas', key, expected, value: r.string() }; break }
    default: throw new CodecError(`malformed kv command: unknown operation code ${code}`)
  }
  r.end()
  return c
}

export function encodeKvResult(res: KvResult): Uint8Array {
  const w = new BinaryWriter(16)
  w.u8(RES[res.type])
  switch (res.type) {
    case 'value': writeOptional(w, res.value); break
    case 'deleted': w.bool(res.existed); break
    case 'cas': w.bool(res.ok); writeOptional(w, res.current); break
    case 'error': w.string(res.message); break
    case 'ok': break
  }
  return w.finish()
}

export function decodeKvResult(bytes: Uint8Array): KvResult {
  const r = new BinaryReader(bytes, 'kv result')
  const code = r.u8()
  let res: KvResult
  switch (code) {
    case RES.value: res = { type: 'value', value: readOptional(r) }; break
    case RES.ok: res = { type: 'ok' }; break
    case RES.deleted: res = { type: 'deleted', existed: r.bool() }; break
    case RES.cas: { const ok = r.bool(); res = { type: 'cas', ok, current: readOptional(r) }; break }
    case RES.error: res = { type: 'error', message: r.string() }; break
    default: throw new CodecError(`malformed kv result: unknown result code ${code}`)
  }
  r.end()
  return res
}

/**
 * The result of every successful put, shared (results are never modified once produced, like the session table's
 * STALE_REQUEST_RESULT): each replica applies every put, and encoding the same one byte anew was a hot allocation.
 */
const OK_RESULT = encodeKvResult({ type: 'ok' })

export class KvStore implements StateMachine {
  private data = new Map<string, string>()
  /** The keys in snapshot order, kept until a key is added or removed (hosts snapshot often; keys change rarely). */
  private sortedKeys: string[] | null = null

  apply(command: Uint8Array): Uint8Array {
    const result = this.execute(command, true)
    return result.type === 'ok' ? OK_RESULT : encodeKvResult(result)
  }

  query(command: Uint8Array): Uint8Array {
    return encodeKvResult(this.execute(command, false))
  }

  /** Every command touches exactly its one key. */
  keysOf(command: Uint8Array): readonly string[] {
    try {
      return [decodeKvCommand(command).key]
    } catch {
      return []
    }
  }

  /** Direct access for tests and tools. */
  get(key: string): string | undefined {
    return this.data.get(key)
  }

  get size(): number {
    return this.data.size
  }

  private execute(bytes: Uint8Array, mutate: boolean): KvResult {
    let c: KvCommand
    try {
      c = decodeKvCommand(bytes)
    } catch (e) {
      return { type: 'error', message: (e as Error).message }
    }
    if (!mutate && c.type !== 'get') return { type: 'error', message: `${c.type} is not a read-only command` }
    switch (c.type) {
      case 'get': return { type: 'value', value: this.data.get(c.key) ?? null }
      case 'put': this.set(c.key, c.value); return { type: 'ok' }
      case 'delete': {
        const existed = this.data.delete(c.key)
        if (existed) this.sortedKeys = null
        return { type: 'deleted', existed }
      }
      case 'cas': {
        const current = this.data.get(c.key) ?? null
        if (current !== c.expected) return { type: 'cas', ok: false, current }
        this.set(c.key, c.value)
        return { type: 'cas', ok: true, current: c.value }
      }
    }
  }

  private set(key: string, value: string): void {
    const size = this.data.size
    this.data.set(key, value)
    if (this.data.size !== size) this.sortedKeys = null
  }

  snapshot(): Uint8Array {
    const keys = this.sortedKeys ??= [...this.data.keys()].sort()
    const w = new BinaryWriter(64 + keys.length * 16)
    w.uvarint(keys.length)
    for (const k of keys) w.string(k).string(this.data.get(k)!)
    return w.finish()
  }

  restore(snapshot: Uint8Array): void {
    const r = new BinaryReader(snapshot, 'kv snapshot')
    const n = r.count()
    const next = new Map<string, string>()
    for (let i = 0; i < n; i++) {
      const k = r.string()
      next.set(k, r.string())
    }
    r.end()
    this.data = next
    this.sortedKeys = null
  }
}

export function createKvStore(): KvStore {
  return new KvStore()
}
