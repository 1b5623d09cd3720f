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
  /** Messages the topic validator rejected: from a non-replica, or relayed by a stranger. */
  refused: number
}

export function newGossipCounters(): GossipCounters {
  return { published: 0, publishedBytes: 0, copiesReceived: 0, copyBytesReceived: 0, delivered: 0, refused: 0 }
}
