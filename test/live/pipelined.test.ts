/**
 * A pipelining live client against real replica processes: one client identity keeps many requests in flight over its
 * one connection per replica, each answered exactly once, in a history judged linearizable, across kill -9 of the
 * leader; a request on another identity's session is refused and counted. Raft (leader-following client) and PBFT
 * (f+1 matching signed replies) cover both client kinds.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkHistory } from '../../core/checker/index.ts'
import { encodeRequest } from '../../core/codec/client-messages.ts'
import { HistoryRecorder } from '../../core/history.ts'
import { encodeKvCommand } from '../../core/kv.ts'
import { createKvOpGenerator, recordInvoke } from '../../core/kv-workload.ts'
import { createRng } from '../../core/random.ts'
import { sessionId } from '../../core/sessions.ts'
import type { NodeId } from '../../core/types.ts'
import { createLibp2pTransport } from '../../net/libp2p/index.ts'
import { createClient } from '../../live/client.ts'
import { initCluster } from '../../live/init.ts'
import { readKeyFile } from '../../live/keys.ts'
import { addressBookOf } from '../../live/node.ts'
import { clusterDown, clusterUp, startReplicaProcess, stopReplicaProcess } from '../../live/processes.ts'
import { freePorts, waitFor } from '../libp2p/helpers.ts'
import { cleanUpAfterAll, replicaStatus } from './process-clusters.ts'

const { dirs, clusters } = cleanUpAfterAll()
const status = replicaStatus

const SLOTS = 16
const OPS = 240

for (const name of ['raft', 'pbft']) {
  describe(`${name}: a pipelining client against replica processes`, () => {
    it(`keeps ${SLOTS} calls in flight on one client, each answered once, linearizable across kill -9 of the leader; refuses forged sessions`, async () => {
      const n = name === 'pbft' ? 4 : 3
      const dir = mkdtempSync(join(tmpdir(), `pipelined-${name}-`))
      dirs.push(dir)
      const config = initCluster({ protocol: name, n, dir, ports: await freePorts(n), clients: 2, fsync: 'batch' })
      clusters.push(config)
      const configFile = join(dir, 'cluster.json')
      await clusterUp(config, configFile)
      const ids = config.replicas.map(r => r.id)
      const client = await createClient({ config, clientId: 1000, timeoutMs: 2000, maxInFlight: SLOTS })
      // Wait out the first election with one call.
      await waitFor(async () => { try { await client.put('warm', 'up'); return true } catch { return false } }, 'a first write', 20_000)

      // A forged request: client 1001 (allow-listed, authenticated) uses a session of client 1000.
      const key1001 = readKeyFile(join(dir, config.clients[1]!.keyFile!))
      const forger = await createLibp2pTransport({ id: 1001, privateKey: key1001.privateKey, peers: addressBookOf(config), listen: [] })
      const forged = encodeRequest({ clientId: sessionId(1000, 1), seq: 1e15, readOnly: false,
        op: encodeKvCommand({ type: 'put', key: 'forged', value: 'x' }), signature: new Uint8Array(0) })
      for (const id of ids) forger.send(id, { channel: 'request', type: 'ClientRequest', bytes: forged })
      await waitFor(async () => (await Promise.all(ids.map(id => status(config, id))))
        .every(s => s.foreignSessionRequests === 1), 'every replica to refuse the forged session', 10_000)
      await forger.stop()

      // SLOTS concurrent loops on the one client, each a history process with one call outstanding; kill -9 of the
      // leader once a third of the operations completed, restarted a little later.
      const recorder = new HistoryRecorder()
      const keyPrefix = `pipelined-${Date.now()}/`
      const next = createKvOpGenerator({ keys: 6, readRatio: 0.3, casRatio: 0.3, deleteRatio: 0.05, keyPrefix }, [client.id], createRng(name))
      const started = performance.now()
      const deadline = started + 60_000
      let issued = 0
      let answered = 0
      let killing = false
      let killed: NodeId | null = null
      let restarted: Promise<number> | null = null
      const ok = { ok: 0, fail: 0, info: 0 }
      const loop = async (slot: number): Promise<void> => {
        while (issued < OPS && performance.now() < deadline) {
          issued++
          const command = next(client.id)
          const op = recordInvoke(recorder, slot, command, performance.now() - started)
          let settled = 0
          try {
            const result = await client.run(command)
            settled++
            if (result.type === 'value') { op.ok(performance.now() - started, result.value); ok.ok++ }
            else if (result.type === 'cas' && !result.ok) { op.fail(performance.now() - started); ok.fail++ }
            else { op.ok(performance.now() - started); ok.ok++ }
          } catch {
            settled++
            op.info(performance.now() - started)
            ok.info++
          }
          expect(settled).toBe(1)
          answered++
          if (!killing && answered >= OPS / 3) {
            killing = true // set before the first await: the other loops must not kill a second replica
            const s = await Promise.all(ids.map(id => status(config, id).catch(() => null)))
            const victim = s.find(x => x !== null && x.leader !== null && x.leader >= 0)?.leader ?? 0
            await stopReplicaProcess(config, victim, { kill9: true })
            killed = victim
            setTimeout(() => { restarted = startReplicaProcess(config, configFile, victim) }, 1500)
          }
        }
      }
      await Promise.all(Array.from({ length: SLOTS }, (_, slot) => loop(slot)))
      expect(answered).toBe(issued)
      expect(issued).toBe(OPS)
      expect(killed).not.toBeNull()
      await waitFor(() => restarted !== null, 'the killed replica to be restarted', 10_000)
      await restarted
      const verdict = checkHistory(recorder.events)
      expect(verdict.verdict, verdict.explanation).toBe('linearizable')
      expect(ok.ok).toBeGreaterThan(OPS / 2)
      expect(await client.get('forged')).toBeNull()
      await client.close()
      await clusterDown(config)
    }, 120_000)
  })
}
