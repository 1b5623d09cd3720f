/**
 * Every protocol runs unchanged on every libp2p stack (net/libp2p/stack.ts): on each, a 3-replica Raft and a
 * 4-replica PBFT cluster (in one process, as createNode builds them) serve writes and reads, keep serving once the
 * leader or primary is gone, and refuse a stranger of the same stack; so do HotStuff (n = 4) on QUIC and Multi-Paxos
 * (n = 3) on WebSockets + TLS + mplex. Then gossipsub dissemination under a short chaos run (crash and restart of the
 * primary, a partition), its history judged linearizable. Gossipsub across replica processes (PBFT on QUIC, HotStuff
 * and Multi-Paxos on TCP, kill -9 of the leader): gossip-processes.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLibp2p } from 'libp2p'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { checkHistory } from '../../core/checker/index.ts'
import { HistoryRecorder } from '../../core/history.ts'
import { createKvOpGenerator, recordInvoke } from '../../core/kv-workload.ts'
import { createRng } from '../../core/random.ts'
import { generatePrivateKey } from '../../core/signers/index.ts'
import type { NodeId } from '../../core/types.ts'
import { DEFAULT_PROTOCOL_ID } from '../../net/libp2p/index.ts'
import { libp2pPrivateKey } from '../../net/libp2p/peer-identity.ts'
import { parseStack, portKind, stackModules, stackName } from '../../net/libp2p/stack.ts'
import type { Libp2pStack } from '../../net/libp2p/stack.ts'
import type { Dissemination } from '../../net/libp2p/dissemination.ts'
import { createClient, type ConsensusClient } from '../../live/client.ts'
import type { ClusterConfig } from '../../live/config.ts'
import { initCluster } from '../../live/init.ts'
import { createNode, type ConsensusNode } from '../../live/node.ts'
import { freePorts, freeUdpPorts, sleep, waitFor } from '../libp2p/helpers.ts'

const STACKS = ['tcp+noise+yamux', 'tcp+tls+yamux', 'tcp+noise+mplex', 'websockets+noise+yamux', 'quic'].map(s => parseStack(s))

const dirs: string[] = []
const open: Array<{ close(): Promise<void> } | { stop(): void | Promise<void> }> = []
afterEach(async () => {
  for (const o of open.splice(0).reverse()) { try { await ('close' in o ? o.close() : o.stop()) } catch { /* already closed */ } }
})
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })

async function ports(stack: Libp2pStack, n: number): Promise<number[]> {
  return portKind(stack) === 'udp' ? freeUdpPorts(n) : freePorts(n)
}

async function inProcessCluster(protocol: string, n: number, stack: Libp2pStack, dissemination: Dissemination = 'direct'):
  Promise<{ config: ClusterConfig; nodes: Array<ConsensusNode | null>; client: ConsensusClient }> {
  const dir = mkdtempSync(join(tmpdir(), `stacks-${protocol}-`))
  dirs.push(dir)
  const config = initCluster({ protocol, n, dir, ports: await ports(stack, n), clients: 2, fsync: 'none', stack, dissemination })
  const nodes: Array<ConsensusNode | null> = []
  for (const r of config.replicas) {
    const node = await createNode({ config, id: r.id, admin: false })
    open.push(node)
    nodes.push(node)
  }
  const client = await createClient({ config, clientId: 1000, timeoutMs: 1500 })
  open.push(client)
  // The first write waits out the first election (Raft) or connection set-up (PBFT's primary is replica 0).
  await waitFor(async () => { try { await client.put('warm', 'up'); return true } catch { return false } }, 'a first write', 20_000)
  return { config, nodes, client }
}

/** The replica the others follow: Raft's leader, PBFT's primary of the current view. */
function leaderOf(nodes: ReadonlyArray<ConsensusNode | null>): NodeId {
  for (const node of nodes) {
    const leader = node?.host.status().leader
    if (leader !== null && leader !== undefined && leader >= 0 && nodes[leader] !== null) return leader
  }
  throw new Error('no replica names a live leader')
}

async function strangerIsRefused(stack: Libp2pStack, config: ClusterConfig, node: ConsensusNode): Promise<void> {
  const stranger = await createLibp2p({
    privateKey: libp2pPrivateKey(generatePrivateKey(createRng(`stranger-${stackName(stack)}`))),
    addresses: { listen: [] },
    ...await stackModules(stack),
  })
  open.push(stranger)
  await expect(stranger.dialProtocol(node.transport.node!.getMultiaddrs(), DEFAULT_PROTOCOL_ID,
    { signal: AbortSignal.timeout(3000) })).rejects.toThrow()
  expect(config.replicas.length).toBeGreaterThan(0)
}

