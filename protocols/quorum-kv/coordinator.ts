/**
 * The coordinator role (Dynamo §4.5): the replica a client contacts runs the client's operation against all N
 * replicas and answers once a quorum has. There is no leader and no log order: each operation stands alone.
 *
 * - put / delete: a new version (hybrid clock, this replica's id) is stored here, sent to every replica, and answered
 *   once W replicas (this one included) have made it durable. A delete writes a tombstone.
 * - get: every replica is asked; once R have answered (this one included), the highest version is the answer. Replicas
 *   that answered with older versions are repaired (read repair). 'blocking' answers only once the value is on W
 *   replicas (so any later read quorum meets one of them: monotonic quorum reads, as Cassandra 4.0); 'async' answers
 *   at once (Dynamo).
 * - cas: not atomic. It is a quorum read, a comparison here, then (if equal) a quorum write: two coordinators can both
 *   see the expected value and both "succeed". Consensus is what would make it atomic; the checker shows the anomaly.
 *
 * A retried request (same client session and seq) joins the operation still running for it, which resends to the
 * replicas that have not answered; once answered, the answer is repeated. Nothing here is durable: a coordinator that
 * crashes forgets its operations, and the client retries at another replica.
 */
import { decodeKvCommand, encodeKvResult, type KvCommand, type KvResult } from '../../core/kv.ts'
import type { ClientRequest, NodeId } from '../../core/types.ts'
import type { QuorumKvEnv } from './env.ts'
import type { OpId, ReadReply } from './messages.ts'
import type { StoredValue } from './store.ts'
import { compareVersions, type Version } from './version.ts'

interface ClientOp {
  readonly request: ClientRequest
  /** Who gets the answer: the authenticated sender of the request. */
  from: NodeId
  answered: boolean
}

interface PendingWrite {
  readonly kind: 'write'
  readonly op: OpId
  readonly startedAt: number
  readonly client: ClientOp
  readonly key: string
  readonly value: StoredValue
  readonly acked: Set<NodeId>
  /** What the client is told once W replicas hold the write. */
  readonly result: KvResult
}

interface PendingRead {
  readonly kind: 'read'
  readonly op: OpId
  readonly startedAt: number
  readonly client: ClientOp
  readonly key: string
  readonly replies: Map<NodeId, StoredValue | null>
  /** The newest version among the first R replies, once R have answered. */
  decided: { readonly value: StoredValue | null } | null
  /** Replicas known to hold the decided version (answered with it, or acknowledged its repair). */
  readonly holders: Set<NodeId>
  readonly repaired: Set<NodeId>
  /** What to do with the value read, once it may be answered. */
  readonly then: (found: StoredValue | null) => void
}

type Pending = PendingWrite | PendingRead

const opKey = (op: OpId): string => `${op.incarnation}.${op.seq}`

export class Coordinator {
  private readonly env: QuorumKvEnv
  private readonly incarnation: number
  private nextSeq = 0
  private readonly pending = new Map<string, Pending>()
  /** The operation running for each client session. */
  private readonly running = new Map<NodeId, { readonly client: ClientOp; readonly op: OpId }>()
  /** The last answer given to each client session, repeated to a retry. */
  private readonly answers = new Map<NodeId, { readonly seq: number; readonly result: Uint8Array }>()

  constructor(env: QuorumKvEnv, incarnation: number) {
    this.env = env
    this.incarnation = incarnation
  }

  get inFlight(): number {
    return this.pending.size
  }

