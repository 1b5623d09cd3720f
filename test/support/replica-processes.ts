/**
 * Real replica processes on 127.0.0.1, for one registered protocol (each protocol's file under test/live/processes/
 * calls describeReplicaProcesses, so vitest's workers run the protocols side by side): the cluster serves reads and writes; kill -9 of
 * the leader or primary and service resumes with no acknowledged write lost; the killed replica restarts from its
 * files and catches up; a partition leaves the majority serving and the minority refusing writes, and healing restores
 * it; a flood of malformed, oversized and unauthorized frames neither crashes nor stalls a replica; a torn write at
 * the end of the log is recovered, a second replica on the same data directory is refused and a damaged record is
 * refused; a short chaos run ends linearizable; leader transfer and membership changes work from the CLI where the
 * protocol supports them and are refused, saying so, where it does not.
 *
 * Leaderless protocols (EPaxos, quorum-kv) have no leader to kill or isolate: the busiest replica (most client
 * requests) takes its place. For an eventually consistent one (quorum-kv) catching up means holding the same store
 * (equal stateDigest) rather than the same applied index, and its chaos history is judged and printed, not required
 * to be linearizable; a consensus one (EPaxos) catches up by executing what the others executed (its local applied
 * count reaches theirs).
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { lastNonZero, SEGMENT_HEADER_BYTES } from '../../core/storage/record-framing.ts'
import type { NodeId } from '../../core/types.ts'
import { encodeRequest } from '../../core/codec/client-messages.ts'
import { encodeKvCommand } from '../../core/kv.ts'
import { createLibp2pTransport } from '../../net/libp2p/index.ts'
import { protocols } from '../../protocols/index.ts'
import { adminRequest } from '../../live/admin.ts'
import { runAdminCommand } from '../../live/cluster-admin.ts'
import { runChaos } from '../../live/chaos.ts'
import { chaosView } from '../../viz/chaos.ts'
import { createClient } from '../../live/client.ts'
import type { ClusterConfig } from '../../live/config.ts'
import { initCluster } from '../../live/init.ts'
import { readKeyFile } from '../../live/keys.ts'
import { addressBookOf, adminSocketPath, type NodeStatus } from '../../live/node.ts'
import { clusterDown, clusterUp, startReplicaProcess, stopReplicaProcess } from '../../live/processes.ts'
import { freePorts, waitFor } from '../libp2p/helpers.ts'
import { putEventually } from './live.ts'

async function status(config: ClusterConfig, id: NodeId): Promise<NodeStatus> {
  return await adminRequest(adminSocketPath(config, id), { cmd: 'status' }) as NodeStatus
}

async function leaderOf(config: ClusterConfig, among: readonly NodeId[]): Promise<NodeId> {
  let leader: NodeId = -1
  await waitFor(async () => {
    for (const id of among) {
      const s = await status(config, id).catch(() => null)
      if (s !== null && s.leader !== null && s.leader >= 0 && among.includes(s.leader)) { leader = s.leader; return true }
    }
    return false
  }, 'a leader among ' + among.join(','), 15_000)
  return leader
}

/** The leader, or for a leaderless protocol the busiest replica (as the simulator's faults aimed at `leader`). */
async function leaderOrBusiest(config: ClusterConfig, among: readonly NodeId[], leaderless: boolean): Promise<NodeId> {
  if (!leaderless) return await leaderOf(config, among)
  const received = await Promise.all(among.map(async id => (await status(config, id)).requestsReceived))
  return among[received.indexOf(Math.max(...received))]!
}

/** Wait until replica `id` stores what replica `other` stores (anti-entropy has caught it up). */
async function sameStore(config: ClusterConfig, id: NodeId, other: NodeId, what: string): Promise<void> {
  await waitFor(async () => {
    const [a, b] = await Promise.all([status(config, id).catch(() => null), status(config, other).catch(() => null)])
    return a !== null && b !== null && a.stateDigest !== null && a.stateDigest === b.stateDigest
  }, what, 20_000)
}

