/**
 * An accumulator for a replica's outputs, so each protocol does not rebuild the drain-and-reset logic.
 * `take()` hands the batch over and starts a fresh one.
 */
import type { Ready } from './protocol.ts'
import type { PersistOp } from './storage.ts'
import type { ClientReply, ClientRequest, CommittedEntry, NodeId } from './types.ts'
import { EMPTY_BYTES } from './codec/client-messages.ts'

export class ReadyBuffer<M> {
  private r: Ready<M> = ReadyBuffer.empty<M>()

  static empty<M>(): Ready<M> {
    return { persist: [], messages: [], installSnapshot: null, committed: [], replies: [], reads: [] }
  }

  persist(op: PersistOp): void { this.r.persist.push(op) }
  send(to: NodeId, message: M): void { this.r.messages.push({ to, message }) }
  /** A message that may leave before this Ready's writes are durable (Outbound.beforeSync says when that is safe). */
  sendBeforeSync(to: NodeId, message: M): void { this.r.messages.push({ to, message, beforeSync: true }) }
  /** Send to every id in `to` except `self`. */
  broadcast(to: readonly NodeId[], self: NodeId, message: M): void {
    for (const id of to) if (id !== self) this.r.messages.push({ to: id, message })
  }
  commit(entry: CommittedEntry): void { this.r.committed.push(entry) }
  reply(to: NodeId, reply: ClientReply): void { this.r.replies.push({ to, reply }) }
  read(request: ClientRequest, index: number): void { this.r.reads.push({ request, index }) }
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
    this.r = ReadyBuffer.empty<M>()
    return out
  }
}
