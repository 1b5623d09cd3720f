/**
 * A client of a sharded store: routes each command by its key to the group whose range holds it (range-map.ts), and
 * keeps one ClientHost per group it has talked to, each with the group's own protocol client (leader guess per group,
 * retries, reply matching) and its own exactly-once sessions, all over the client's one connection (GroupMux). A
 * command that touches no key (the state machine's keysOf gives none) goes to the group holding the empty key.
 *
 * The range map is static (cluster.json or the bench gives it); a command's group never changes, so a retry after a
 * timeout goes where the first attempt went, and per-key linearizability holds across the store because each key
 * lives in exactly one group.
 */
import { createClientHost, type ClientHost, type ClientOutcome } from '../client-host.ts'
import { SilentReplicas } from '../clients/silent-replicas.ts'
import type { AnyProtocol } from '../protocol.ts'
import type { NodeId } from '../types.ts'
import { muxFor, type GroupMux, type GroupWiring } from './group-mux.ts'
import type { GroupPlacement } from './placement.ts'
import type { GroupId, RangeMap } from './range-map.ts'

export interface GroupClientOptions extends GroupWiring {
  readonly descriptor: AnyProtocol
  readonly id: NodeId
  readonly ranges: RangeMap
  /** Requests in flight at once per group (ClientHostOptions.sessions; default 1). */
  readonly sessions?: number
  /** ClientHostOptions.lastSeq: live clients start their sequence numbers from the clock, as one group's do. */
  readonly lastSeq?: number
  /** The keys a command touches (StateMachine.keysOf). */
  readonly keysOf: (op: Uint8Array) => readonly string[]
}

export class GroupClient {
  readonly id: NodeId
  readonly mux: GroupMux
  private readonly o: GroupClientOptions
  private readonly placementOf = new Map<GroupId, GroupPlacement>()
  private readonly hosts = new Map<GroupId, ClientHost>()
  /** Nodes found silent by the client of any group: a node down for one group is down for every group it hosts. */
  private readonly silentReplicas = new SilentReplicas()

  constructor(options: GroupClientOptions) {
    this.o = options
    this.id = options.id
    for (const p of options.placements) this.placementOf.set(p.group, p)
    for (const g of options.ranges.groups) {
      if (!this.placementOf.has(g)) throw new Error(`range map names group ${g}, which has no placement`)
    }
    this.mux = muxFor(options)
  }

  /** The group a command goes to: the range of its (first) key. */
  groupOf(op: Uint8Array): GroupId {
    return this.o.ranges.groupOf(this.o.keysOf(op)[0] ?? '')
  }

  /** Submit a command to its group; `done` is called exactly once. */
  submit(op: Uint8Array, readOnly: boolean, timeoutMs: number, done: (outcome: ClientOutcome) => void): void {
    this.hostFor(this.groupOf(op)).submit(op, readOnly, timeoutMs, done)
  }

  submitAsync(op: Uint8Array, readOnly: boolean, timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    return this.hostFor(this.groupOf(op)).submitAsync(op, readOnly, timeoutMs, signal)
  }

  /** Requests submitted and not finished, over all groups. */
  get outstanding(): number {
    let n = 0
    for (const h of this.hosts.values()) n += h.outstanding
    return n
  }

  close(): void {
    for (const h of this.hosts.values()) h.close()
  }

  private hostFor(group: GroupId): ClientHost {
    const existing = this.hosts.get(group)
    if (existing !== undefined) return existing
    const p = this.placementOf.get(group)!
    const host = createClientHost({
      descriptor: this.o.descriptor, id: this.o.id, replicas: p.replicas,
      protocolOptions: this.o.descriptor.parseOptions(this.o.protocolOptions ?? {}, p.replicas.length),
      transport: this.mux.transportFor(group), runtime: this.o.runtime, rng: this.o.rng.fork(`group-${group}`),
      signer: this.o.signer, tickMs: this.o.tickMs, preferredReplica: p.preferredLeader, silentReplicas: this.silentReplicas,
      ...(this.o.sessions !== undefined ? { sessions: this.o.sessions } : {}),
      ...(this.o.lastSeq !== undefined ? { lastSeq: this.o.lastSeq } : {}),
    })
    this.hosts.set(group, host)
    return host
  }
}

export function createGroupClient(options: GroupClientOptions): GroupClient {
  return new GroupClient(options)
}
