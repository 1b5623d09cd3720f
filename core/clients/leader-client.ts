/**
 * Client half for leader-based protocols (Raft, Multi-Paxos, the unreplicated baseline): send the request to the
 * replica believed to lead, follow redirects, and on silence retry the same request (same seq, so the replicas'
 * session table applies it at most once) at the next replica. One reply with status ok from any replica is final:
 * a crash-fault replica only answers ok for a committed command. A busy answer (the replica's admission control,
 * core/admission.ts) is waited out with growing, jittered waits and the same replica asked again.
 */
import type { ClientContext, ClientProtocol, ClientReady } from '../protocol.ts'
import type { Rng } from '../random.ts'
import type { ClientReply, ClientRequest, NodeId, Outbound } from '../types.ts'
import type { SilentReplicas } from './silent-replicas.ts'

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
  /** The silent wait before a first round-trip sample exists (default 3 x retryTicks). */
  readonly initialRetryTicks?: number
}

/** The longest silent wait, in multiples of retryTicks (backoff and the round-trip estimate both stop there). */
const MAX_BACKOFF = 32
/**
 * Busy answers in a row after which the wait stops doubling (one tick x 2^this, before jitter): shedding is cheap
 * for the replica and a busy replica is alive, so waits stay short (16 to 32 ticks at most).
 */
