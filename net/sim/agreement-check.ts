/**
 * State-machine safety across replicas of one log: every replica applies the same batch at the same index. The first
 * batch seen at an index is what every other replica's must equal; a bounded window of recent indexes is kept, so
 * memory stays flat in long runs (a replica lagging further behind is not compared).
 */
import { bytesEqual, sameRequest } from '../../core/codec/client-messages.ts'
import type { ClientRequest, CommittedEntry, NodeId } from '../../core/types.ts'

/** How many recent indexes the check remembers. */
const DECIDED_WINDOW = 100_000

export class AgreementCheck {
  private readonly decided = new Map<number, readonly ClientRequest[]>()

  /**
   * Compare what replica `host` applied with what was first applied at that index: 'first' when no replica applied
   * anything there before, 'same', or the violation in words.
   */
  applied(host: NodeId, entry: CommittedEntry): 'first' | 'same' | string {
    const first = this.decided.get(entry.index)
    if (first === undefined) {
      this.decided.set(entry.index, entry.requests)
      this.decided.delete(entry.index - DECIDED_WINDOW)
      return 'first'
    }
    // Handed-over messages often make the batches the very same objects: then there is nothing to compare.
    const same = first === entry.requests || (first.length === entry.requests.length &&
      first.every((r, i) => r === entry.requests[i] || (sameRequest(r, entry.requests[i]!) && bytesEqual(r.op, entry.requests[i]!.op))))
    return same ? 'same' : `replica ${host} applied a different batch at index ${entry.index} ` +
      `(${entry.requests.length} requests vs ${first.length} first applied elsewhere)`
  }
}
