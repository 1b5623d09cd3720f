/**
 * PBFT on the shared replica network (test/support/replica-network.ts): replies from every replica, real Ed25519
 * signatures (per-replica signer implementations that must interoperate), Byzantine replicas by factory (excluded
 * from safety checks, their hosts lying to clients), the descriptor's f+1 quorum clients over a KV workload, and the
 * network's checks: no two correct replicas apply different batches (compared byte for byte) at one index, and every
 * result a client accepts is the one correct replicas computed. Violations are collected in `violations`, which
 * every test asserts empty. What stays here is PBFT's own: the honest replica accessor, drop counters, injection.
 */
import type { Replica } from '../../core/protocol.ts'
import type { SignerName } from '../../core/signer.ts'
import type { DurableState } from '../../core/storage.ts'
import type { ClientRequest, NodeId } from '../../core/types.ts'
import { pbft } from '../../protocols/pbft/descriptor.ts'
import { encodeBatch } from '../../protocols/pbft/digest.ts'
import { pbftCodec, type PbftMessage } from '../../protocols/pbft/messages.ts'
import type { PbftContext, PbftOptions } from '../../protocols/pbft/options.ts'
import { PbftReplica } from '../../protocols/pbft/replica.ts'
import { FIRST_CLIENT_ID, ReplicaNetwork, type NetworkFaults } from '../support/replica-network.ts'

export { FIRST_CLIENT_ID }
export type { NetworkFaults }

export type ReplicaFactory = (ctx: PbftContext) => Replica<PbftMessage>

export interface HarnessOptions {
  readonly n: number
  readonly seed: number | string
  readonly clients?: number
  readonly options?: Readonly<Record<string, unknown>>
  readonly signer?: SignerName
  /** Per-replica signer implementation (they must interoperate); defaults to `signer`. */
  readonly signerOf?: (id: NodeId) => SignerName
  readonly network?: NetworkFaults
  /** Byzantine replicas: id -> factory (excluded from safety checks). */
  readonly byzantine?: ReadonlyMap<NodeId, ReplicaFactory>
  /** The host's snapshot interval (default: the checkpoint interval, as it must be; others show what breaks). */
  readonly snapshotInterval?: number
  /** Print the replicas' debug log lines (with the tick) to stdout. */
  readonly trace?: boolean
}

/** A batch is identified by all its bytes (requests, ops and signatures): equal keys, identical batches. */
function batchBytesKey(requests: readonly ClientRequest[]): string {
  return Buffer.from(encodeBatch(requests)).toString('base64')
}

export class PbftHarness extends ReplicaNetwork<PbftMessage, PbftReplica> {
  declare readonly options: PbftOptions
  readonly checkpointInterval: number

  constructor(o: HarnessOptions) {
    super({
      protocol: pbft, n: o.n, seed: o.seed, clients: o.clients ?? 1, options: o.options, signer: o.signer,
      signerOf: o.signerOf, faults: o.network, byzantine: o.byzantine, snapshotInterval: o.snapshotInterval,
      ignoreRequiredSnapshotInterval: true, onViolation: 'record', entryKey: batchBytesKey, trace: o.trace,
    })
    this.checkpointInterval = this.options.checkpointInterval
  }

  /** The network faults in force (mutable: `h.network = {}` heals loss and delays). */
  get network(): NetworkFaults { return this.faults }
  set network(f: NetworkFaults) { this.faults = f }

  /** Protocol messages sent by type (including those a blocked type then loses). */
  get messageCounts(): Map<string, number> { return this.sentByType }

  override context(id: NodeId, recovered: DurableState): PbftContext {
    return super.context(id, recovered) as PbftContext
  }

  /** The honest replica object of `id` (for introspection). */
  override replica(id: NodeId): PbftReplica {
    const r = this.node(id).replica
    if (!(r instanceof PbftReplica)) throw new Error(`replica ${id} is not an honest PbftReplica`)
    return r
  }

  /** Drop counters summed over correct replicas. */
  drops(): Record<string, number> {
    const total: Record<string, number> = {}
    for (const id of this.ids) {
      const r = this.node(id).replica
      if (!(r instanceof PbftReplica)) continue
      for (const [k, v] of Object.entries(r.dropCounts())) total[k] = (total[k] ?? 0) + v
    }
    return total
  }

  /** Deliver one hand-made protocol message to a replica right now, through the codec (bad-input tests). */
  inject(from: NodeId, to: NodeId, message: PbftMessage): void {
    this.node(to).replica!.receive(from, pbftCodec.decode(pbftCodec.encode(message)))
    this.drain(to)
  }

  durableLogSize(id: NodeId): number {
    return this.durable(id).log.length
  }
}

/** A one-line command that replays a failing seeded case. */
export function replayLine(file: string, testName: string, seed: number | string): string {
  return `replay: PBFT_SEED=${seed} npx vitest run ${file} -t "${testName}"`
}
