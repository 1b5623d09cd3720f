/**
 * Anti-entropy (Dynamo §4.7): replicas that missed writes (partitioned, crashed, messages lost) catch up without any
 * client reading the keys. Every `antiEntropyTicks` a replica sends its per-bucket digest to the next peer in turn;
 * the peer answers with its entries of every bucket whose hash differs, asking for the sender's in return. Both sides
 * merge last-writer-wins, so after the exchange both hold the newer version of every key in those buckets. Dynamo
 * compares Merkle trees per key range to send little when little differs; a single level of buckets is enough here.
 */
import type { NodeId } from '../../core/types.ts'
import type { QuorumKvEnv } from './env.ts'
import type { AntiEntropyDigest, AntiEntropyEntries } from './messages.ts'
import { compareVersions, type Version } from './version.ts'

export class AntiEntropy {
  private readonly env: QuorumKvEnv
  private ticksUntilDigest: number
  /** Index into the peers of the next one to exchange with (round robin, starting after this replica). */
  private cursor = 0

  constructor(env: QuorumKvEnv) {
    this.env = env
    this.ticksUntilDigest = env.options.antiEntropyTicks
    const peers = env.peers
    const after = peers.findIndex(p => p > env.id)
    this.cursor = after < 0 ? 0 : after
  }

  tick(): void {
    if (--this.ticksUntilDigest > 0) return
    this.ticksUntilDigest = this.env.options.antiEntropyTicks
    const peers = this.env.peers
    if (peers.length === 0) return
    const to = peers[this.cursor % peers.length]!
    this.cursor = (this.cursor + 1) % peers.length
    this.env.out.send(to, { type: 'AntiEntropyDigest', hashes: this.env.store.digest() })
  }

  receiveDigest(from: NodeId, m: AntiEntropyDigest): void {
    const mine = this.env.store.digest()
    // A peer configured with another bucket count cannot be compared bucket by bucket: ignore it.
    if (m.hashes.length !== mine.length) return
    const buckets: number[] = []
    for (let b = 0; b < mine.length; b++) if (mine[b] !== m.hashes[b]) buckets.push(b)
    if (buckets.length === 0) return
    this.env.out.send(from, {
      type: 'AntiEntropyEntries', buckets, entries: this.env.store.entriesIn(new Set(buckets)), answerWanted: true,
    })
  }

  receiveEntries(from: NodeId, m: AntiEntropyEntries): void {
    const env = this.env
    const buckets = new Set(m.buckets.filter(b => b < env.store.buckets))
    const theirs = new Map<string, Version>()
    for (const e of m.entries) {
      // Only keys of the buckets named: a peer cannot make us send or keep anything else through this exchange.
      if (!buckets.has(env.store.bucketOf(e.key))) continue
      theirs.set(e.key, e.version)
      env.keep(e.key, e)
    }
    if (!m.answerWanted) return
    // Send back only what the peer lacks or holds older.
    const newer = env.store.entriesIn(buckets).filter(e => compareVersions(e.version, theirs.get(e.key) ?? null) > 0)
    if (newer.length > 0) env.out.send(from, { type: 'AntiEntropyEntries', buckets: [...buckets], entries: newer, answerWanted: false })
  }
}
