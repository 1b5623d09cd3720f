/**
 * Overload from many client nodes against replica processes whose admission control admits only a few pending
 * requests each (cluster.json maxPendingRequests): the replicas answer the rest busy, never hold more than the limit,
 * and the clients' back-off still gets every call answered exactly once, in a history judged linearizable, with
 * hardly any timed out. Raft (leader-following client) and PBFT (f+1 matching replies) cover both client kinds.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkHistory } from '../../core/checker/index.ts'
import { HistoryRecorder } from '../../core/history.ts'
import { createKvOpGenerator, recordInvoke } from '../../core/kv-workload.ts'
import { createRng } from '../../core/random.ts'
import { createClient, type ConsensusClient as Client } from '../../live/client.ts'
import { loadClusterConfig } from '../../live/config.ts'
import { initCluster } from '../../live/init.ts'
import { clusterDown, clusterUp } from '../../live/processes.ts'
import { freePorts, waitFor } from '../libp2p/helpers.ts'
import { cleanUpAfterAll, replicaStatus } from './process-clusters.ts'

const { dirs, clusters } = cleanUpAfterAll()
const status = replicaStatus

const LIMIT = 4
const CLIENT_NODES = 6
const IN_FLIGHT = 8

for (const [name, ops] of [['raft', 480], ['pbft', 240]] as const) {
  describe(`${name}: overload from ${CLIENT_NODES} client nodes against replicas admitting ${LIMIT} pending requests`, () => {
    it(`sheds load as busy, stays within the limit, and answers all ${ops} calls once each, linearizable`, async () => {
      const n = name === 'pbft' ? 4 : 3
      const dir = mkdtempSync(join(tmpdir(), `overload-${name}-`))
      dirs.push(dir)
      initCluster({ protocol: name, n, dir, ports: await freePorts(n), clients: CLIENT_NODES, fsync: 'batch' })
      const configFile = join(dir, 'cluster.json')
      writeFileSync(configFile, JSON.stringify({ ...JSON.parse(readFileSync(configFile, 'utf8')), maxPendingRequests: LIMIT }, null, 2))
      const config = loadClusterConfig(configFile)
      expect(config.maxPendingRequests).toBe(LIMIT)
      clusters.push(config)
      await clusterUp(config, configFile)
      const ids = config.replicas.map(r => r.id)
      const clients: Client[] = []
      // A generous deadline: 48 callers share a few admitted slots, so a caller may lose the race for one several
      // times in a row; on a machine loaded by other work PBFT's throughput drops to tens of operations a second.
      for (const c of config.clients) clients.push(await createClient({ config, clientId: c.id, timeoutMs: 30_000, maxInFlight: IN_FLIGHT }))
      await waitFor(async () => { try { await clients[0]!.put('warm', 'up'); return true } catch { return false } }, 'a first write', 20_000)

      // Every replica's pending count, read over its admin socket while the load runs.
      let mostPending = 0
      let sampling = true
      const sampler = (async () => {
        while (sampling) {
          for (const s of await Promise.all(ids.map(id => status(config, id)))) mostPending = Math.max(mostPending, s.requestsPending)
          await new Promise(resolve => setTimeout(resolve, 20))
        }
      })()

      const recorder = new HistoryRecorder()
      const keyPrefix = `overload-${Date.now()}/`
      const next = createKvOpGenerator({ keys: 8, readRatio: 0.3, casRatio: 0.2, deleteRatio: 0.05, keyPrefix }, clients.map(c => c.id), createRng(name))
      const started = performance.now()
      const deadline = started + 120_000
      let issued = 0
      let answered = 0
      const outcome = { ok: 0, fail: 0, info: 0 }
      const loop = async (client: Client, process: number): Promise<void> => {
        while (issued < ops && performance.now() < deadline) {
          issued++
          const command = next(client.id)
          const op = recordInvoke(recorder, process, command, performance.now() - started)
          try {
            const result = await client.run(command)
            if (result.type === 'cas' && !result.ok) { op.fail(performance.now() - started); outcome.fail++ }
            else { op.ok(performance.now() - started, result.type === 'value' ? result.value : undefined); outcome.ok++ }
          } catch {
            op.info(performance.now() - started)
            outcome.info++
          }
          answered++
        }
      }
      // CLIENT_NODES x IN_FLIGHT callers, each a history process with one call outstanding: 48 against a limit of 4.
      await Promise.all(clients.flatMap((client, c) => Array.from({ length: IN_FLIGHT }, (_, slot) => loop(client, c * IN_FLIGHT + slot))))
      sampling = false
      await sampler
      expect(answered).toBe(issued)
      expect(issued).toBe(ops)
      const after = await Promise.all(ids.map(id => status(config, id)))
      const shed = after.reduce((sum, s) => sum + s.requestsShed, 0)
      expect(shed, 'requests answered busy').toBeGreaterThan(0)
      expect(mostPending).toBeLessThanOrEqual(LIMIT)
      // Busy answers are waited out, not timed out: at most a few calls of hundreds may miss the generous deadline.
      expect(outcome.info, JSON.stringify(outcome)).toBeLessThanOrEqual(ops / 50)
      const verdict = checkHistory(recorder.events)
      expect(verdict.verdict, verdict.explanation).toBe('linearizable')
      for (const c of clients) await c.close()
      await clusterDown(config)
    }, 240_000)
  })
}
