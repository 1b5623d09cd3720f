/** What a replica's gossip dissemination did, as `cluster status` prints it and the status endpoint reports it. */
import { duplicatesDropped, type GossipCounters } from '../net/libp2p/dissemination.ts'

/** The counters with the seen-cache duplicates worked out, as the admin socket's `status` answers them. */
export interface GossipStatus extends GossipCounters {
  /** Copies gossipsub's seen-cache dropped (dissemination.ts duplicatesDropped): never handed to the protocol. */
  readonly duplicatesDropped: number
}

export function gossipStatus(counters: GossipCounters): GossipStatus {
  return { ...counters, duplicatesDropped: duplicatesDropped(counters) }
}

/** One line: what went out on the topic, what came in, and what was dropped before the protocol saw it, and why. */
export function gossipStatusLine(g: GossipStatus): string {
  return `gossip: published ${g.published} (${g.publishedBytes} B), received ${g.copiesReceived} copies (${g.copyBytesReceived} B), ` +
    `delivered ${g.delivered}, duplicates dropped ${g.duplicatesDropped}, skipped as sent directly ${g.sentDirect}, ` +
    `refused from non-members ${g.refused}${g.malformed > 0 ? `, malformed ${g.malformed}` : ''}, stream repairs ${g.streamRepairs}`
}
