/**
 * Twins (Bano et al., "Twins: BFT Systems Made Robust", 2022): two honest replicas that share one identity and key.
 * Each twin sees only part of the traffic, so the pair says different, validly signed things under one name (two
 * proposals for one view, two votes in one view) without any code written to misbehave.
 */
import type { Ready, Replica } from '../../../core/protocol.ts'
import type { Rng } from '../../../core/random.ts'
import type { ClientRequest, NodeId, ReplicaStatus } from '../../../core/types.ts'
import type { HotStuffMessage } from '../messages.ts'
import type { HotStuffContext } from '../options.ts'
import { HotStuffReplica } from '../replica.ts'

/** Both twins, for a harness that wants to route messages to them itself. */
export function createTwins(ctx: HotStuffContext): [HotStuffReplica, HotStuffReplica] {
  return [
    new HotStuffReplica({ ...ctx, rng: ctx.rng.fork('twin-a') }),
    new HotStuffReplica({ ...ctx, rng: ctx.rng.fork('twin-b') }),
  ]
}

/**
 * The pair as one replica, for hosts that run one replica per id: each input goes to one twin or the other at random
 * (sometimes both), and the outputs of both leave under the shared identity. Only twin a's decisions reach the host's
 * state machine; twin b's durable writes are dropped (one disk, and twin a's must stay consistent with its memory).
 */
export class TwinsReplica implements Replica<HotStuffMessage> {
  readonly twins: [HotStuffReplica, HotStuffReplica]
  private readonly rng: Rng

  constructor(ctx: HotStuffContext, rng: Rng) {
    this.twins = createTwins(ctx)
    this.rng = rng
  }

  private pick(): HotStuffReplica[] {
    const roll = this.rng.int(5)
    return roll === 0 ? this.twins : [this.twins[roll % 2]!]
  }

  tick(): void {
    for (const t of this.twins) t.tick()
  }

  receive(from: NodeId, message: HotStuffMessage): void {
    for (const t of this.pick()) t.receive(from, message)
  }

  propose(request: ClientRequest, from: NodeId): void {
    for (const t of this.pick()) t.propose(request, from)
  }

  snapshotTaken(index: number, data: Uint8Array): void {
    this.twins[0].snapshotTaken(index, data)
  }

  ready(): Ready<HotStuffMessage> {
    const [a, b] = this.twins.map(t => t.ready()) as [Ready<HotStuffMessage>, Ready<HotStuffMessage>]
    return { ...a, messages: [...a.messages, ...b.messages] }
  }

  status(): ReplicaStatus {
    return this.twins[0].status()
  }
}
