/**
 * End to end in one process: three Raft replica hosts over the libp2p transport with file storage in a temp dir, and
 * a client host that writes and reads through them; then a replica is stopped and restarted from its files.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createClientHost } from '../../core/client-host.ts'
import type { ClientHost } from '../../core/client-host.ts'
import { createReplicaHost } from '../../core/host.ts'
import type { ReplicaHost } from '../../core/host.ts'
import { createKvStore, decodeKvResult, encodeKvCommand } from '../../core/kv.ts'
import type { KvCommand, KvResult } from '../../core/kv.ts'
import { createRng } from '../../core/random.ts'
import { realRuntime } from '../../core/runtime.ts'
import { signatureScheme } from '../../core/signers/index.ts'
import { createFileStorage } from '../../core/storage/file-storage.ts'
import type { FileStorage } from '../../core/storage/file-storage.ts'
import { createLibp2pTransport } from '../../net/libp2p/libp2p-transport.ts'
import type { Libp2pTransport } from '../../net/libp2p/libp2p-transport.ts'
import { getProtocol } from '../../protocols/index.ts'
import type { TestMember } from './helpers.ts'
import { testMembers, waitFor } from './helpers.ts'

const scheme = signatureScheme('node')
const raft = getProtocol('raft')
const protocolOptions = raft.parseOptions({}, 3)
const TICK_MS = 10

interface LiveReplica { host: ReplicaHost; transport: Libp2pTransport; storage: FileStorage }

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function startReplica(member: TestMember, members: TestMember[], dir: string): Promise<LiveReplica> {
  const transport = await createLibp2pTransport({ id: member.id, privateKey: member.privateKey, peers: members.map(m => m.address) })
  const storage = createFileStorage({ dir: join(dir, `replica-${member.id}`), fsync: 'batch' })
  const host = createReplicaHost({
    descriptor: raft,
    id: member.id,
    members: members.filter(m => m.role === 'replica').map(m => m.id),
    protocolOptions,
    transport,
    storage,
    runtime: realRuntime,
    stateMachine: createKvStore(),
    rng: createRng(`replica-${member.id}`),
    signer: scheme.signer(member.privateKey),
    verifier: scheme.verifier,
    publicKeyOf: id => members.find(m => m.id === id)?.address.publicKey,
    tickMs: TICK_MS,
    snapshotInterval: 20,
  })
  host.start()
  return { host, transport, storage }
}

async function stopReplica(r: LiveReplica): Promise<void> {
  r.host.stop()
  await r.transport.stop()
  r.storage.close()
}

async function run(client: ClientHost, command: KvCommand): Promise<KvResult> {
  // Bounded retries: an election may be under way when the first attempt goes out.
  for (let attempt = 0; ; attempt++) {
    try {
      return decodeKvResult(await client.submitAsync(encodeKvCommand(command), command.type === 'get', 2000))
    } catch (e) {
      if (attempt >= 4) throw e
    }
  }
}

describe('live cluster over libp2p with file storage', () => {
  it('three Raft replicas serve writes and reads, and a restarted replica recovers from its files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'libp2p-cluster-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const members = await testMembers(3, 1, 'cluster-test')
    const replicas = await Promise.all(members.slice(0, 3).map(m => startReplica(m, members, dir)))
    cleanups.push(async () => { for (const r of replicas) await stopReplica(r).catch(() => undefined) })

    const clientMember = members[3]!
    const clientTransport = await createLibp2pTransport({
      id: clientMember.id, privateKey: clientMember.privateKey, peers: members.map(m => m.address),
    })
    cleanups.push(() => clientTransport.stop())
    const client = createClientHost({
      descriptor: raft, id: clientMember.id, replicas: [0, 1, 2], protocolOptions, transport: clientTransport,
      runtime: realRuntime, rng: createRng('client'), signer: scheme.signer(clientMember.privateKey), tickMs: TICK_MS,
    })
    cleanups.push(() => client.close())

    expect(await run(client, { type: 'put', key: 'x', value: '1' })).toEqual({ type: 'ok' })
    expect(await run(client, { type: 'get', key: 'x' })).toEqual({ type: 'value', value: '1' })

    // Stop a follower, keep writing (past a snapshot), restart it from its directory: it catches up.
    const leader = replicas.find(r => r.host.status().role === 'leader')
    expect(leader).toBeDefined()
    const victimIndex = replicas.findIndex(r => r !== leader)
    await stopReplica(replicas[victimIndex]!)
    for (let i = 0; i < 30; i++) expect(await run(client, { type: 'put', key: `k${i}`, value: String(i) })).toEqual({ type: 'ok' })
    const target = leader!.host.status().appliedIndex
    replicas[victimIndex] = await startReplica(members[victimIndex]!, members, dir)
    const restarted = replicas[victimIndex]!
    await waitFor(() => restarted.host.status().appliedIndex >= target, `replica ${victimIndex} to catch up to ${target}`, 10_000)
    expect(await run(client, { type: 'get', key: 'k29' })).toEqual({ type: 'value', value: '29' })
    expect(leader!.storage.stats.compactions).toBeGreaterThan(0)
    for (const r of replicas) expect(r.transport.rejected).toEqual({ unauthorized: 0, oversized: 0, malformed: 0, handlerErrors: 0 })
  })
})
