/**
 * The blocks a replica holds, by hash, with parent links (paper section 4: the tree of pending nodes). Every block in
 * the tree descends from `root`: the committed block holding the last snapshot's index (genesis at first). A block
 * enters only once its parent is in (missing ancestors are fetched first), so ancestry walks never leave the tree.
 * Pruning moves the root up to a newer committed block and drops everything that does not descend from it (older
 * committed blocks and abandoned forks alike).
 */
import type { Block } from './messages.ts'
import { hashKey } from './signing.ts'

export interface StoredBlock {
  readonly block: Block
  readonly hash: Uint8Array
  readonly key: string
  readonly parentKey: string
}

export class BlockTree {
  private readonly byKey = new Map<string, StoredBlock>()
  private rootEntry: StoredBlock

  constructor(root: Block, rootHash: Uint8Array) {
    this.rootEntry = { block: root, hash: rootHash, key: hashKey(rootHash), parentKey: hashKey(root.parentHash) }
    this.byKey.set(this.rootEntry.key, this.rootEntry)
  }

  get root(): StoredBlock {
    return this.rootEntry
  }

  get size(): number {
    return this.byKey.size
  }

  get(key: string): StoredBlock | undefined {
    return this.byKey.get(key)
  }

  has(key: string): boolean {
    return this.byKey.has(key)
  }

  values(): IterableIterator<StoredBlock> {
    return this.byKey.values()
  }

  /**
   * Add `block` (whose hash the caller computed). Refused (false) when its parent is not in the tree or its height is
   * not the parent's plus one, or its view not above the parent's: such a block cannot extend anything we hold.
   */
  insert(block: Block, hash: Uint8Array): boolean {
    const key = hashKey(hash)
    if (this.byKey.has(key)) return true
    const parent = this.byKey.get(hashKey(block.parentHash))
    if (parent === undefined || block.height !== parent.block.height + 1 || block.view <= parent.block.view) return false
    this.byKey.set(key, { block, hash, key, parentKey: parent.key })
    return true
  }

  parent(entry: StoredBlock): StoredBlock | undefined {
    return entry === this.rootEntry ? undefined : this.byKey.get(entry.parentKey)
  }

  /** Whether `descendant` is `ancestor` or lies below it on one chain. */
  extends(descendant: StoredBlock, ancestor: StoredBlock): boolean {
    let at: StoredBlock | undefined = descendant
    while (at !== undefined && at.block.height > ancestor.block.height) at = this.parent(at)
    return at !== undefined && at.key === ancestor.key
  }

  /** The chain from `from` down to (excluding) the block at `stopHeight`, newest first. */
  chainAbove(from: StoredBlock, stopHeight: number): StoredBlock[] {
    const out: StoredBlock[] = []
    let at: StoredBlock | undefined = from
    while (at !== undefined && at.block.height > stopHeight) {
      out.push(at)
      at = this.parent(at)
    }
    return out
  }

  /**
   * Make `newRoot` (a block in the tree) the root and drop every block that does not descend from it. Returns the
   * keys dropped (their durable records can go too).
   */
  prune(newRoot: StoredBlock): string[] {
    if (newRoot.key === this.rootEntry.key) return []
    const sorted = [...this.byKey.values()].sort((a, b) => a.block.height - b.block.height)
    const keep = new Set<string>([newRoot.key])
    const dropped: string[] = []
    for (const e of sorted) {
      if ((e.block.height <= newRoot.block.height && e.key !== newRoot.key) ||
        (e.block.height > newRoot.block.height && !keep.has(e.parentKey))) {
        this.byKey.delete(e.key)
        dropped.push(e.key)
      } else if (e.block.height > newRoot.block.height) {
        keep.add(e.key)
      }
    }
    this.rootEntry = newRoot
    return dropped
  }

  /**
   * Replace everything with a single root (state transfer installed a snapshot beyond what we hold). Returns the keys
   * dropped.
   */
  reset(root: Block, rootHash: Uint8Array): string[] {
    const dropped = [...this.byKey.keys()]
    this.byKey.clear()
    this.rootEntry = { block: root, hash: rootHash, key: hashKey(rootHash), parentKey: hashKey(root.parentHash) }
    this.byKey.set(this.rootEntry.key, this.rootEntry)
    return dropped
  }
}
