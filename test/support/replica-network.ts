/**
 * The shared replica test network (net/sim/replica-network.ts, which the micro bench uses too), with the helpers
 * protocol tests share. Protocol folders keep only their own invariants and conveniences on top of it
 * (test/raft/harness.ts, test/multipaxos/cluster.ts, test/pbft/harness.ts).
 */
import { encodeKvCommand } from '../../core/kv.ts'
import type { ClientRequest, NodeId } from '../../core/types.ts'
import type { Replica } from '../../core/protocol.ts'
import type { ReplicaNetwork } from '../../net/sim/replica-network.ts'

export {
  FIRST_CLIENT_ID, InvariantViolation, ReplicaNetwork, createReplicaNetwork,
  type Envelope, type EnvelopeKind, type Interceptor, type NetworkClient, type NetworkFaults, type NetworkNode,
  type NetworkObserver, type ReplicaFactory, type ReplicaNetworkOptions, type SentMessage, type ServedRead,
  type WorkloadOptions,
} from '../../net/sim/replica-network.ts'

const textEncoder = new TextEncoder()

/** A write whose op is plain text (any bytes are a valid command: the KV store answers garbage with an error). */
export function textRequest(clientId: number, seq: number, text: string, readOnly = false): ClientRequest {
  return { clientId, seq, readOnly, op: textEncoder.encode(text), signature: new Uint8Array(0) }
}

/**
 * Run `body`; if it throws, print the one-line replay first so a failing randomized case can be rerun, and rethrow
 * with the line appended.
 */
export function withReplay<T>(replay: string, body: () => T): T {
  try {
    return body()
  } catch (e) {
    console.error(replay)
    if (e instanceof Error && !e.message.includes(replay)) e.message += `\n${replay}`
    throw e
  }
}

/** What a protocol's randomized driver (test/<protocol>/randomized.ts) reports about one seeded run. */
export interface RandomRunResult {
  readonly violations: string[]
  /** Commands the clients got answers for during the run. */
  readonly acknowledged: number
  /** Ticks from the heal to the commit of the final write (healAndProbe), or null if it never committed. */
  readonly recoveryTicks: number | null
  readonly replay: string
}

/**
 * The end of a randomized run: heal everything, restart what is down, stop the faults and the workload, let the
 * outstanding requests finish, then time one fresh write. Returns the ticks from the heal to its answer (liveness after
 * the last fault), or null when it was not answered within `boundTicks`.
 */
export function healAndProbe<M, R extends Replica<M>>(net: ReplicaNetwork<M, R>, down: Iterable<NodeId>, seed: number | string, boundTicks: number): number | null {
  net.heal()
  for (const id of down) if (net.isDown(id)) net.restart(id)
  net.faults = {}
  net.workloadOn = false
  net.stepUntil(() => net.clients.every(c => c.outstanding === null), boundTicks)
  const healedAt = net.now
  const client = net.clients[0]!
  if (client.outstanding !== null) return null
  const request = net.submit(client.id, encodeKvCommand({ type: 'put', key: 'after-heal', value: String(seed) }))
  return net.stepUntil(() => client.results.has(request.seq), boundTicks) ? net.now - healedAt : null
}
