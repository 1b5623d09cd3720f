/**
 * A protocol's replicas on the shared replica network (net/sim/replica-network.ts) with as little around them as it
 * offers: messages handed over as objects (no codec), no loss or delay, no safety bookkeeping, a state machine that
 * does nothing (KV apply is benchmarked on its own); persistence goes to an in-memory storage synced at once and
 * snapshots are reported every `snapshotInterval` indexes, as a host would. It measures the protocol logic through the
 * public Replica and ClientProtocol interfaces only: one command from the descriptor's client to commitment at the
 * leader and its accepted reply.
 */
import type { AnyProtocol } from '../../core/protocol.ts'
import type { SignerName } from '../../core/signer.ts'
import type { StateMachine } from '../../core/state-machine.ts'
import type { NodeId } from '../../core/types.ts'
import { FIRST_CLIENT_ID, ReplicaNetwork } from '../../net/sim/replica-network.ts'

const EMPTY = new Uint8Array(0)
const SNAPSHOT_BYTES = new Uint8Array([1, 2, 3, 4])
const noopStateMachine = (): StateMachine => ({ apply: () => EMPTY, query: () => EMPTY, snapshot: () => SNAPSHOT_BYTES, restore: () => {} })

export class ReplicaPump {
  readonly network: ReplicaNetwork
  readonly leader: NodeId

  constructor(protocol: AnyProtocol, n: number, o: { seed?: number; signer?: SignerName; snapshotInterval?: number } = {}) {
    const required = protocol.requiredSnapshotInterval?.(protocol.parseOptions({}, n))
    this.network = new ReplicaNetwork({
      protocol, n, seed: o.seed ?? 1, signer: o.signer ?? 'node', snapshotInterval: required ?? o.snapshotInterval ?? 64,
      clients: 1, workload: false, wire: 'direct', checks: false, stateMachine: noopStateMachine,
    })
    this.leader = this.electLeader()
  }

  /** Messages delivered so far. */
  get delivered(): number {
    return this.network.delivered
  }

  private electLeader(): NodeId {
    const net = this.network
    for (let tick = 0; tick < 10_000; tick++) {
      net.round()
      for (const id of net.ids) {
        if (net.replica(id).status().leader === id) {
          // Let the new leader's first entries commit before measuring.
          for (let i = 0; i < 5; i++) net.round()
          return id
        }
      }
    }
    throw new Error('no leader after 10000 ticks')
  }

  /** One client command carried until the leader commits it and the client accepts the result. */
  commitOne(op: Uint8Array): void {
    const net = this.network
    const target = net.appliedOf(this.leader) + 1
    const { seq } = net.submit(FIRST_CLIENT_ID, op)
    net.deliverAll()
    const client = net.client(FIRST_CLIENT_ID)
    if (net.appliedOf(this.leader) < target || !client.results.has(seq)) {
      throw new Error(`command ${seq} did not commit at the leader (applied: ${net.ids.map(id => net.appliedOf(id)).join(', ')})`)
    }
    // Keep a long benchmark's memory flat.
    client.results.clear()
    client.completedAt.length = 0
  }
}
