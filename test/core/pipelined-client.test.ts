/**
 * A client that pipelines: several requests in flight on one client identity, each on its own session, answered
 * exactly once each and judged linearizable, for every protocol, also when the leader crashes with requests in flight.
 * Simulated, so the run is exact and fast; test/live/pipelined.test.ts does the same over real processes.
 *
 * An eventually consistent protocol (quorum-kv) commits nothing, so the host's session table stays empty and its
 * concurrent writers need not be linearizable: for it, every request is still answered exactly once, and the checker's
 * verdict is printed instead of required.
 */
import { describe, expect, it } from 'vitest'
import { checkHistory } from '../../core/checker/index.ts'
import type { ClientOutcome } from '../../core/client-host.ts'
import { HistoryRecorder } from '../../core/history.ts'
import { encodeKvCommand } from '../../core/kv.ts'
import { createKvOpGenerator, recordInvoke, recordOutcome } from '../../core/kv-workload.ts'
import { createRng } from '../../core/random.ts'
import { identityOfSession } from '../../core/sessions.ts'
import { createSimCluster } from '../../net/sim/cluster.ts'
import { protocols } from '../../protocols/index.ts'

const SESSIONS = 8
const OPS_PER_SLOT = 12

for (const protocol of protocols.values()) {
  const n = protocol.name === 'unreplicated' ? 1 : protocol.replicasFor(1)
  const eventual = protocol.consistency === 'eventual'
  describe(`${protocol.name}: a pipelining client`, () => {
    it(`keeps ${SESSIONS} requests in flight on one identity, each answered once, linearizable across a leader crash`, () => {
      const cluster = createSimCluster({ protocol, n, seed: `pipelined-${protocol.name}`, clients: 2, clientSessions: SESSIONS, fsyncMs: 1 })
      const recorder = new HistoryRecorder()
      const next = createKvOpGenerator({ keys: 4, readRatio: 0.3, casRatio: 0.3, deleteRatio: 0.05, valueSize: 4, keyPrefix: 'p/' },
        cluster.clients.map(c => c.id), createRng(`ops-${protocol.name}`))
      const answers = new Map<number, number>()
      let submitted = 0
      let completed = 0
      let maxInFlight = 0
      // Every slot is a history process of its own (one operation outstanding each); SESSIONS slots share a client.
      for (const client of cluster.clients) {
        for (let slot = 0; slot < SESSIONS; slot++) {
          const process = client.id * 100 + slot
          let left = OPS_PER_SLOT
          const issue = (): void => {
            if (left-- === 0) return
            const command = next(client.id)
            const op = recordInvoke(recorder, process, command, cluster.sim.now())
            const ticket = submitted++
            answers.set(ticket, 0)
            client.submit(encodeKvCommand(command), command.type === 'get', 3000, (outcome: ClientOutcome) => {
              answers.set(ticket, answers.get(ticket)! + 1)
              completed++
              recordOutcome(op, outcome, cluster.sim.now())
              issue()
            })
            maxInFlight = Math.max(maxInFlight, client.outstanding)
          }
          issue()
        }
      }
      expect(maxInFlight).toBe(SESSIONS)
      // Let the load get going, crash the leader with requests in flight, bring it back later.
      cluster.sim.run(cluster.sim.now() + 300)
      const leader = cluster.leader() ?? 0
      cluster.crash(leader)
      cluster.sim.run(cluster.sim.now() + (n === 1 ? 200 : 1500))
      cluster.restart(leader)
      const total = cluster.clients.length * SESSIONS * OPS_PER_SLOT
      expect(cluster.sim.runUntil(() => completed === total, 120_000)).toBe(true)
      cluster.sim.run(cluster.sim.now() + 100) // late duplicates of replies must not complete anything twice
      expect([...answers.values()].every(count => count === 1)).toBe(true)
      expect(answers.size).toBe(total)

      // The replicas' session table has one entry per session used, every one owned by a client identity.
      const owners = new Set<number>()
      const replica = cluster.host(cluster.leader() ?? 0)
      for (const client of cluster.clients) {
        for (let k = 0; k < SESSIONS; k++) {
          const id = client.id + k * 2 ** 32
          if (replica.stateMachine.lastApplied(id) > 0) owners.add(identityOfSession(id))
        }
      }
      expect([...owners].sort()).toEqual(eventual ? [] : cluster.clients.map(c => c.id))
      expect(cluster.rejectedFrameCount).toBe(0)

      const verdict = checkHistory(recorder.events)
      if (eventual) process.stdout.write(`${protocol.name} pipelined: checker verdict ${verdict.verdict} (recorded, not required)\n`)
      else expect(verdict.verdict).toBe('linearizable')
      const ok = recorder.events.filter(e => e.type === 'ok').length
      expect(ok).toBeGreaterThan(total / 2)
    })
  })
}
