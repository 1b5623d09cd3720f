/**
 * An accumulator for a replica's outputs, so each protocol does not rebuild the drain-and-reset logic.
 * `take()` hands the batch over and starts a fresh one.
 */
import type { Ready } from './protocol.ts'
import type { PersistOp } from './storage.ts'
import type { ClientReply, ClientRequest, CommittedEntry, NodeId } from './types.ts'
import { EMPTY_BYTES } from './codec/client-messages.ts'

/**
 * The arrays of a Ready nothing was added to: one shared, frozen empty array. Hosts take a Ready after every input, and
 * most inputs add to one or two of its six lists; each list is created on its first addition instead. Frozen, so a
 * consumer that tried to add to a Ready it was handed fails loudly instead of corrupting every other Ready.
 */
const NONE: never[] = Object.freeze([]) as unknown as never[]

/** `list` with `item` added: a new array in place of NONE, else the same array. */
function added<T>(list: T[], item: T): T[] {
  if (list === NONE) return [item]
  list.push(item)
  return list
}

/** A Ready under construction: its lists are replaced (NONE by a real array) as outputs arrive. */
interface Building<M> {
  persist: PersistOp[]
  messages: Ready<M>['messages']
  installSnapshot: Ready<M>['installSnapshot']
  committed: CommittedEntry[]
  replies: Ready<M>['replies']
  reads: Ready<M>['reads']
}

export class ReadyBuffer<M> {
  private r: Building<M> = ReadyBuffer.building<M>()

  private static building<M>(): Building<M> {
    return { persist: NONE, messages: NONE, installSnapshot: null, committed: NONE, replies: NONE, reads: NONE }
  }

  persist(op: PersistOp): void {
    this.r.persist = added(this.r.persist, op)
  }

  send(to: NodeId, message: M): void { this.message({ to, message }) }
  /** A message that may leave before this Ready's writes are durable (Outbound.beforeSync says when that is safe). */
  sendBeforeSync(to: NodeId, message: M): void { this.message({ to, message, beforeSync: true }) }
  /** Send to every id in `to` except `self`. */
  broadcast(to: readonly NodeId[], self: NodeId, message: M): void {
    for (const id of to) if (id !== self) this.message({ to: id, message })
  }

  private message(out: Ready<M>['messages'][number]): void {
    this.r.messages = added(this.r.messages, out)
  }

  commit(entry: CommittedEntry): void {
    this.r.committed = added(this.r.committed, entry)
  }

  reply(to: NodeId, reply: ClientReply): void {
    this.r.replies = added(this.r.replies, { to, reply })
  }

  read(request: ClientRequest, index: number): void {
    this.r.reads = added(this.r.reads, { request, index })
  }

  installSnapshot(index: number, data: Uint8Array): void {
    this.r.installSnapshot = { index, data }
    // Entries committed before the snapshot are covered by it.
    this.r.committed = this.r.committed.filter(e => e.index > index)
  }

  /** A redirect (or error) for a request this replica will not handle. */
  redirect(to: NodeId, request: ClientRequest, leaderHint: NodeId, epoch: number, error = ''): void {
    this.reply(to, {
      clientId: request.clientId, seq: request.seq, status: error === '' ? 'redirect' : 'error',
      result: EMPTY_BYTES, leaderHint, epoch, error,
    })
  }

  get isEmpty(): boolean {
    const r = this.r
    return r.persist.length === 0 && r.messages.length === 0 && r.committed.length === 0 && r.replies.length === 0 &&
      r.reads.length === 0 && r.installSnapshot === null
  }

  take(): Ready<M> {
    const out = this.r
    this.r = ReadyBuffer.building<M>()
    return out
  }
}
