/**
 * Which instances a state-machine snapshot contains: per replica a contiguous frontier (instances 1 .. frontier[q]
 * all executed) plus the few executed above it (execution follows dependencies, not instance numbers, so the
 * executed set need not be a prefix). Kept in the snapshot's `meta`, so a restarted replica knows which committed
 * instances its restored state already includes and which it must execute again.
 */
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import { CodecError } from '../../core/errors.ts'
import { readNumbers, writeNumbers } from './messages.ts'

export interface ExecutedSet {
  readonly frontier: readonly number[]
  /** Executed instances above their replica's frontier, as [position, num]. */
  readonly above: ReadonlyArray<readonly [number, number]>
  /**
   * The rest of a strongly connected component the snapshot cut in two (the host snapshots at a local index, which
   * may fall inside a component), in its execution order: a restarted replica runs these first, in this order. Left
   * to the execution algorithm, the remainder would form other components (the executed part of the cycle is gone
   * from the graph) and could run in another order than it did everywhere else.
   */
  readonly pending: ReadonlyArray<readonly [number, number]>
}

export function emptyExecutedSet(n: number): ExecutedSet {
  return { frontier: new Array<number>(n).fill(0), above: [], pending: [] }
}

export function contains(set: ExecutedSet, position: number, num: number, aboveKeys: ReadonlySet<string>): boolean {
  return num <= (set.frontier[position] ?? 0) || aboveKeys.has(`${position}.${num}`)
}

export function aboveKeysOf(set: ExecutedSet): Set<string> {
  return new Set(set.above.map(([p, num]) => `${p}.${num}`))
}

const META_VERSION = 1

/** The executed set, then (optionally) whatever `extra` writes: the replica's conflict table. */
export function encodeExecutedSet(set: ExecutedSet, extra?: (w: BinaryWriter) => void): Uint8Array {
  const w = new BinaryWriter(32 + set.above.length * 4)
  w.u8(META_VERSION)
  writeNumbers(w, set.frontier)
  w.uvarint(set.above.length)
  for (const [p, num] of set.above) w.uvarint(p).uvarint(num)
  w.uvarint(set.pending.length)
  for (const [p, num] of set.pending) w.uvarint(p).uvarint(num)
  extra?.(w)
  return w.finish()
}

/** Decodes what encodeExecutedSet wrote; `extra` reads what its writer added (called only when bytes remain). */
export function decodeExecutedSet(bytes: Uint8Array, extra?: (r: BinaryReader) => void): ExecutedSet {
  const r = new BinaryReader(bytes, 'epaxos snapshot meta')
  const version = r.u8()
  if (version !== META_VERSION) throw new CodecError(`epaxos snapshot meta version ${version}, expected ${META_VERSION}`)
  const frontier = readNumbers(r, 'executed frontier')
  const count = r.count()
  const above: Array<[number, number]> = []
  for (let i = 0; i < count; i++) above.push([r.uvarint(), r.uvarint()])
  const pendingCount = r.count()
  const pending: Array<[number, number]> = []
  for (let i = 0; i < pendingCount; i++) pending.push([r.uvarint(), r.uvarint()])
  if (extra !== undefined && r.remaining > 0) extra(r)
  else if (extra === undefined) while (r.remaining > 0) r.u8()
  r.end()
  return { frontier, above, pending }
}
