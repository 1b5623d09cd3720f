/**
 * How a replica's broadcasts leave it, and what gossip did: the names and counters only, so configuration and
 * reports can use them without loading gossipsub (gossip-dissemination.ts is loaded only by a node that gossips).
 */
export const DISSEMINATIONS = ['direct', 'gossipsub'] as const
/** One stream write per peer, or one publish on the cluster's gossipsub topic. */
export type Dissemination = typeof DISSEMINATIONS[number]

/** What gossip did on one node, apart from the protocol's message counts. */
export interface GossipCounters {
  /** Broadcasts this node published (each counted n-1 times in the protocol's message stats, as direct ones are). */
  published: number
  publishedBytes: number
  /** Message copies that arrived on the wire (first copies and duplicates), and their payload bytes. */
  copiesReceived: number
  copyBytesReceived: number
  /** Messages handed to the frame handler: the first copy of each. */
  delivered: number
  /**
   * Broadcasts published for only some replicas and written directly to this one (it was down or not yet reachable over
   * the topic when the sender published): their gossip copies are dropped here, so the protocol takes them once.
   */
  sentDirect: number
  /** Messages the topic validator rejected: from a non-replica, or relayed by one (a client member or a stranger). */
  refused: number
  /** Copies from a replica whose envelope (gossip-envelope.ts) did not decode. */
  malformed: number
  /** Outbound gossip streams to connected replicas that gossipsub had not opened, opened by gossip-stream-keeper.ts. */
  streamRepairs: number
}

export function newGossipCounters(): GossipCounters {
  return { published: 0, publishedBytes: 0, copiesReceived: 0, copyBytesReceived: 0, delivered: 0, sentDirect: 0, refused: 0, malformed: 0, streamRepairs: 0 }
}

/**
 * Copies gossipsub's seen-cache dropped: every copy on the wire that was not delivered, skipped for its direct copy,
 * refused or malformed (copies of this node's own broadcasts relayed back to it included). A copy still being validated
 * when the counters are read is counted here for that moment.
 */
export function duplicatesDropped(c: GossipCounters): number {
  return Math.max(0, c.copiesReceived - c.delivered - c.sentDirect - c.refused - c.malformed)
}