/** Writes, a compare-and-set and reads; a stranger of the same stack refused; writes again once the leader is gone. */
function servesAndSurvivesLeaderLoss(protocol: string, n: number, stack: Libp2pStack): void {
  describe(`${protocol} on ${stackName(stack)}`, () => {
    it(`serves writes and reads, survives losing its ${protocol === 'pbft' ? 'primary' : 'leader'}, refuses a stranger`, async () => {
      const { config, nodes, client } = await inProcessCluster(protocol, n, stack)
      expect(config.stack.transport).toBe(stack.transport)
      await client.put('a', '1')
      expect(await client.get('a')).toBe('1')
      expect(await client.cas('a', '1', '2')).toBe(true)
      await strangerIsRefused(stack, config, nodes[0]!)

      const leader = leaderOf(nodes)
      await nodes[leader]!.close() // gone without a goodbye: its peers see the connection drop
      nodes[leader] = null
      // The client retries on its own deadline; a write succeeds once a new leader (view) is in place.
      await waitFor(async () => { try { await client.put('b', 'after'); return true } catch { return false } },
        'a write after the leader is gone', 30_000)
      expect(await client.get('a')).toBe('2')
      expect(await client.get('b')).toBe('after')
    }, 60_000)
  })
}

for (const stack of STACKS) {
  for (const [protocol, n] of [['raft', 3], ['pbft', 4]] as const) servesAndSurvivesLeaderLoss(protocol, n, stack)
}
// HotStuff and Multi-Paxos once each, on stacks the other two leave the most unlike the default (over gossipsub on
// TCP + Noise + Yamux in replica processes: gossip-processes.test.ts).
servesAndSurvivesLeaderLoss('hotstuff', 4, parseStack('quic'))
servesAndSurvivesLeaderLoss('multipaxos', 3, parseStack('websockets+tls+mplex'))

describe('gossipsub dissemination under chaos', () => {
  for (const protocol of ['pbft', 'raft'] as const) {
    it(`${protocol} over gossipsub: a history linearizable across a crash and restart of the leader and a partition`, async () => {
      const n = protocol === 'pbft' ? 4 : 3
      const stack = parseStack('tcp+noise+yamux')
      const { config, nodes, client } = await inProcessCluster(protocol, n, stack, 'gossipsub')
      const recorder = new HistoryRecorder()
      const rng = createRng(`gossip-chaos-${protocol}`)
      const next = createKvOpGenerator({ keys: 4, readRatio: 0.3, casRatio: 0.3, deleteRatio: 0.05, keyPrefix: 'g/' }, [client.id], rng)
      const started = performance.now()
      // At least 6 s (the chaos takes 4), and on until 20 operations succeeded (a loaded machine is slow), at most 25 s.
      const until = started + 6000
      const hardStop = started + 25_000
      let succeeded = 0
      const loop = async (process: number): Promise<void> => {
        for (let i = 0; i < 400 && (performance.now() < until || succeeded < 20) && performance.now() < hardStop; i++) {
          const command = next(client.id)
          const op = recordInvoke(recorder, process, command, performance.now() - started)
          try {
            const result = await client.run(command)
            if (result.type === 'value') op.ok(performance.now() - started, result.value)
            else if (result.type === 'cas' && !result.ok) op.fail(performance.now() - started)
            else op.ok(performance.now() - started)
            succeeded++
          } catch {
            op.info(performance.now() - started)
          }
        }
      }
      const chaos = async (): Promise<void> => {
        await sleep(1000)
        const victim = leaderOf(nodes)
        await nodes[victim]!.close()
        nodes[victim] = null
        await sleep(1200)
        const restarted = await createNode({ config, id: victim, admin: false })
        open.push(restarted)
        nodes[victim] = restarted
        await sleep(800)
        // Partition one replica away from the rest, both ways, then heal.
        const island = (victim + 1) % n
        nodes[island]!.transport.setBlocked(new Set(config.replicas.map(r => r.id).filter(id => id !== island)))
        for (const [i, node] of nodes.entries()) if (i !== island) node!.transport.setBlocked(new Set([island]))
        await sleep(1000)
        for (const node of nodes) node!.transport.setBlocked(new Set())
      }
      await Promise.all([loop(0), loop(1), loop(2), chaos()])
      // Progress after the heal, and broadcasts went over gossip (not the direct streams) on every live replica.
      await waitFor(async () => { try { await client.put('after-heal', 'x'); return true } catch { return false } }, 'a write after the heal', 20_000)
      const verdict = checkHistory(recorder.events)
      expect(verdict.verdict, verdict.explanation).toBe('linearizable')
      // Definite answers (ok, or a compare-and-set that did not match) the checker had to fit.
      expect(recorder.events.filter(e => e.type === 'ok' || e.type === 'fail').length).toBeGreaterThanOrEqual(20)
      // PBFT's pre-prepares, prepares and commits are broadcasts, so every replica (the restarted one since its restart)
      // published; Raft sends each follower its own AppendEntries, so only its elections' RequestVotes can be gossiped.
      if (protocol === 'pbft') {
        expect(nodes.map(node => node!.transport.gossip!.published).filter(p => p === 0), JSON.stringify(nodes.map(node => node!.transport.gossip))).toEqual([])
      }
      for (const node of nodes) {
        // What reached the handler is at most what arrived on the wire: duplicates stopped in gossipsub's seen-cache.
        expect(node!.transport.gossip!.delivered).toBeLessThanOrEqual(node!.transport.gossip!.copiesReceived)
        expect(node!.transport.gossip!.refused).toBe(0)
      }
    }, 60_000)
  }
})