  propose(request: ClientRequest, from: NodeId): void {
    const answered = this.answers.get(request.clientId)
    if (answered !== undefined && request.seq <= answered.seq) {
      if (request.seq === answered.seq) this.reply(from, request, answered.result)
      return
    }
    const running = this.running.get(request.clientId)
    // A late copy of a request the client has moved on from (a session has one request outstanding): drop it.
    if (running !== undefined && request.seq < running.client.request.seq) return
    if (running !== undefined && running.client.request.seq === request.seq) {
      // A retry: answer wherever it came from, and resend to the replicas that have not answered (lost messages).
      running.client.from = from
      const p = this.pending.get(opKey(running.op))
      if (p !== undefined) this.resend(p)
      return
    }
    let command: KvCommand
    try {
      command = decodeKvCommand(request.op)
    } catch (e) {
      this.reply(from, request, encodeKvResult({ type: 'error', message: (e as Error).message }))
      return
    }
    const client: ClientOp = { request, from, answered: false }
    switch (command.type) {
      case 'get':
        this.startRead(client, command.key, found => this.answer(client, { type: 'value', value: found?.value ?? null }))
        break
      case 'put':
        this.startWrite(client, command.key, command.value, { type: 'ok' })
        break
      case 'delete': {
        const existed = (this.env.store.get(command.key)?.value ?? null) !== null
        this.startWrite(client, command.key, null, { type: 'deleted', existed })
        break
      }
      case 'cas': {
        const { key, expected, value } = command
        this.startRead(client, key, found => {
          const current = found?.value ?? null
          if (current !== expected) this.answer(client, { type: 'cas', ok: false, current })
          else this.startWrite(client, key, value, { type: 'cas', ok: true, current: value })
        })
        break
      }
    }
  }

  private newOp(client: ClientOp): OpId {
    const op = { incarnation: this.incarnation, seq: ++this.nextSeq }
    this.running.set(client.request.clientId, { client, op })
    return op
  }

  private startWrite(client: ClientOp, key: string, value: string | null, result: KvResult): void {
    const env = this.env
    const op = this.newOp(client)
    const version: Version = { ts: env.clock.next(env.ticks), node: env.id }
    const stored: StoredValue = { value, version }
    env.keep(key, stored)
    const p: PendingWrite = { kind: 'write', op, startedAt: env.ticks, client, key, value: stored, acked: new Set([env.id]), result }
    this.pending.set(opKey(op), p)
    env.out.broadcast(env.members, env.id, { type: 'Write', op, entry: { key, ...stored } })
    this.checkWrite(p)
  }

  private startRead(client: ClientOp, key: string, then: (found: StoredValue | null) => void): void {
    const env = this.env
    const op = this.newOp(client)
    const p: PendingRead = {
      kind: 'read', op, startedAt: env.ticks, client, key, replies: new Map([[env.id, env.store.get(key) ?? null]]),
      decided: null, holders: new Set(), repaired: new Set(), then,
    }
    this.pending.set(opKey(op), p)
    env.out.broadcast(env.members, env.id, { type: 'Read', op, key })
    this.checkRead(p)
  }

  private resend(p: Pending): void {
    const env = this.env
    if (p.kind === 'write') {
      for (const id of env.peers) if (!p.acked.has(id)) env.out.send(id, { type: 'Write', op: p.op, entry: { key: p.key, ...p.value } })
    } else if (p.decided === null) {
      for (const id of env.peers) if (!p.replies.has(id)) env.out.send(id, { type: 'Read', op: p.op, key: p.key })
    } else {
      for (const id of p.repaired) if (!p.holders.has(id)) this.sendRepair(p, id)
    }
  }

  writeAcked(from: NodeId, op: OpId): void {
    const p = this.pending.get(opKey(op))
    if (p?.kind !== 'write' || !this.env.members.includes(from)) return
    p.acked.add(from)
    this.checkWrite(p)
  }

  private checkWrite(p: PendingWrite): void {
    if (!p.client.answered && p.acked.size >= this.env.options.writeQuorum) this.answer(p.client, p.result)
    if (p.acked.size >= this.env.n) this.pending.delete(opKey(p.op))
  }

