/**
 * The shared replica test network (net/sim/replica-network.ts, which the micro bench uses too), with the helpers
 * protocol tests share. Protocol folders keep only their own invariants and conveniences on top of it
 * (test/raft/harness.ts, test/multipaxos/cluster.ts, test/pbft/harness.ts).
 */
import type { ClientRequest } from '../../core/types.ts'

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
