/**
 * The host's ordering rule: what a message depends on is durable before the message leaves, and Readies are released
 * in order. Checked with a tiny protocol whose every message depends on a write, over fsync-modelling storage.
 */
import { describe, expect, it } from 'vitest'
import { LeaderClient } from '../../core/clients/leader-client.ts'
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import type { ProtocolDescriptor, Ready, Replica, ReplicaContext } from '../../core/protocol.ts'
import { ReadyBuffer } from '../../core/ready.ts'
import { sessionId } from '../../core/sessions.ts'
import type { NodeId, ReplicaStatus } from '../../core/types.ts'
import { createSimCluster } from '../../net/sim/cluster.ts'

interface Note { readonly n: number }

/** Replica 0 writes record n, then tells replica 1 "n is durable"; replica 1 records what it was told. */
class NotaryReplica implements Replica<Note> {
  readonly id: NodeId
  readonly out = new ReadyBuffer<Note>()
  readonly heard: number[] = []
  readonly recoveredRecords: number[]
  private next = 1

  constructor(ctx: ReplicaContext) {
    this.id = ctx.id
    this.recoveredRecords = ctx.recovered.log.map(r => r.index)
  }

  tick(): void {
    if (this.id !== 0 || this.next > 5) return
    const n = this.next++
    this.out.persist({ kind: 'entry', index: n, value: new Uint8Array([n]) })
    this.out.send(1, { n })
    // A message without its own write, in the next Ready: must not overtake the previous one.
    this.out.send(1, { n: 100 + n })
  }

  receive(_from: NodeId, m: Note): void { this.heard.push(m.n) }
  propose(): void {}
  snapshotTaken(): void {}
  ready(): Ready<Note> { return this.out.take() }
  status(): ReplicaStatus { return { role: 'notary', epoch: 0, leader: 0, commitIndex: 0, logSize: 0 } }
}

const notary: ProtocolDescriptor<Note> = {
  name: 'notary', description: 'test protocol', faultModel: 'crash',
  replicasFor: () => 2, faultsTolerated: () => 0, checkClusterSize: () => null, parseOptions: () => ({}),
  codec: {
    encode: m => new BinaryWriter().uvarint(m.n).finish(),
    decode: b => { const r = new BinaryReader(b, 'Note'); const n = r.uvarint(); r.end(); return { n } },
    typeName: () => 'Note',
  },
  createReplica: ctx => new NotaryReplica(ctx),
  createClient: ctx => new LeaderClient(ctx),
  replyFrom: 'proposer',
  theoreticalMessages: () => ({}),
}

describe('replica host', () => {
  it('sends a message only after the write it depends on is synced, in Ready order', () => {
    const cluster = createSimCluster({ protocol: notary, n: 2, seed: 1, fsyncMs: 7, tickMs: 10, network: { latency: { kind: 'constant', ms: 1 } } })
    const receiver = cluster.replica<NotaryReplica>(1)
    const syncedAt: number[] = []
    const storage0 = cluster.storage(0)
    cluster.sim.run(10 + 7) // first tick at 10, fsync done at 17, delivery at 18
    expect(receiver.heard).toEqual([])
    expect(storage0.syncs).toBe(1)
    syncedAt.push(cluster.sim.now())
    cluster.sim.run(18)
    expect(receiver.heard).toEqual([1, 101])
    cluster.sim.run(200)
    expect(receiver.heard).toEqual([1, 101, 2, 102, 3, 103, 4, 104, 5, 105])
  })

  it('loses both the unsynced write and the message that depends on it when the node crashes mid-fsync', () => {
    const cluster = createSimCluster({ protocol: notary, n: 2, seed: 1, fsyncMs: 7, tickMs: 10, network: { latency: { kind: 'constant', ms: 1 } } })
    const receiver = cluster.replica<NotaryReplica>(1)
    cluster.sim.run(15) // record 1 written at 10, its fsync still running
    cluster.crash(0)
    cluster.sim.run(100)
    expect(receiver.heard).toEqual([])
    expect(cluster.storage(0).load().log).toEqual([])
    cluster.restart(0)
    expect(cluster.replica<NotaryReplica>(0).recoveredRecords).toEqual([])
  })

  it('recovers synced writes after a crash', () => {
    const cluster = createSimCluster({ protocol: notary, n: 2, seed: 1, fsyncMs: 7, tickMs: 10, network: { latency: { kind: 'constant', ms: 1 } } })
    cluster.sim.run(35) // records 1 and 2 synced (17, 27); record 3 written at 30, in flight
    cluster.crash(0)
    cluster.restart(0)
    expect(cluster.replica<NotaryReplica>(0).recoveredRecords).toEqual([1, 2])
    expect(cluster.replica<NotaryReplica>(1).heard).toEqual([1, 101, 2, 102])
  })

  it('rejects a request whose client id differs from the authenticated sender, and malformed frames', () => {
    const cluster = createSimCluster({ protocol: notary, n: 2, seed: 1 })
    const ep = cluster.network.endpoint(1)
    ep.send(0, { channel: 'protocol', type: 'Note', bytes: new Uint8Array([0x80]) })
    const request = (clientId: number) => new BinaryWriter().uvarint(clientId).uvarint(1).bool(false).bytes(new Uint8Array(1))
      .bytes(new Uint8Array(0)).finish()
    ep.send(0, { channel: 'request', type: 'ClientRequest', bytes: request(1234) })
    cluster.sim.run(50)
    expect(cluster.rejectedFrames.map(r => r.reason)).toEqual([
      expect.stringContaining('malformed Note: truncated varint'),
      'request for session 1234 of client 1234 was sent by 1',
    ])
    expect(cluster.host(0).foreignSessionRequests).toBe(1)
  })

  it("refuses a session of another client's identity and counts it, and accepts the sender's own sessions", () => {
    const cluster = createSimCluster({ protocol: notary, n: 2, seed: 1 })
    const ep = cluster.network.endpoint(1)
    const request = (clientId: number) => new BinaryWriter().uvarint(clientId).uvarint(1).bool(false).bytes(new Uint8Array(1))
      .bytes(new Uint8Array(0)).finish()
    ep.send(0, { channel: 'request', type: 'ClientRequest', bytes: request(sessionId(1000, 3)) })
    ep.send(0, { channel: 'request', type: 'ClientRequest', bytes: request(sessionId(1, 7)) })
    cluster.sim.run(50)
    expect(cluster.rejectedFrames.map(r => r.reason)).toEqual([`request for session ${sessionId(1000, 3)} of client 1000 was sent by 1`])
    expect(cluster.host(0).foreignSessionRequests).toBe(1)
  })
})
