/**
 * Cluster membership, one server at a time (dissertation §4.1-4.3): any two majorities of configurations that differ
 * by one voter overlap, so no joint consensus is needed. A server uses the latest configuration in its log whether
 * or not it is committed, so a configuration is tracked per log index and reverts when its entry is truncated.
 * Learners (§4.2.1) receive the log but neither vote nor count towards commitment, so a new server can catch up
 * before it is promoted and affects availability.
 */
import { majority } from '../../core/quorum.ts'
import type { NodeId } from '../../core/types.ts'
import type { Configuration } from './messages.ts'

export type MembershipChange =
  | { readonly kind: 'addLearner'; readonly id: NodeId }
  | { readonly kind: 'promoteLearner'; readonly id: NodeId }
  | { readonly kind: 'removeVoter'; readonly id: NodeId }
  | { readonly kind: 'removeLearner'; readonly id: NodeId }

export const EMPTY_CONFIGURATION: Configuration = { voters: [], learners: [] }

function sorted(ids: Iterable<NodeId>): NodeId[] {
  return [...ids].sort((a, b) => a - b)
}

export function configurationOf(voters: Iterable<NodeId>, learners: Iterable<NodeId> = []): Configuration {
  return { voters: sorted(new Set(voters)), learners: sorted(new Set(learners)) }
}

export function isVoter(c: Configuration, id: NodeId): boolean {
  return c.voters.includes(id)
}

export function isMember(c: Configuration, id: NodeId): boolean {
  return c.voters.includes(id) || c.learners.includes(id)
}

/** Every member except `self`: the peers a leader replicates to. */
export function peersOf(c: Configuration, self: NodeId): NodeId[] {
  return [...c.voters, ...c.learners].filter(id => id !== self)
}

export function quorumSize(c: Configuration): number {
  return majority(c.voters.length)
}

/** The configuration after `change`, or a one-line reason why it is not allowed. */
export function applyChange(c: Configuration, change: MembershipChange): Configuration | string {
  const { id } = change
  if (!Number.isSafeInteger(id) || id < 0) return `invalid server id ${id}`
  switch (change.kind) {
    case 'addLearner':
      if (isMember(c, id)) return `server ${id} is already a member`
      return configurationOf(c.voters, [...c.learners, id])
    case 'promoteLearner':
      if (!c.learners.includes(id)) return `server ${id} is not a learner`
      return configurationOf([...c.voters, id], c.learners.filter(x => x !== id))
    case 'removeVoter':
      if (!c.voters.includes(id)) return `server ${id} is not a voter`
      if (c.voters.length === 1) return 'cannot remove the last voter'
      return configurationOf(c.voters.filter(x => x !== id), c.learners)
    case 'removeLearner':
      if (!c.learners.includes(id)) return `server ${id} is not a learner`
      return configurationOf(c.voters, c.learners.filter(x => x !== id))
    default:
      return `unknown membership change ${JSON.stringify(change)}`
  }
}

export function sameConfiguration(a: Configuration, b: Configuration): boolean {
  return a.voters.length === b.voters.length && a.learners.length === b.learners.length &&
    a.voters.every((v, i) => b.voters[i] === v) && a.learners.every((v, i) => b.learners[i] === v)
}

/**
 * The configuration in force at each log position: a base (from the snapshot, or the initial members) plus the
 * configuration entries in the uncompacted log, in index order.
 */
export class ConfigurationHistory {
  private base: Configuration
  private changes: Array<{ index: number; config: Configuration }> = []

  constructor(base: Configuration) {
    this.base = base
  }

  /** The latest configuration in the log, committed or not: the one this server acts on. */
  get current(): Configuration {
    return this.changes.length > 0 ? this.changes[this.changes.length - 1]!.config : this.base
  }

  /** Index of the latest configuration entry still in the log (0 if the current one came from the base). */
  get currentIndex(): number {
    return this.changes.length > 0 ? this.changes[this.changes.length - 1]!.index : 0
  }

  /** The configuration in force once the log has been applied through `index`. */
  at(index: number): Configuration {
    let c = this.base
    for (const ch of this.changes) {
      if (ch.index > index) break
      c = ch.config
    }
    return c
  }

  appended(index: number, config: Configuration): void {
    this.changes.push({ index, config })
  }

  /** Entries from `from` on were truncated: their configurations never happened. */
  truncateFrom(from: number): void {
    while (this.changes.length > 0 && this.changes[this.changes.length - 1]!.index >= from) this.changes.pop()
  }

  /** The log was compacted through `index`: fold earlier changes into the base. */
  compact(index: number): void {
    this.base = this.at(index)
    this.changes = this.changes.filter(ch => ch.index > index)
  }

  /** The whole log was replaced by a snapshot carrying `config`. */
  reset(config: Configuration): void {
    this.base = config
    this.changes = []
  }
}
