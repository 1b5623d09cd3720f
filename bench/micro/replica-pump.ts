/**
 * A protocol's replicas with nothing around them: no host, no storage, no network model. Messages go straight from
 * one replica's Ready to the next replica's `receive` (like etcd-io/raft's test `network`), persistence is taken as
 * instant, and snapshots are reported every `snapshotInterval` committed indexes as a host would. It measures the cost
 * of the protocol logic itself, through the public Replica interface only.
 */
import type { AnyProtocol, ClientProtocol, Replica } from '../../core/protocol.ts'
import { createRng } from '../../core/random.ts'
import { generatePrivateKey, signatureScheme } from '../../core/signers/index.ts'
import { EMPTY_DURABLE_STATE } from '../../core/storage.ts'
import { silentLogger } from '../../core/logger.ts'
import type { ClientRequest, NodeId, Outbound } from '../../core/types.ts'
import type { SignerName } from '../../core/signer.ts'
import { EMPTY_BYTES } from '../../core/codec/client-messages.ts'

const CLIENT_ID = 1000
const SNAPSHOT_BYTES = new Uint8Array([1, 2, 3, 4])

export class ReplicaPump {
  readonly replicas: Replica<unknown>[]
  readonly leader: NodeId
  private readonly client: ClientProtocol
  private readonly snapshotInterval: number
  private readonly queue: { from: NodeId; out: Outbound<unknown> }[] = []
  private readonly committed: number[]
  private seq = 0
  /** Messages delivered so far. */
  delivered = 0

  constructor(protocol: AnyProtocol, n: number, o: { seed?: number; signer?: SignerName; snapshotInterval?: number } = {}) {
    const rng = createRng(o.seed ?? 1)
    const scheme = signatureScheme(o.signer ?? 'node')
    const members = [...Array(n).keys()]
    const keys = new Map<NodeId, Uint8Array>()
    for (const id of [...members, CLIENT_ID]) keys.set(id, generatePrivateKey(rng.fork(`key-${id}`)))
    const publicKeys = new Map([...keys].map(([id, k]) => [id, scheme.publicKeyOf(k)]))
    const options = protocol.parseOptions({}, n)
    this.snapshotInterval = o.snapshotInterval ?? 64
    this.committed = members.map(() => 0)
    this.replicas = members.map(id => protocol.createReplica({
      id, members, options, rng: rng.fork(`replica-${id}`), signer: scheme.signer(keys.get(id)!), verifier: scheme.verifier,
      publicKeyOf: other => publicKeys.get(other), recovered: EMPTY_DURABLE_STATE, log: silentLogger,
    }))
    this.client = protocol.createClient({
      id: CLIENT_ID, replicas: members, options, rng: rng.fork('client'), signer: scheme.signer(keys.get(CLIENT_ID)!),
    })
    this.leader = this.electLeader()
  }

  private collect(id: NodeId): void {
    const ready = this.replicas[id]!.ready()
    for (const out of ready.messages) this.queue.push({ from: id, out })
    for (const entry of ready.committed) {
      this.committed[id] = entry.index
      if (entry.index % this.snapshotInterval === 0) this.replicas[id]!.snapshotTaken(entry.index, SNAPSHOT_BYTES)
    }
  }

  /** Deliver until no replica has anything to send. */
  pump(): void {
    for (let id = 0; id < this.replicas.length; id++) this.collect(id)
    while (this.queue.length > 0) {
      const { from, out } = this.queue.shift()!
      const to = this.replicas[out.to]
      if (to === undefined) continue // replies to clients travel elsewhere
      to.receive(from, out.message)
      this.delivered++
      this.collect(out.to)
    }
  }

  private electLeader(): NodeId {
    for (let tick = 0; tick < 10_000; tick++) {
      for (const r of this.replicas) r.tick()
      this.pump()
      for (let id = 0; id < this.replicas.length; id++) {
        const s = this.replicas[id]!.status()
        if (s.leader === id) {
          // Let the new leader's first entries commit before measuring.
          for (let i = 0; i < 5; i++) { for (const r of this.replicas) r.tick(); this.pump() }
          return id
        }
      }
    }
    throw new Error('no leader after 10000 ticks')
  }

  /** One client command proposed at the leader and carried until the leader commits it (followers may learn later). */
  commitOne(op: Uint8Array): void {
    const request: ClientRequest = { clientId: CLIENT_ID, seq: ++this.seq, readOnly: false, op, signature: EMPTY_BYTES }
    // The client half fills in what the protocol needs (PBFT signs the request).
    this.client.submit(request)
    const sent = this.client.ready().messages.find(m => m.to === this.leader)?.message ?? request
    const target = this.committed[this.leader]! + 1
    this.replicas[this.leader]!.propose(sent, CLIENT_ID)
    this.pump()
    if (this.committed[this.leader]! < target) {
      throw new Error(`command ${this.seq} did not commit at the leader (committed: ${this.committed.join(', ')})`)
    }
    this.client.receive(this.leader, { clientId: CLIENT_ID, seq: this.seq, status: 'ok', result: EMPTY_BYTES, leaderHint: this.leader, epoch: 0, error: '' })
    this.client.ready()
  }
}
