/**
 * Client half for leader-based protocols (Raft, Multi-Paxos, the unreplicated baseline): send the request to the
 * replica believed to lead, follow redirects, and on silence retry the same request (same seq, so the replicas'
 * session table applies it at most once) at the next replica. One reply with status ok from any replica is final:
 * a crash-fault replica only answers ok for a committed command.
 */
import type { ClientContext, ClientProtocol, ClientReady } from '../protocol.ts'
import type { ClientReply, ClientRequest, NodeId, Outbound } from '../types.ts'

export interface LeaderClientOptions {
  /** Ticks without an answer before the request is resent to the next replica: a little over a typical election timeout, so a client that lost its leader looks elsewhere about when a new one is elected. */
  readonly retryTicks: number
  /** Ticks to wait after a replica said it does not know the leader. */
  readonly redirectBackoffTicks: number
  /**
   * Where the first request goes: 'random' (a seeded guess, corrected by the first redirect: leader-based protocols) or
   * 'preferred' (ClientContext.preferredReplica, the nearest: leaderless protocols, where any replica serves).
   */
  readonly firstReplica: 'random' | 'preferred'
}

export const DEFAULT_LEADER_CLIENT_OPTIONS: LeaderClientOptions = { retryTicks: 15, redirectBackoffTicks: 3, firstReplica: 'random' }

export class LeaderClient implements ClientProtocol {
  private readonly replicas: readonly NodeId[]
  private readonly options: LeaderClientOptions
  private leaderGuess: number
  private outstanding: ClientRequest | null = null
  private ticksUntilRetry = 0
  /**
   * The wait before the next silent retry: doubles after each unanswered one (up to 8x) and resets with a new request
   * or any reply, so an overloaded cluster is not buried under retransmissions of requests it is merely slow to answer,
   * while a crashed leader costs only one short wait before the client is redirected to the new one.
   */
  private retryWait = 0
  /**
   * Replicas that stayed silent for the outstanding request, with the tick they were marked: skipped when rotating,
   * and not trusted as hints until a retry period has passed (one lost reply must not rule out the real leader
   * for the rest of the request while every follower names it).
   */
  private readonly silent = new Map<number, number>()
  private ticks = 0
  /** Whether the replica last sent to has answered since (a wait that ends unanswered marks it silent). */
  private answered = false
  private messages: Outbound<ClientRequest>[] = []
  private completed: { seq: number; result: Uint8Array } | null = null

  constructor(ctx: ClientContext, options: Partial<LeaderClientOptions> = {}) {
    this.replicas = ctx.replicas
    this.options = { ...DEFAULT_LEADER_CLIENT_OPTIONS, ...options }
    // Spread first guesses over replicas deterministically; the first redirect corrects it.
    const preferred = ctx.replicas.indexOf(ctx.preferredReplica)
    this.leaderGuess = this.options.firstReplica === 'preferred' && preferred >= 0 ? preferred : ctx.rng.int(ctx.replicas.length)
  }

  submit(request: ClientRequest): void {
    this.outstanding = request
    this.retryWait = this.options.retryTicks
    this.silent.clear()
    this.send()
  }

  private send(): void {
    if (this.outstanding === null) return
    this.messages.push({ to: this.replicas[this.leaderGuess]!, message: this.outstanding })
    this.ticksUntilRetry = this.retryWait
    this.answered = false
  }

  receive(from: NodeId, reply: ClientReply): void {
    const req = this.outstanding
    if (req === null || reply.seq !== req.seq || reply.clientId !== req.clientId) return
    if (reply.status === 'ok') {
      this.completed = { seq: req.seq, result: reply.result }
      this.outstanding = null
      const at = this.replicas.indexOf(from)
      if (at >= 0) this.leaderGuess = at
      return
    }
    // A replica answered, so the cluster is not silently overloaded: the next silent wait starts short again.
    this.retryWait = this.options.retryTicks
    const at = this.replicas.indexOf(from)
    if (at >= 0) this.silent.delete(at)
    this.answered = true
    const hinted = this.replicas.indexOf(reply.leaderHint)
    // A follower may still name a leader that just went silent on us (it has not noticed the crash yet): not a hint,
    // unless it went silent a retry period ago and is still named: then it is worth asking again.
    const silentSince = hinted >= 0 ? this.silent.get(hinted) : undefined
    const trusted = silentSince === undefined || this.ticks - silentSince >= this.options.retryTicks
    if (reply.status === 'redirect' && hinted >= 0 && reply.leaderHint !== from && trusted) {
      this.silent.delete(hinted)
      this.leaderGuess = hinted
      this.send()
    } else {
      // No usable hint (election under way, or an error): back off briefly, then try the next replica (tick rotates).
      if (at >= 0) this.leaderGuess = at
      this.ticksUntilRetry = Math.min(this.ticksUntilRetry, this.options.redirectBackoffTicks)
    }
  }

  tick(): void {
    this.ticks++
    if (this.outstanding === null) return
    if (--this.ticksUntilRetry <= 0) {
      if (!this.answered) this.silent.set(this.leaderGuess, this.ticks)
      this.leaderGuess = this.nextCandidate(this.leaderGuess)
      this.retryWait = Math.min(this.retryWait * 2, this.options.retryTicks * 8)
      this.send()
    }
  }

  /** The next replica after `from` that has not stayed silent; when all have, start over. */
  private nextCandidate(from: number): number {
    const n = this.replicas.length
    for (let k = 1; k <= n; k++) {
      const j = (from + k) % n
      if (!this.silent.has(j)) return j
    }
    this.silent.clear()
    return (from + 1) % n
  }

  ready(): ClientReady {
    const out: ClientReady = { messages: this.messages, completed: this.completed }
    this.messages = []
    this.completed = null
    return out
  }
}
