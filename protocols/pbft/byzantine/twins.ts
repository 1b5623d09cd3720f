/**
 * Twins (Bano et al., "Twins: BFT Systems Made Robust", 2022): two honest replicas that share one identity and key.
 * Each twin sees only part of the traffic, so the pair says different, validly signed things under one name (for
 * example, as primary, two batches for one seq) without any code written to misbehave.
 */
import type { Ready, Replica } from '../../../core/protocol.ts'
import type { PbftContext } from '../options.ts'
import type { Rng } from '../../../core/random.ts'
import type { ClientRequest, NodeId, ReplicaStatus } from '../../../core/types.ts'
import type { PbftMessage } from '../messages.ts'
import { PbftReplica } from '../replica.ts'

/** Both twins, for a harness that wants to route messages to them itself. */
export function createTwins(ctx: PbftContext): [PbftReplica, PbftReplica] {
  return [
    new PbftReplica({ ...ctx, rng: ctx.rng.fork('twin-a') }),
    new PbftReplica({ ...ctx, rng: ctx.rng.fork('twin-b') }),
  ]
}

/**
 * The pair as one replica, for hosts that run one replica per id: each input goes to one twin or the other at random
 * (sometimes both), and the outputs of both leave under the shared identity.
 */
export class TwinsReplica implements Replica<PbftMessage> {
  readonly twins: [PbftReplica, PbftReplica]
  private readonly rng: Rng
  private readonly checkpointInterval: number

  constructor(ctx: PbftContext, rng: Rng) {
    this.twins = createTwins(ctx)
    this.rng = rng
    this.checkpointInterval = ctx.options.checkpointInterval
  }

  private pick(): PbftReplica[] {
    const roll = this.rng.int(5)
    return roll === 0 ? this.twins : [this.twins[roll % 2]!]
  }

  tick(): void {
    for (const t of this.twins) t.tick()
  }

  receive(from: NodeId, message: PbftMessage): void {
    for (const t of this.pick()) t.receive(from, message)
  }

  propose(request: ClientRequest, from: NodeId): void {
    for (const t of this.pick()) t.propose(request, from)
  }

  /** The host's snapshot is twin a's state. */
  snapshotTaken(index: number, data: Uint8Array): void {
    this.twins[0].snapshotTaken(index, data)
  }

  ready(): Ready<PbftMessage> {
    const [a, b] = this.twins.map(t => t.ready()) as [Ready<PbftMessage>, Ready<PbftMessage>]
    // One host, one state machine: only twin a's decisions are applied there; both twins' messages go out. Twin b has
    // no state machine of its own, so it checkpoints a made-up state (one more lie the others must shrug off).
    for (const e of b.committed) {
      if (e.index % this.checkpointInterval === 0) this.twins[1].snapshotTaken(e.index, new Uint8Array([0x74, 0x77, 0x69, 0x6e]))
    }
    return { ...a, persist: [...a.persist, ...b.persist], messages: [...a.messages, ...b.messages] }
  }

  status(): ReplicaStatus {
    return this.twins[0].status()
  }
}
