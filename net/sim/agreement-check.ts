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
  /**
   * A ring over the window: slot `index % DECIDED_WINDOW` holds the latest index first applied there and its batch.
   * Every replica applies every index, so a Map keyed by index took an insert and a delete per index and a rehash of
   * its whole window now and then; the ring's slots are reused in place.
   */
  private readonly indexes: number[] = []
  private readonly batches: (readonly ClientRequest[])[] = []

  /**
   * Compare what replica `host` applied with what was first applied at that index: 'first' when no replica applied
   * anything there before, 'same', or the violation in words.
   */
  applied(host: NodeId, entry: CommittedEntry): 'first' | 'same' | string {
    const slot = entry.index % DECIDED_WINDOW
    const held = this.indexes[slot]
    if (held !== entry.index) {
      // A replica lagging a whole window behind is not compared, and does not evict the newer index in its slot.
      // Indexes arrive nearly in order, so the arrays grow densely up to the window.
      if (held === undefined || held < entry.index) {
        this.indexes[slot] = entry.index
        this.batches[slot] = entry.requests
      }
      return 'first'
    }
    const first = this.batches[slot]!
    return sameBatch(first, entry.requests) ? 'same' : `replica ${host} applied a different batch at index ${entry.index} ` +
      `(${entry.requests.length} requests vs ${first.length} first applied elsewhere)`
  }
}

function sameBatch(first: readonly ClientRequest[], other: readonly ClientRequest[]): boolean {
  // Handed-over messages often make the batches, or their requests, the very same objects: nothing to compare then.
  if (first === other) return true
  if (first.length !== other.length) return false
  for (let i = 0; i < first.length; i++) {
    const a = first[i]!
    const b = other[i]!
    if (a !== b && !(sameRequest(a, b) && bytesEqual(a.op, b.op))) return false
  }
  return true
}
