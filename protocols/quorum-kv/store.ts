/**
 * The versioned store every quorum-kv replica holds: for each key the newest value it knows with its version, a
 * deleted key kept as a tombstone (a null value with the delete's version) so that an older write arriving later, by
 * a repair or anti-entropy, cannot bring the key back. Tombstones are never purged (Cassandra drops them after
 * gc_grace_seconds, which needs every replica to have seen them first): the store is bounded by the keys ever written.
 *
 * Merging is last-writer-wins by version, so replicas that have seen the same writes hold the same store whatever the
 * order they saw them in. Keys hash into buckets, each with an order-independent hash of its entries kept up to date
 * on every change, for the anti-entropy digest (Dynamo §4.7 uses a Merkle tree per key range; one level suffices at
 * this scale).
 */
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import { hash32 } from '../../core/random.ts'
import { compareVersions, type Version } from './version.ts'

export interface StoredValue {
  /** null: a tombstone. */
  readonly value: string | null
  readonly version: Version
}

export interface StoreEntry extends StoredValue {
  readonly key: string
}

export function writeEntry(w: BinaryWriter, e: StoreEntry): void {
  w.string(e.key)
  w.bool(e.value !== null)
  if (e.value !== null) w.string(e.value)
  w.uvarint(e.version.ts).uvarint(e.version.node)
}

export function readEntry(r: BinaryReader): StoreEntry {
  const key = r.string()
  const value = r.bool() ? r.string() : null
  const ts = r.uvarint()
  return { key, value, version: { ts, node: r.uvarint() } }
}

export function encodeEntry(e: StoreEntry): Uint8Array {
  const w = new BinaryWriter(32 + e.key.length + (e.value?.length ?? 0))
  writeEntry(w, e)
  return w.finish()
}

export function decodeEntry(bytes: Uint8Array): StoreEntry {
  const r = new BinaryReader(bytes, 'quorum-kv log record')
  const e = readEntry(r)
  r.end()
  return e
}

function entryHash(key: string, v: StoredValue): number {
  return hash32(`${key}\u0000${v.value === null ? '\u0001' : '\u0002' + v.value}\u0000${v.version.ts}.${v.version.node}`)
}

export class VersionedStore {
  private readonly data = new Map<string, StoredValue>()
  private readonly bucketHashes: number[]
  private highestTs = 0
  readonly buckets: number

  constructor(buckets: number) {
    this.buckets = buckets
    this.bucketHashes = new Array<number>(buckets).fill(0)
  }

  get size(): number {
    return this.data.size
  }

  /** The highest timestamp of any stored version (a restarted clock starts above it). */
  get highestTimestamp(): number {
    return this.highestTs
  }

  get(key: string): StoredValue | undefined {
    return this.data.get(key)
  }

  bucketOf(key: string): number {
    return hash32(key) % this.buckets
  }

  /** Keep `value` if its version is newer than what is stored; returns whether the store changed. */
  merge(key: string, value: StoredValue): boolean {
    const old = this.data.get(key)
    if (old !== undefined && compareVersions(value.version, old.version) <= 0) return false
    const b = this.bucketOf(key)
    if (old !== undefined) this.bucketHashes[b] = (this.bucketHashes[b]! ^ entryHash(key, old)) >>> 0
    this.bucketHashes[b] = (this.bucketHashes[b]! ^ entryHash(key, value)) >>> 0
    this.data.set(key, value)
    if (value.version.ts > this.highestTs) this.highestTs = value.version.ts
    return true
  }

  /** The anti-entropy digest: one hash per bucket. */
  digest(): readonly number[] {
    return this.bucketHashes.slice()
  }

  /** Every entry whose key falls in one of `buckets`, in key order. */
  entriesIn(buckets: ReadonlySet<number>): StoreEntry[] {
    const out: StoreEntry[] = []
    for (const [key, v] of this.data) if (buckets.has(this.bucketOf(key))) out.push({ key, value: v.value, version: v.version })
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  private sortedEntries(): StoreEntry[] {
    return [...this.data.keys()].sort().map(key => ({ key, ...this.data.get(key)! }))
  }

  /** Canonical text of the whole store, hashed: equal stores give equal digests, whatever order writes arrived in. */
  stateDigest(): string {
    const text = this.sortedEntries()
      .map(e => `${e.key}=${e.value === null ? '<tombstone>' : JSON.stringify(e.value)}@${e.version.ts}.${e.version.node}`)
      .join('\n')
    const hex = (x: number) => x.toString(16).padStart(8, '0')
    return `${this.data.size} keys ${hex(hash32(text))}${hex(hash32(`#${text}`))}`
  }

  /** The whole store, canonical (sorted by key): the snapshot's bytes. */
  encode(): Uint8Array {
    const entries = this.sortedEntries()
    const w = new BinaryWriter(64 + entries.length * 32)
    w.uvarint(entries.length)
    for (const e of entries) writeEntry(w, e)
    return w.finish()
  }

  /** Merge a snapshot written by `encode` into this store. */
  mergeEncoded(bytes: Uint8Array): void {
    const r = new BinaryReader(bytes, 'quorum-kv store snapshot')
    const count = r.count()
    for (let i = 0; i < count; i++) {
      const e = readEntry(r)
      this.merge(e.key, e)
    }
    r.end()
  }
}
