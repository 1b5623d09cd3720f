/**
 * A quorum-kv replica: Dynamo-style (DeCandia et al., SOSP 2007) replicated storage without consensus. Every replica
 * holds every key (N = n; no ring); any replica coordinates the operations of the clients that contact it
 * (coordinator.ts), stores what coordinators send it (here), and exchanges digests with its peers (anti-entropy.ts).
 *
 * It commits nothing: there is no log order to agree on. The store lives in the replica, results go to clients
 * through the Ready's replies, and the host's state machine stays empty. Durability: each change of the store is a
 * log record written in the same Ready as the acknowledgement that depends on it (the host persists, then sends);
 * every `compactEvery` changes the whole store becomes the snapshot's `meta` instead. A restart merges the snapshot
 * and the records after it.
 */
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import type { Ready, Replica, ReplicaContext } from '../../core/protocol.ts'
import type { ClientRequest, NodeId, ReplicaStatus } from '../../core/types.ts'
import { AntiEntropy } from './anti-entropy.ts'
import { Coordinator } from './coordinator.ts'
import { QuorumKvEnv } from './env.ts'
import type { QuorumKvMessage } from './messages.ts'
import { weakQuorumWarning, type QuorumKvOptions } from './options.ts'
import { decodeEntry } from './store.ts'

/** Hard-state record: how many times this replica has started (its coordinator's OpIds carry it). */
const INCARNATION_KEY = 'quorum-kv/incarnation'

export class QuorumKvReplica implements Replica<QuorumKvMessage> {
  private readonly env: QuorumKvEnv
  private readonly coordinator: Coordinator
  private readonly antiEntropy: AntiEntropy
  private readonly incarnation: number

  constructor(ctx: ReplicaContext<QuorumKvOptions>) {
    const env = this.env = new QuorumKvEnv(ctx.id, ctx.members, ctx.options, ctx.log)
    const warning = weakQuorumWarning(ctx.options, ctx.members.length)
    if (warning !== null) ctx.log(warning)
    const recovered = ctx.recovered
    if (recovered.snapshot !== null) {
      env.store.mergeEncoded(recovered.snapshot.meta)
      env.logIndex = recovered.snapshot.index
    }
    for (const record of recovered.log) {
      if (record.index <= env.logIndex) continue
      const e = decodeEntry(record.value)
      env.store.merge(e.key, e)
      env.logIndex = record.index
    }
    // The clock restarts above every version this replica stored, so its own later writes stay newer than them.
    env.clock.observe(env.store.highestTimestamp)
    const hard = recovered.hard.get(INCARNATION_KEY)
    this.incarnation = (hard === undefined ? 0 : new BinaryReader(hard, 'quorum-kv incarnation').uvarint()) + 1
    env.out.persist({ kind: 'put', key: INCARNATION_KEY, value: new BinaryWriter(8).uvarint(this.incarnation).finish() })
    this.coordinator = new Coordinator(env, this.incarnation)
    this.antiEntropy = new AntiEntropy(env)
  }

  tick(): void {
    this.env.ticks++
    this.coordinator.tick()
    this.antiEntropy.tick()
  }

  receive(from: NodeId, m: QuorumKvMessage): void {
    const env = this.env
    if (!env.members.includes(from) || from === env.id) return
    switch (m.type) {
      case 'Write':
        // Stored if newer (logged in this Ready), acknowledged either way: an equal or newer version is already durable.
        env.keep(m.entry.key, m.entry)
        env.out.send(from, { type: 'WriteAck', op: m.op })
        break
      case 'ReadRepair':
        env.keep(m.entry.key, m.entry)
        env.out.send(from, { type: 'ReadRepairAck', op: m.op })
        break
      case 'Read': {
        const copy = env.store.get(m.key)
        env.out.send(from, { type: 'ReadReply', op: m.op, key: m.key, value: copy?.value ?? null, version: copy?.version ?? null })
        break
      }
      case 'WriteAck': this.coordinator.writeAcked(from, m.op); break
      case 'ReadReply': this.coordinator.readReplied(from, m); break
      case 'ReadRepairAck': this.coordinator.readRepairAcked(from, m.op); break
      case 'AntiEntropyDigest': this.antiEntropy.receiveDigest(from, m); break
      case 'AntiEntropyEntries': this.antiEntropy.receiveEntries(from, m); break
    }
  }

  propose(request: ClientRequest, from: NodeId): void {
    this.coordinator.propose(request, from)
  }

  /** Never called: quorum-kv commits no entries, so the host never snapshots its state machine. */
  snapshotTaken(): void {}

  ready(): Ready<QuorumKvMessage> {
    return this.env.out.take()
  }

  status(): ReplicaStatus {
    // Leaderless: no leader, no epoch; the "commit index" is the count of store changes made durable here.
    return { role: 'replica', epoch: this.incarnation, leader: null, commitIndex: this.env.logIndex, logSize: this.env.store.size }
  }

  stateDigest(): string {
    return this.env.store.stateDigest()
  }
}

export function createQuorumKvReplica(ctx: ReplicaContext<QuorumKvOptions>): QuorumKvReplica {
  return new QuorumKvReplica(ctx)
}
