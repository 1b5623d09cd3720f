/**
 * Moves each group's leadership to its preferred node (placement.ts), as CockroachDB's lease preferences and TiKV's
 * balance-leader scheduler do: elections pick leaders at random, and a node that happens to lead most groups becomes
 * the bottleneck of all of them. Runs on the leader: every `intervalMs` it asks each group it leads, but should not,
 * to hand over (the protocol's transfer-leadership admin input; protocols without it keep their elected leaders).
 *
 * A transfer to a node that is down or far behind does not happen (Raft abandons it after an election timeout), and
 * while it is pending the group refuses proposals and points clients at the target: so no transfer goes to a node
 * this one has not heard from lately (`peerAlive`), and after an attempt that did not take, the next waits twice as
 * long (up to `maxBackoffMs`); a success resets it.
 */
import type { AdminCommand } from '../protocol.ts'
import type { HostRuntime } from '../runtime.ts'
import type { NodeId } from '../types.ts'
import type { GroupId } from './range-map.ts'

export interface BalancedGroup {
  readonly group: GroupId
  readonly preferredLeader: NodeId
  /** Who leads the group in this node's view (null: unknown). */
  leader(): NodeId | null
  /** The protocol's admin input; null when started, else why not. */
  admin(command: AdminCommand): string | null
}

export interface LeaderBalancerOptions {
  readonly id: NodeId
  readonly runtime: HostRuntime
  readonly groups: () => Iterable<BalancedGroup>
  /** Whether `peer` was heard from lately (a down or cut-off node is never handed a leadership). */
  readonly peerAlive: (peer: NodeId) => boolean
  /** Default 1000 ms (CockroachDB's lease rebalancing runs on the order of seconds, too). */
  readonly intervalMs?: number
  readonly maxBackoffMs?: number
}

export class LeaderBalancer {
  private readonly o: LeaderBalancerOptions
  private readonly intervalMs: number
  private readonly maxBackoffMs: number
  /** Per group: no attempt before this time, and the wait after the next failed one. */
  private readonly backoff = new Map<GroupId, { notBefore: number; waitMs: number }>()
  private cancel: (() => void) | null = null
  transfersAsked = 0

  constructor(options: LeaderBalancerOptions) {
    this.o = options
    this.intervalMs = options.intervalMs ?? 1000
    this.maxBackoffMs = options.maxBackoffMs ?? 32_000
  }

  start(): void {
    const round = () => {
      this.balance()
      this.cancel = this.o.runtime.setTimer(this.intervalMs, round)
    }
    this.cancel = this.o.runtime.setTimer(this.intervalMs, round)
  }

  stop(): void {
    this.cancel?.()
    this.cancel = null
  }

  /** One round: ask every group led here that prefers another leader to hand over (unless backing off). */
  balance(): void {
    const now = this.o.runtime.now()
    for (const g of this.o.groups()) {
      // Not leading (a transfer took, or never led) or leading where it should: nothing to do, no backoff kept.
      if (g.leader() !== this.o.id || g.preferredLeader === this.o.id) { this.backoff.delete(g.group); continue }
      const b = this.backoff.get(g.group) ?? { notBefore: 0, waitMs: this.intervalMs }
      if (now < b.notBefore || !this.o.peerAlive(g.preferredLeader)) continue
      if (g.admin({ kind: 'transfer-leadership', to: g.preferredLeader }) === null) this.transfersAsked++
      // Still leading at the next attempt means this one did not take: wait longer before the one after.
      this.backoff.set(g.group, { notBefore: now + b.waitMs, waitMs: Math.min(2 * b.waitMs, this.maxBackoffMs) })
    }
  }
}
