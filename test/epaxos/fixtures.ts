/**
 * EPaxos on the shared replica test network: requests built by hand, message filters by type, and the instance
 * views the paper-section tests look at.
 */
import { encodeKvCommand } from '../../core/kv.ts'
import type { ClientRequest } from '../../core/types.ts'
import { epaxos } from '../../protocols/epaxos/descriptor.ts'
import type { Instance } from '../../protocols/epaxos/instance.ts'
import type { EpaxosMessage } from '../../protocols/epaxos/messages.ts'
import type { EpaxosReplica } from '../../protocols/epaxos/replica.ts'
import { ReplicaNetwork, type NetworkFaults } from '../support/replica-network.ts'

export type EpaxosNetwork = ReplicaNetwork<EpaxosMessage, EpaxosReplica>

export function epaxosNetwork(n: number, seed: string | number, options: Record<string, unknown> = {},
  extra: { clients?: number; faults?: NetworkFaults; snapshotInterval?: number; workload?: { keys?: number } | false } = {}): EpaxosNetwork {
  return new ReplicaNetwork<EpaxosMessage, EpaxosReplica>({
    protocol: epaxos, n, seed, options, clients: extra.clients ?? 0, workload: extra.workload ?? false,
    ...(extra.faults !== undefined ? { faults: extra.faults } : {}),
    ...(extra.snapshotInterval !== undefined ? { snapshotInterval: extra.snapshotInterval } : {}),
  })
}

export function put(clientId: number, seq: number, key: string, value: string): ClientRequest {
  return { clientId, seq, readOnly: false, op: encodeKvCommand({ type: 'put', key, value }), signature: new Uint8Array(0) }
}

/** Drop every message in flight of these types (optionally only to `to`); returns how many. */
export function dropTypes(net: EpaxosNetwork, types: readonly EpaxosMessage['type'][], to?: number): number {
  return net.dropWhere((_from, dest, m) => types.includes(m.type) && (to === undefined || dest === to))
}

export function inFlightOfType(net: EpaxosNetwork, type: EpaxosMessage['type']): number {
  return net.inFlight().filter(e => e.message.type === type).length
}

export function instanceAt(net: EpaxosNetwork, id: number, leader: number, num: number): Instance | undefined {
  return net.replica(id).instance(leader, num)
}

/** Request ids (client:seq) replica `id` executed, in order. */
export function executedAt(net: EpaxosNetwork, id: number): string[] {
  return net.historyOf(id)
}