  readReplied(from: NodeId, m: ReadReply): void {
    const p = this.pending.get(opKey(m.op))
    if (p?.kind !== 'read' || m.key !== p.key || !this.env.members.includes(from) || p.replies.has(from)) return
    if (m.version !== null) this.env.clock.observe(m.version.ts)
    const copy: StoredValue | null = m.version === null ? null : { value: m.value, version: m.version }
    p.replies.set(from, copy)
    if (p.decided === null) this.checkRead(p)
    else {
      // A late reply: repaired too if stale (Dynamo); if it already holds the value, it counts toward the W-quorum.
      this.repairIfStale(p, from, copy)
      if (this.env.options.readRepair === 'blocking') this.checkRepaired(p)
    }
    this.checkReadDone(p)
  }

  private checkRead(p: PendingRead): void {
    const env = this.env
    if (p.decided !== null || p.replies.size < env.options.readQuorum) return
    let newest: StoredValue | null = null
    for (const copy of p.replies.values()) if (compareVersions(copy?.version ?? null, newest?.version ?? null) > 0) newest = copy
    p.decided = { value: newest }
    for (const [id, copy] of p.replies) this.repairIfStale(p, id, copy)
    if (env.options.readRepair === 'async') this.finishRead(p)
    else this.checkRepaired(p)
    this.checkReadDone(p)
  }

  /** Read repair (Dynamo §4.5): a replica that answered with an older version is sent the decided one. */
  private repairIfStale(p: PendingRead, id: NodeId, copy: StoredValue | null): void {
    const newest = p.decided!.value
    if (compareVersions(copy?.version ?? null, newest?.version ?? null) >= 0) {
      p.holders.add(id)
      return
    }
    if (id === this.env.id) {
      this.env.keep(p.key, newest!) // logged in this Ready, so durable before anything answered after it
      p.holders.add(id)
      return
    }
    p.repaired.add(id)
    this.sendRepair(p, id)
  }

  private sendRepair(p: PendingRead, id: NodeId): void {
    this.env.out.send(id, { type: 'ReadRepair', op: p.op, entry: { key: p.key, ...p.decided!.value! } })
  }

  readRepairAcked(from: NodeId, op: OpId): void {
    const p = this.pending.get(opKey(op))
    if (p?.kind !== 'read' || !p.repaired.has(from)) return
    p.holders.add(from)
    this.checkRepaired(p)
    this.checkReadDone(p)
  }

  /** Blocking read repair: answer once the value is on a W-quorum, so every later read quorum meets a holder. */
  private checkRepaired(p: PendingRead): void {
    const needed = p.decided!.value === null ? 0 : this.env.options.writeQuorum
    if (p.holders.size >= needed) this.finishRead(p)
  }

  private finishRead(p: PendingRead): void {
    // Only once, and only while the read is still the client's current operation (a cas may have moved on to its write).
    if (p.client.answered || this.running.get(p.client.request.clientId)?.op !== p.op) return
    p.then(p.decided!.value)
  }

  private checkReadDone(p: PendingRead): void {
    if (p.replies.size >= this.env.n && p.holders.size >= p.replies.size) this.pending.delete(opKey(p.op))
  }

  private answer(client: ClientOp, result: KvResult): void {
    const id = client.request.clientId
    // A client that moved on to a newer request no longer waits for this answer.
    if (client.answered || this.running.get(id)?.client !== client) return
    client.answered = true
    const bytes = encodeKvResult(result)
    this.running.delete(id)
    this.answers.set(id, { seq: client.request.seq, result: bytes })
    this.reply(client.from, client.request, bytes)
  }

  private reply(to: NodeId, request: ClientRequest, result: Uint8Array): void {
    // Leaderless: no leader to hint at, and no epoch.
    this.env.out.reply(to, { clientId: request.clientId, seq: request.seq, status: 'ok', result, leaderHint: -1, epoch: 0, error: '' })
  }

  /** Forget operations still short of their quorum after the timeout: the client has retried elsewhere by then. */
  tick(): void {
    const limit = this.env.options.requestTimeoutTicks
    for (const [key, p] of this.pending) {
      if (this.env.ticks - p.startedAt < limit) continue
      this.pending.delete(key)
      const running = this.running.get(p.client.request.clientId)
      if (running?.op === p.op) this.running.delete(p.client.request.clientId)
    }
  }
}
