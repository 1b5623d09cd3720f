/**
 * Liveness after faults heal, for every registered replicated protocol: random crashes, partitions, loss,
 * duplication and reordering for a while, then everything heals (every replica restarted, every link restored); a
 * write submitted at that moment must commit within a stated bound of virtual time. The bounds:
 *   crash-fault protocols: 2 s  (election timeout 100-200 ms, pre-vote/phase 1 round trips, one client retry of 150 ms)
 *   PBFT:                  8 s  (view-change timeouts double across successive failed views during the faults)
 * A failing seed prints its replay line.
 */
import { describe, expect, it } from 'vitest'
import { encodeKvCommand } from '../../core/kv.ts'
import { createRng } from '../../core/random.ts'
import { createSimCluster } from '../../net/sim/cluster.ts'
import { randomFaultSchedule } from '../../net/sim/faults.ts'
import { protocols } from '../../protocols/index.ts'

const WINDOW_MS = 4000

function boundMs(faultModel: string): number {
  return faultModel === 'byzantine' ? 8000 : 2000
}

for (const protocol of protocols.values()) {
  if (protocol.name === 'unreplicated') continue
  describe(`${protocol.name}: liveness after faults heal`, () => {
    for (const n of [protocol.replicasFor(1), protocol.replicasFor(2)]) {
      it(`n=${n}: a write submitted when faults heal commits within ${boundMs(protocol.faultModel)} ms of virtual time`, () => {
        const worst: number[] = []
        for (const seed of [1, 2, 3, 4]) {
          const replay = `seed ${seed}: createSimCluster({ protocol: ${protocol.name}, n: ${n}, seed: ${seed}, clients: 3 }) ` +
            `with randomFaultSchedule(createRng(${seed}).fork('faults'), { n: ${n}, windowMs: ${WINDOW_MS} })`
          const cluster = createSimCluster({ protocol, n, seed, clients: 3 })
          cluster.schedule(randomFaultSchedule(createRng(seed).fork('faults'), { n, windowMs: WINDOW_MS }))
          // Background load through the faults, so the cluster is busy (and views/terms move) when they heal.
          for (const client of cluster.clients.slice(0, 2)) {
            let i = 0
            const loop = () => {
              if (cluster.sim.now() >= WINDOW_MS) return
              client.submit(encodeKvCommand({ type: 'put', key: `k${i % 3}`, value: `${client.id}-${i++}` }), false, 1000, () => {
                cluster.sim.setTimer(5, loop)
              })
            }
            loop()
          }
          cluster.sim.run(WINDOW_MS) // the schedule heals everything and restarts every replica at WINDOW_MS
          expect(cluster.upReplicas.length, replay).toBe(n)
          expect(cluster.network.partitioned, replay).toBe(false)
          const healedAt = cluster.sim.now()
          let committedAt: number | null = null
          cluster.clients[2]!.submit(encodeKvCommand({ type: 'put', key: 'after-heal', value: String(seed) }), false, 60_000, outcome => {
            if (outcome.status === 'ok') committedAt = cluster.sim.now()
          })
          cluster.sim.runUntil(() => committedAt !== null, 60_000)
          expect(committedAt, `no commit within 60 s after healing; ${replay}`).not.toBeNull()
          const took = committedAt! - healedAt
          worst.push(took)
          expect(took, replay).toBeLessThanOrEqual(boundMs(protocol.faultModel))
          expect(cluster.safetyViolations, replay).toEqual([])
        }
        // Printed so the bound's margin is visible in the test log.
        process.stdout.write(`${protocol.name} n=${n}: write after heal committed in ${worst.map(w => w.toFixed(0)).join(', ')} ms\n`)
      })
    }
  })
}