const MAX_BUSY_DOUBLINGS = 4
/** The first silent wait of a client that has no round-trip sample yet, in multiples of retryTicks. */
const INITIAL_RTO_FACTOR = 3

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
  /**
   * Smoothed round trip and its variation, in ticks, from requests answered at the first try (Karn's rule), as TCP
   * keeps them (RFC 6298). A silent wait lasts at least the retransmission timeout they give, so a cluster that is
   * merely slow (overloaded, or far away) is not sent every request again each retryTicks; null until a first sample.
   */
  private srtt: number | null = null
  private rttvar = 0
  /**
   * Karn's rule, the other half: a wait that ran out doubles the timeout for the following requests too, until one is
   * answered at its first try (or a replica redirects: it is alive, so the silence was not the cluster being slow).
   * Otherwise a round trip longer than the timeout would never be measured.
   */
  private backoff = 1
  /** Tick the outstanding request was first sent, and how many times it has been sent. */
  private firstSentAt = 0
  private sends = 0
  /** Busy answers in a row (reset by an ok): each doubles the wait before asking again. */
  private busyStreak = 0
  /** The wait running out means: ask the same replica again (it was busy), not: it was silent, rotate. */
  private retrySameReplica = false
  private readonly rng: Rng

  /** Silence seen by the client's other sessions (ClientContext.silentReplicas); null: this session's own only. */
  private readonly shared: SilentReplicas | null

  constructor(ctx: ClientContext, options: Partial<LeaderClientOptions> = {}) {
    this.replicas = ctx.replicas
    this.shared = ctx.silentReplicas ?? null
    this.rng = ctx.rng
    this.options = { ...DEFAULT_LEADER_CLIENT_OPTIONS, ...options }
    // Spread first guesses over replicas deterministically; the first redirect corrects it.
    const preferred = ctx.replicas.indexOf(ctx.preferredReplica)
    this.leaderGuess = this.options.firstReplica === 'preferred' && preferred >= 0 ? preferred : ctx.rng.int(ctx.replicas.length)
  }

  submit(request: ClientRequest): void {
    // The caller gave up on the previous request while the replica last asked had not answered: that wait ended
    // unanswered too, so the new request starts at the next replica. Starting where the abandoned one waited cost
    // each new request a whole backed-off wait (up to 32 retry periods) on a replica down for good, and with two of
    // five down clients found the leader only after ten seconds (multipaxos n=5 seed 244, a regression test).
    if (this.outstanding !== null && this.sends > 0 && !this.answered) this.leaderGuess = this.nextCandidate(this.leaderGuess)
    this.outstanding = request
    this.retryWait = this.retransmissionTimeout()
    // Clearing an empty Map still allocates a fresh table, and this runs for every request.
    if (this.silent.size > 0) this.silent.clear()
    // A replica the client's other sessions found silent (and have not heard from since) is not asked first: one down
    // for good would otherwise cost each session that had not noticed a whole backed-off wait. Only the first choice:
    // the rotation after silence uses this request's own experience, so stale marks cannot trap it.
    if (this.shared?.has(this.replicas[this.leaderGuess]!) === true) {
      const alive = this.replicas.findIndex(id => !this.shared!.has(id))
      if (alive >= 0) this.leaderGuess = alive
    }
    this.sends = 0
    this.retrySameReplica = false
    this.send()
  }

  /**
   * RFC 6298: srtt + 4 rttvar, never below retryTicks. Before any sample, a conservative wait (TCP starts at 1 s): a
   * whole population of clients starting at once against a cluster slower than retryTicks would otherwise send every
   * first request again and again, and the duplicates alone keep the cluster overloaded.
   */
  private retransmissionTimeout(): number {
    const base = this.srtt === null
      ? this.options.initialRetryTicks ?? this.options.retryTicks * INITIAL_RTO_FACTOR
      : Math.max(this.options.retryTicks, Math.ceil(this.srtt + 4 * this.rttvar))
    return Math.min(base * this.backoff, this.options.retryTicks * MAX_BACKOFF)
  }

  private sampleRoundTrip(ticks: number): void {
    this.backoff = 1
    if (this.srtt === null) {
      this.srtt = ticks
      this.rttvar = ticks / 2
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - ticks)
      this.srtt = 0.875 * this.srtt + 0.125 * ticks
    }
  }

  private send(): void {
    if (this.outstanding === null) return
    if (this.sends++ === 0) this.firstSentAt = this.ticks
    this.messages.push({ to: this.replicas[this.leaderGuess]!, message: this.outstanding })
    this.ticksUntilRetry = this.retryWait
    this.answered = false
  }

  receive(from: NodeId, reply: ClientReply): void {
    const req = this.outstanding
    if (req === null || reply.seq !== req.seq || reply.clientId !== req.clientId) return
    if (reply.status === 'ok') {
      this.shared?.heard(from)
      if (this.sends === 1) this.sampleRoundTrip(this.ticks - this.firstSentAt)
      this.completed = { seq: req.seq, result: reply.result }
      this.outstanding = null
      this.busyStreak = 0
      this.retrySameReplica = false
      const at = this.replicas.indexOf(from)
      if (at >= 0) this.leaderGuess = at
      return
    }
    if (reply.status === 'busy') return this.onBusy(from, reply)
    // A replica answered, so the cluster is not silently overloaded: the next silent wait starts short again.
    this.backoff = 1
    this.retryWait = this.retransmissionTimeout()
    const at = this.replicas.indexOf(from)
    if (at >= 0) this.silent.delete(at)
    this.shared?.heard(from)
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

  /**
   * The replica is alive and has as many requests pending as it admits: nothing was proposed. A follower that sheds
   * names its leader, which is asked at once; a shedding leader is asked again (shedding is no sign of a lost leader,
   * so no rotation) after a wait that doubles with each busy answer in a row from one tick, with seeded jitter so
   * that clients shed together do not all return in the same tick.
   */
  private onBusy(from: NodeId, reply: ClientReply): void {
    const at = this.replicas.indexOf(from)
    if (at < 0) return
    this.silent.delete(at)
    this.shared?.heard(from)
    this.answered = true
    const hinted = this.replicas.indexOf(reply.leaderHint)
    if (hinted >= 0 && hinted !== at && !this.silent.has(hinted)) {
      this.leaderGuess = hinted
      this.send()
      return
    }
    this.leaderGuess = at
    const base = 2 ** Math.min(this.busyStreak, MAX_BUSY_DOUBLINGS)
    this.busyStreak++
    this.ticksUntilRetry = Math.min(base + this.rng.int(base), this.options.retryTicks * MAX_BACKOFF)
    this.retrySameReplica = true
  }

  tick(): void {
    this.ticks++
    if (this.outstanding === null) return
    if (--this.ticksUntilRetry <= 0 && this.retrySameReplica) {
      this.retrySameReplica = false
      this.send()
    } else if (this.ticksUntilRetry <= 0) {
      if (!this.answered) {
        this.silent.set(this.leaderGuess, this.ticks)
        this.shared?.mark(this.replicas[this.leaderGuess]!)
      }
      this.leaderGuess = this.nextCandidate(this.leaderGuess)
      this.retryWait = Math.min(this.retryWait * 2, this.options.retryTicks * MAX_BACKOFF)
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF)
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
