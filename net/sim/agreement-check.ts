/**
 * State-machine safety across replicas of one log: every replica applies the same batch at the same index. The first
 * batch seen at an index is what every other replica's must equal; a bounded window of recent indexes is kept, so
 * memory stays flat in long runs (a replica lagging further behind is not compared).
 *
 * The batches themselves are kept only for the last RECENT_WINDOW indexes, where replicas that keep up apply them;
 * further back each index keeps a 64-bit fingerprint of its batch. Holding every batch of the whole window made each
 * command survive into the GC's old generation, which cost more than anything else the check does (bench speed).
 */
import { bytesEqual, sameRequest } from '../../core/codec/client-messages.ts'
import type { ClientRequest, CommittedEntry, NodeId } from '../../core/types.ts'

/** How many recent indexes the check remembers. */
const DECIDED_WINDOW = 100_000
/** How many of those keep their batch for an exact comparison (the rest compare fingerprints). */
const RECENT_WINDOW = 1024

export class AgreementCheck {
  /** Rings over the windows: slot `index % window` holds the latest index first applied there (-1: none yet). */
  private readonly indexes = new Float64Array(DECIDED_WINDOW).fill(-1)
  private readonly fingerprintHigh = new Uint32Array(DECIDED_WINDOW)
  private readonly fingerprintLow = new Uint32Array(DECIDED_WINDOW)
  private readonly sizes = new Uint32Array(DECIDED_WINDOW)
  private readonly recentIndexes = new Float64Array(RECENT_WINDOW).fill(-1)
  private readonly recentBatches: (readonly ClientRequest[] | undefined)[] = new Array<undefined>(RECENT_WINDOW).fill(undefined)

  /**
   * Compare what replica `host` applied with what was first applied at that index: 'first' when no replica applied
   * anything there before, 'same', or the violation in words.
   */
  applied(host: NodeId, entry: CommittedEntry): 'first' | 'same' | string {
    const index = entry.index
    const slot = index % DECIDED_WINDOW
    const held = this.indexes[slot]!
    if (held !== index) {
      // A replica lagging a whole window behind is not compared, and does not evict the newer index in its slot.
      if (held < index) this.remember(index, slot, entry.requests)
      return 'first'
    }
    const recent = index % RECENT_WINDOW
    const same = this.recentIndexes[recent] === index
      ? sameBatch(this.recentBatches[recent]!, entry.requests)
      : entry.requests.length === this.sizes[slot] && fingerprintMatches(entry.requests, this.fingerprintHigh[slot]!, this.fingerprintLow[slot]!)
    return same ? 'same' : `replica ${host} applied a different batch at index ${index} ` +
      `(${entry.requests.length} requests vs ${this.sizes[slot]} first applied elsewhere)`
  }

  private remember(index: number, slot: number, batch: readonly ClientRequest[]): void {
    const f = new Fingerprint()
    f.batch(batch)
    this.indexes[slot] = index
    this.fingerprintHigh[slot] = f.high
    this.fingerprintLow[slot] = f.low
    this.sizes[slot] = batch.length
    const recent = index % RECENT_WINDOW
    if (this.recentIndexes[recent]! < index) {
      this.recentIndexes[recent] = index
      this.recentBatches[recent] = batch
    }
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

function fingerprintMatches(batch: readonly ClientRequest[], high: number, low: number): boolean {
  const f = new Fingerprint()
  f.batch(batch)
  return f.high === high && f.low === low
}

/** Two independent 32-bit FNV-style hashes of what identifies a batch's commands (as sameRequest compares them). */
class Fingerprint {
  high = 0x811c9dc5
  low = 0x01000193

  batch(batch: readonly ClientRequest[]): void {
    this.mix(batch.length)
    for (const r of batch) {
      // Session ids go up to 2^52: both halves count.
      this.mix(r.clientId % 0x100000000)
      this.mix(Math.floor(r.clientId / 0x100000000))
      this.mix(r.seq % 0x100000000)
      this.mix(Math.floor(r.seq / 0x100000000))
      this.mix(r.readOnly ? 1 : 0)
      this.mix(r.op.length)
      for (let i = 0; i < r.op.length; i++) this.mix(r.op[i]!)
    }
  }

  private mix(v: number): void {
    this.high = Math.imul(this.high ^ v, 0x01000193) >>> 0
    this.low = Math.imul(this.low ^ (v + 0x9e3779b9), 0x85ebca6b) >>> 0
  }
}