/** Registers the replica-process test for `protocolName`, with cleanup of its cluster and data directory. */
export function describeReplicaProcesses(protocolName: string): void {
  const protocol = protocols.get(protocolName)
  if (protocol === undefined) throw new Error(`no registered protocol named ${protocolName}`)
  const dirs: string[] = []
  const clusters: ClusterConfig[] = []
  afterAll(async () => {
    for (const c of clusters) await clusterDown(c)
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  const n = protocol.name === 'unreplicated' ? 1 : protocol.replicasFor(1)
  const leaderless = protocol.leaderless === true
  const eventual = protocol.consistency === 'eventual'
  describe(`${protocol.name}: ${n} replica process(es) on 127.0.0.1`, () => {
    it('serves, survives kill -9 of its leader, restarts from files, heals partitions, shrugs off bad frames, stays linearizable', async () => {
      const dir = mkdtempSync(join(tmpdir(), `live-${protocol.name}-`))
      dirs.push(dir)
      const config = initCluster({ protocol: protocol.name, n, dir, ports: await freePorts(n), clients: 6, fsync: 'batch' })
      clusters.push(config)
      const configFile = join(dir, 'cluster.json')
      await clusterUp(config, configFile)
      const ids = config.replicas.map(r => r.id)
      const client = await createClient({ config, clientId: 1000, timeoutMs: 2000 })

      // 1. Reads and writes.
      await putEventually(client, 'greeting', 'hello')
      expect(await client.get('greeting')).toBe('hello')
      const acknowledged: string[] = []
      for (let i = 0; i < 20; i++) { await putEventually(client, `k${i}`, `v${i}`); acknowledged.push(`k${i}`) }

      // 2. kill -9 the leader: service resumes, nothing acknowledged is lost.
      const leader = await leaderOrBusiest(config, ids, leaderless)
      await stopReplicaProcess(config, leader, { kill9: true })
      if (n === 1) await startReplicaProcess(config, configFile, leader) // the baseline has no one to fail over to
      for (let i = 20; i < 40; i++) { await putEventually(client, `k${i}`, `v${i}`); acknowledged.push(`k${i}`) }
      for (const key of acknowledged) expect(await client.get(key)).toBe(`v${key.slice(1)}`)

      // 3. The killed replica restarts from its files and catches up.
      await startReplicaProcess(config, configFile, leader)
      if (eventual) await sameStore(config, leader, ids.find(id => id !== leader)!, `replica ${leader} to catch up through anti-entropy`)
      const target = Math.max(...await Promise.all(ids.filter(id => id !== leader).map(async id => (await status(config, id)).appliedIndex)))
      await waitFor(async () => (await status(config, leader)).appliedIndex >= target, `replica ${leader} to catch up to ${target}`, 20_000)

      if (n > 1) {
        // 4. Partition: isolate the current leader. The majority elects another and serves; the minority refuses.
        const isolated = await leaderOrBusiest(config, ids, leaderless)
        const majority = ids.filter(id => id !== isolated)
        await adminRequest(adminSocketPath(config, isolated), { cmd: 'block', peers: majority })
        for (const id of majority) await adminRequest(adminSocketPath(config, id), { cmd: 'block', peers: [isolated] })
        const minorityClient = await createClient({ config, clientId: 1001, timeoutMs: 1500, replicas: [isolated] })
        await expect(minorityClient.put('minority', 'x')).rejects.toThrow(/timed out/)
        await putEventually(client, 'majority', 'y')
        expect(await client.get('majority')).toBe('y')
        const majorityApplied = (await status(config, majority[0]!)).appliedIndex
        for (const id of ids) await adminRequest(adminSocketPath(config, id), { cmd: 'heal' })
        // Healed: the formerly isolated replica rejoins, follows a leader and catches up with what the majority did.
        if (eventual) await sameStore(config, isolated, majority[0]!, 'the formerly isolated replica to catch up after healing')
        else {
          await waitFor(async () => {
            const s = await status(config, isolated)
            return (leaderless || (s.leader !== null && s.leader >= 0)) && s.appliedIndex >= majorityApplied
          }, 'the formerly isolated replica to rejoin and catch up after healing', 20_000)
        }
        await putEventually(client, 'after-heal', 'z')
        await minorityClient.close()
      }

      // 5. A flood of malformed, oversized and unauthorized frames from an allow-listed client identity.
      const attackerKey = readKeyFile(join(dir, config.clients[5]!.keyFile!))
      const attacker = await createLibp2pTransport({ id: config.clients[5]!.id, privateKey: attackerKey.privateKey, peers: addressBookOf(config), listen: [] })
      const target0 = ids[0]!
      for (let i = 0; i < 200; i++) {
        attacker.send(target0, { channel: 'request', type: 'junk', bytes: new Uint8Array([0xff, 0xff, i & 0xff]) })
        attacker.send(target0, { channel: 'protocol', type: 'junk', bytes: new Uint8Array([1, 2, 3]) })
        // A well-formed request that claims to come from another client.
        attacker.send(target0, { channel: 'request', type: 'forged', bytes: encodeRequest({
          clientId: 1000, seq: 1e15, readOnly: false, op: encodeKvCommand({ type: 'put', key: 'forged', value: 'x' }), signature: new Uint8Array(0) }) })
      }
      attacker.send(target0, { channel: 'request', type: 'huge', bytes: new Uint8Array(config.maxFrameBytes + 10) })
      await new Promise(r => setTimeout(r, 1000))
      await attacker.stop()
      await putEventually(client, 'still', 'alive')
      expect(await client.get('still')).toBe('alive')
      expect(await client.get('forged')).toBeNull()
      const s0 = await status(config, target0)
      expect(Object.values(s0.framesRejected).reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
      await client.close()

      // 6. A short chaos run (kill -9, restarts, partitions, SIGSTOP pauses, clock drift) ends linearizable and live.
      const report = await runChaos({
        config, configFile, durationMs: 6000, clients: 3, faultIntervalMs: 1000, seed: 7, settleMs: 3000, statusPollMs: 250,
        faults: n > 1 ? ['kill', 'restart', 'partition', 'pause', 'clock', 'transfer'] : ['kill', 'restart', 'pause'],
      })
      if (protocol.consistency === 'eventual') {
        process.stdout.write(`${protocol.name} live chaos: checker verdict ${report.check.verdict} (eventually consistent: recorded, not required)\n`)
      } else {
        expect(report.check.verdict, report.check.explanation).toBe('linearizable')
      }
      expect(report.liveness.ok, `${report.liveness.problems.join('; ')}\nfaults: ${report.faults.map(f => f.description).join('; ')}`).toBe(true)
      expect(report.ops.ok).toBeGreaterThan(10)
      // What chaos --html draws: the polled status of every replica, and the faults on their lines.
      expect(new Set(report.status.map(s => s.replica))).toEqual(new Set(config.replicas.map(r => r.id)))
      const view = chaosView(report, 'chaos')
      expect(view.faults.map(f => f.kind)).not.toContain('other')
      expect(view.ops.length).toBe(report.ops.ok + report.ops.fail + report.ops.info)

      // 6b. Leader transfer through the admin socket: Raft and Multi-Paxos hand leadership over; others refuse, saying so.
      if (n > 1) {
        const from = await leaderOrBusiest(config, ids, leaderless)
        const to = ids.find(id => id !== from)!
        const transfer = adminRequest(adminSocketPath(config, from), { cmd: 'admin', command: { kind: 'transfer-leadership', to } })
        if (protocol.adminCommands?.includes('transfer-leadership') === true) {
          await transfer
          await waitFor(async () => (await status(config, to).catch(() => null))?.role === 'leader', `replica ${to} to lead after the transfer`, 15_000)
        } else {
          await expect(transfer).rejects.toThrow(/has no leader transfer/)
        }
      }

      // 6c. Membership through the contract's admin input, from the CLI: remove a follower, add it back as a learner,
      // promote it once it has caught up (refused until then), and writes commit throughout. Protocols without
      // membership changes are refused before any replica is contacted.
      if (n > 1) {
        const cli = (...args: string[]) => execFileSync(process.execPath,
          [join(import.meta.dirname, '../../bin/consensus.ts'), 'cluster', ...args], { stdio: 'pipe', timeout: 60_000 }).toString()
        const lead = await leaderOrBusiest(config, ids, leaderless)
        const other = ids.find(id => id !== lead)!
        const client = await createClient({ config, clientId: 1001, timeoutMs: 2000 })
        if (protocol.adminCommands?.includes('remove') === true) {
          expect(cli('member', 'remove', dir, String(other))).toMatch(new RegExp(`removing ${other}: done .*voters ${ids.filter(i => i !== other).join(',')}`))
          await putEventually(client, 'while-removed', 'yes')
          expect((await runAdminCommand(config, { kind: 'add-learner', id: other })).status.membership?.learners).toEqual([other])
          await waitFor(async () => {
            try { await runAdminCommand(config, { kind: 'promote', id: other }, 5000); return true } catch { return false }
          }, `learner ${other} to be promoted once caught up`, 30_000)
          expect((await status(config, lead)).membership).toEqual({ voters: ids, learners: [], committed: true })
          await putEventually(client, 'after-rejoin', 'yes')
        } else {
          await expect(runAdminCommand(config, { kind: 'remove', id: other })).rejects.toThrow(new RegExp(`${protocol.name} does not support remove`))
        }
        await client.close()
      }

      // 7. Storage faults: a torn append at the end of the log is cut off on restart; a second replica on the same data
      // directory is refused; a damaged record is refused (exit status 2), naming file and offset.
      await clusterDown(config)
      const dataDir = join(dir, config.replicas[0]!.dataDir)
      const lastWal = (): string => join(dataDir, readdirSync(dataDir).filter(f => f.startsWith('wal-')).sort().at(-1)!)
      const nodeArgs = [join(import.meta.dirname, '../../bin/consensus.ts'), 'node', '--config', configFile, '--id', '0']
      /** Run `consensus node` expecting it to refuse to start: its exit status and what it printed. */
      const refusedStart = (): { status: number | null; stderr: string } => {
        try {
          execFileSync(process.execPath, nodeArgs, { stdio: 'pipe', timeout: 20_000 })
        } catch (e) {
          return { status: (e as { status: number | null }).status, stderr: String((e as { stderr: Buffer }).stderr) }
        }
        return { status: 0, stderr: '' }
      }
      let wal = lastWal()
      let bytes = readFileSync(wal)
      // Segments are preallocated: records, then zeros. A torn append is the first bytes of a record, zeros after.
      bytes.set([0x40, 0, 0, 0, 1, 2, 3], lastNonZero(bytes, 0) + 1)
      writeFileSync(wal, bytes)
      const pid = await startReplicaProcess(config, configFile, 0)
      const second = refusedStart()
      expect(second.status).toBe(2)
      expect(second.stderr).toContain(`is locked by process ${pid}`)
      await stopReplicaProcess(config, 0)
      wal = lastWal()
      bytes = readFileSync(wal)
      // Every byte before the end of the last record belongs to the segment header or to a record: a flip there is
      // always refused (it used to be refused only when it missed a length field, see test/regressions).
      const used = lastNonZero(bytes, 0) + 1
      expect(used).toBeGreaterThan(SEGMENT_HEADER_BYTES)
      bytes[Math.floor(used / 3)]! ^= 0xff
      writeFileSync(wal, bytes)
      const refused = refusedStart()
      expect(refused.status, refused.stderr).toBe(2)
      expect(refused.stderr).toContain(wal)
      expect(refused.stderr).toMatch(/offset \d+/)
      expect(refused.stderr).toContain('refusing to start')
      expect(statSync(join(dir, config.replicas[0]!.keyFile)).mode & 0o777).toBe(0o600)
    }, 180_000)
  })
}
