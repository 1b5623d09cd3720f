/**
 * Shared vocabulary of the framework: who talks, what a client asks for, what a replica answers.
 * Everything here is plain data so it can cross the simulator, libp2p and storage unchanged.
 */

/** A participant's address: replicas are 0..n-1 in a cluster, clients are distinct ids (conventionally >= 1000). */
export type NodeId = number

/**
 * A client command. `clientId` + `seq` identify it for exactly-once execution (Raft dissertation §6.3; PBFT's
 * timestamp): a client has at most one request outstanding and numbers them 1, 2, 3, ...; a retry reuses the number.
 */
export interface ClientRequest {
  readonly clientId: NodeId
  readonly seq: number
  /** true for a command that does not change state (may take a protocol's read path). */
  readonly readOnly: boolean
  /** The state machine's command, opaque to protocols. */
  readonly op: Uint8Array
  /**
   * Byzantine protocols: the client's Ed25519 signature over `requestSigningBytes(request)`, plain or a batch signature
   * covering the requests it started in the same turn (core/signers/signature-batch.ts); empty otherwise.
   */
  readonly signature: Uint8Array
}

export type ReplyStatus = 'ok' | 'redirect' | 'error' | 'busy'

/** A replica's answer to a client. The sender is the authenticated transport peer, never a payload field. */
export interface ClientReply {
  readonly clientId: NodeId
  readonly seq: number
  /**
   * ok: `result` holds the state machine's answer; redirect: try `leaderHint`; error: `error` says why; busy: the
   * replica has as many requests pending as it admits (core/admission.ts), so retry later (nothing was proposed).
   */
  readonly status: ReplyStatus
  readonly result: Uint8Array
  /** The replica this one believes leads (or is primary), -1 when unknown. */
  readonly leaderHint: NodeId
  /** Term, ballot round or view in which the reply was produced (PBFT clients match replies on it). */
  readonly epoch: number
  readonly error: string
}

/**
 * One position of a protocol's log decided for good: a batch of requests (empty for a no-op / null request).
 * Indexes handed to the host are contiguous: each is exactly one more than the last applied one.
 */
export interface CommittedEntry {
  readonly index: number
  readonly requests: readonly ClientRequest[]
}

/** A read that the protocol has made safe to serve once the state machine has applied `index`. */
export interface ReadyRead {
  readonly request: ClientRequest
  readonly index: number
}

export interface Outbound<M> {
  readonly to: NodeId
  readonly message: M
  /**
   * The message depends on nothing the replica has not already made durable, so the host may send it at once, before
   * the persist of its Ready (and of earlier ones) is synced: a Raft leader's AppendEntries, whose entries the leader
   * writes to its own disk in parallel (Raft dissertation §10.2.1). The replica must then learn through
   * `Replica.synced` when its own writes are durable before it counts itself in a quorum for them.
   */
  readonly beforeSync?: true
}

/** What a replica reports about itself for tools, tests and the bench (never used for decisions). */
export interface ReplicaStatus {
  /** e.g. 'leader', 'follower', 'candidate', 'primary', 'backup', 'view-change'. */
  readonly role: string
  /** Term, ballot round or view. */
  readonly epoch: number
  readonly leader: NodeId | null
  readonly commitIndex: number
  /** Entries/slots held in memory: the bench watches it to prove compaction bounds memory. */
  readonly logSize: number
}

export const NO_LEADER: NodeId = -1

/** The three kinds of traffic: replica-to-replica protocol messages, client requests, and replies to clients. */
export type Channel = 'protocol' | 'request' | 'reply'
