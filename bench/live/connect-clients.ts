/**
 * Bringing fresh client nodes into service before a measurement: one write from each (bounded attempts, in waves), so
 * the leader is elected and every connection a client needs is dialled and authenticated before the clock starts.
 * Shared by the in-process cluster and the load-generator processes.
 */
import type { ConsensusClient } from '../../live/client.ts'

/** Clients connecting at once: enough to overlap handshakes, few enough not to time out on a loaded machine. */
const CONNECT_WAVE = 32
const CONNECT_ATTEMPTS = 5

/** Complete one write from each of `fresh` by `deadline` (performance.now() ms); throws naming a client that could not. */
export async function completeFirstWrites(fresh: readonly ConsensusClient[], deadline: number): Promise<void> {
  const t0 = performance.now()
  const firstWrite = async (client: ConsensusClient): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.put(`connect-${client.id}`, 'x')
        return
      } catch (e) {
        if (attempt >= CONNECT_ATTEMPTS || performance.now() > deadline) {
          throw new Error(`client ${client.id} could not complete a write after ${attempt} attempts ` +
            `(${Math.round(performance.now() - t0)} ms): ${(e as Error).message}`)
        }
      }
    }
  }
  // One client first: it waits out the leader election alone.
  if (fresh.length > 0) await firstWrite(fresh[0]!)
  for (let i = 1; i < fresh.length; i += CONNECT_WAVE) {
    await Promise.all(fresh.slice(i, i + CONNECT_WAVE).map(firstWrite))
  }
}

/** The default bound on connecting `count` client nodes. */
export function connectDeadlineMs(count: number): number {
  return 60_000 + 200 * count
}
