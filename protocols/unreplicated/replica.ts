/**
 * The unreplicated baseline: one replica that logs each command durably and commits it at once. It is what the
 * benchmark measures the cost of replication against (same host, same storage, same state machine, no agreement),
 * and the smallest proof that the contract works.
 */
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import { readRequest, writeRequest } from '../../core/codec/client-messages.ts'
import type { Replica, ReplicaContext, Ready } from '../../core/protocol.ts'
import { ReadyBuffer } from '../../core/ready.ts'
import type { ClientRequest, NodeId, ReplicaStatus } from '../../core/types.ts'

/** The baseline has no replica-to-replica messages. */
export type UnreplicatedMessage = never

export class UnreplicatedReplica implements Replica<UnreplicatedMessage> {
  private readonly id: NodeId
  private readonly out = new ReadyBuffer<UnreplicatedMessage>()
  private lastIndex = 0
  private snapshotIndex = 0

  constructor(ctx: ReplicaContext) {
    this.id = ctx.id
    const snapshot = ctx.recovered.snapshot
    if (snapshot !== null) this.snapshotIndex = this.lastIndex = snapshot.index
    // Entries logged after the last snapshot were acknowledged before the crash: commit them again, in order.
    for (const record of ctx.recovered.log) {
      if (record.index <= this.lastIndex) continue
      if (record.index !== this.lastIndex + 1) throw new Error(`unreplicated log has a gap before index ${record.index}`)
      this.lastIndex = record.index
      this.out.commit({ index: record.index, requests: [decodeEntry(record.value)] })
    }
  }

  tick(): void {}

  receive(): void {}

  propose(request: ClientRequest): void {
    const index = ++this.lastIndex
    this.out.persist({ kind: 'entry', index, value: encodeEntry(request) })
    this.out.commit({ index, requests: [request] })
  }

  snapshotTaken(index: number, data: Uint8Array): void {
    this.snapshotIndex = index
    this.out.persist({ kind: 'snapshot', index, meta: new Uint8Array(0), data })
  }

  ready(): Ready<UnreplicatedMessage> {
    return this.out.take()
  }

  status(): ReplicaStatus {
    return { role: 'leader', epoch: 0, leader: this.id, commitIndex: this.lastIndex, logSize: this.lastIndex - this.snapshotIndex }
  }
}

function encodeEntry(request: ClientRequest): Uint8Array {
  const w = new BinaryWriter(32 + request.op.length)
  writeRequest(w, request)
  return w.finish()
}

function decodeEntry(bytes: Uint8Array): ClientRequest {
  const r = new BinaryReader(bytes, 'unreplicated log entry')
  const request = readRequest(r)
  r.end()
  return request
}

export function createUnreplicatedReplica(ctx: ReplicaContext): UnreplicatedReplica {
  return new UnreplicatedReplica(ctx)
}
