/** Shared steps of the live-cluster tests. */
import type { ConsensusClient } from '../../live/client.ts'

/** Retry a write until it is acknowledged (bounded), as an application would across a failover. */
export async function putEventually(client: ConsensusClient, key: string, value: string, withinMs = 20_000): Promise<void> {
  const deadline = Date.now() + withinMs
  for (;;) {
    try {
      await client.put(key, value)
      return
    } catch (e) {
      if (Date.now() > deadline) throw e
    }
  }
}
