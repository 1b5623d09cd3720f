/**
 * Exactly-once client sessions (Raft dissertation §6.3, PBFT's per-client timestamp). Wraps the state machine: for
 * each client it remembers the last sequence number applied and its result, so a retried command that commits twice
 * is applied once and answered with the first result. The table is part of the replicated state, hence of snapshots.
 *
 * A session keeps one request outstanding, so one entry per session suffices. A client that pipelines opens several
 * sessions under its one authenticated identity (see `sessionId`); each is numbered on its own. Entries are never
 * expired: the table is bounded by the number of distinct sessions (expiry, as the dissertation describes, would need
 * a replicated clock).
 */
import { BinaryReader, BinaryWriter } from './codec/binary.ts'
import { encodeKvResult } from './kv.ts'
import type { StateMachine } from './state-machine.ts'
import type { ClientRequest, NodeId } from './types.ts'

/**
 * Session ids. A client identity `c` (its authenticated NodeId, below 2^32) owns the sessions `c + k * 2^32` for
 * k = 0 .. MAX_SESSIONS_PER_CLIENT - 1, and no others: the identity behind a request's `clientId` is
 * `clientId mod 2^32`, which is what a host compares with the authenticated sender. Session 0 is the identity itself,
 * so a client with one session (the simulator's default) sends exactly what it sent before sessions existed. The
 * largest session id, 2^52 - 1, is a safe integer and fits the codecs' varints.
 */
export const SESSION_STRIDE = 2 ** 32
export const MAX_SESSIONS_PER_CLIENT = 2 ** 20

/** The id of session `k` of client identity `identity`. */
export function sessionId(identity: NodeId, k: number): NodeId {
  if (!Number.isSafeInteger(identity) || identity < 0 || identity >= SESSION_STRIDE) {
    throw new RangeError(`client identity must be an integer from 0 to ${SESSION_STRIDE - 1}, got ${identity}`)
  }
  if (!Number.isSafeInteger(k) || k < 0 || k >= MAX_SESSIONS_PER_CLIENT) {
    throw new RangeError(`session index must be an integer from 0 to ${MAX_SESSIONS_PER_CLIENT - 1}, got ${k}`)
  }
  return identity + k * SESSION_STRIDE
}

/** The client identity that owns session `id` (the identity itself for session 0 and for replica ids). */
export function identityOfSession(id: NodeId): NodeId {
  return id % SESSION_STRIDE
}

/** Which of its identity's sessions `id` is (0 for the identity itself). */
export function sessionIndexOf(id: NodeId): number {
  return Math.floor(id / SESSION_STRIDE)
}

interface Session {
  seq: number
  result: Uint8Array
}

export interface AppliedRequest {
  readonly result: Uint8Array
  /** The command had been applied before (a retry): `result` is the first result. */
  readonly duplicate: boolean
}

export const STALE_REQUEST_RESULT = encodeKvResult({ type: 'error', message: 'stale request: a newer one from this client was applied' })

export class SessionStateMachine {
  readonly inner: StateMachine
  private sessions = new Map<number, Session>()

  constructor(inner: StateMachine) {
    this.inner = inner
  }

  apply(request: ClientRequest): AppliedRequest {
    const s = this.sessions.get(request.clientId)
    if (s !== undefined && request.seq <= s.seq) {
      // A retry of the last command gets its result; anything older has already been answered to a client that moved on.
      return { result: request.seq === s.seq ? s.result : STALE_REQUEST_RESULT, duplicate: true }
    }
    const result = request.readOnly ? this.inner.query(request.op) : this.inner.apply(request.op)
    if (s === undefined) this.sessions.set(request.clientId, { seq: request.seq, result })
    else { s.seq = request.seq; s.result = result }
    return { result, duplicate: false }
  }

  query(request: ClientRequest): Uint8Array {
    return this.inner.query(request.op)
  }

  /** The sequence number last applied for a client (0 if none). */
  lastApplied(clientId: number): number {
    return this.sessions.get(clientId)?.seq ?? 0
  }

  snapshot(): Uint8Array {
    const inner = this.inner.snapshot()
    const ids = [...this.sessions.keys()].sort((a, b) => a - b)
    const w = new BinaryWriter(inner.length + 16 + ids.length * 24)
    w.bytes(inner).uvarint(ids.length)
    for (const id of ids) {
      const s = this.sessions.get(id)!
      w.uvarint(id).uvarint(s.seq).bytes(s.result)
    }
    return w.finish()
  }

  restore(snapshot: Uint8Array): void {
    const r = new BinaryReader(snapshot, 'session snapshot')
    const inner = r.bytes()
    const n = r.count()
    const sessions = new Map<number, Session>()
    for (let i = 0; i < n; i++) {
      const id = r.uvarint()
      const seq = r.uvarint()
      sessions.set(id, { seq, result: r.bytes().slice() })
    }
    r.end()
    this.inner.restore(inner.slice())
    this.sessions = sessions
  }
}
