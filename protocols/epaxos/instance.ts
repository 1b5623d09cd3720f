/**
 * One EPaxos instance as a replica holds it (Moraru et al. §4.2: cmds[L][i] with its status, seq and deps), its
 * durable record, and the conflict table a replica computes attributes from.
 */
import { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import type { ClientRequest } from '../../core/types.ts'
import type { Batch, InstanceStatus } from './messages.ts'
import { readBatch, readNumbers, readStatus, writeBatch, writeNumbers, writeStatus } from './messages.ts'

export interface Instance {
  /** The command leader's position in the member list, and the instance's number among its instances (from 1). */
  readonly replica: number
  readonly num: number
  status: InstanceStatus
  /** The batch; empty for a no-op, or while unknown here (status 'none'). */
  requests: Batch
  /** Conflict keys of the batch (the union over its requests). */
  keys: readonly string[]
  seq: number
  deps: number[]
  /** The highest ballot this replica promised for the instance (Sutra's bal). */
  ballot: number
  /** The ballot at which this replica took its current status and attributes (Sutra's vbal). */
  vballot: number
  /** Pre-accepted at the default ballot 0 with the command leader's attributes unchanged (recovery counts these). */
  unchanged: boolean
  /** Volatile: executed here (restored from the snapshot's executed set after a restart). */
  executed: boolean
  /** Volatile: the local execution index it was executed at (a no-op: the index current when it was). */
  execIndex: number
  /** Volatile: the tick after which this replica starts recovery if the instance is still undecided here. */
  recoverAt: number
  /** Volatile: the highest ballot seen in a refusal, so the next recovery ballot goes above it. */
  seenBallot: number
}

/** Map key of instance `num` of the replica at `position` (positions stay below 1024: see MAX_REPLICAS). */
export function instanceKey(position: number, num: number): number {
  return num * 1024 + position
}

export function keyPosition(key: number): number {
  return key % 1024
}

export function keyNum(key: number): number {
  return Math.floor(key / 1024)
}

export function newInstance(replica: number, num: number, n: number): Instance {
  return {
    replica, num, status: 'none', requests: [], keys: [], seq: 0, deps: new Array<number>(n).fill(0),
    ballot: 0, vballot: 0, unchanged: false, executed: false, execIndex: 0, recoverAt: 0, seenBallot: 0,
  }
}

/**
 * Log records of instances live above every index a snapshot can reach: the host's snapshot op drops log records at
 * or below its (local execution) index, and instance records must go only when compaction forgets them one by one.
 */
export const RECORD_BASE = 2 ** 40

export function recordIndex(position: number, num: number, n: number): number {
  return RECORD_BASE + (num - 1) * n + position
}

export function encodeInstanceRecord(inst: Instance): Uint8Array {
  const w = new BinaryWriter(64)
  w.uvarint(inst.replica).uvarint(inst.num)
  writeStatus(w, inst.status)
  w.uvarint(inst.ballot).uvarint(inst.vballot).bool(inst.unchanged).uvarint(inst.seq)
  writeNumbers(w, inst.deps)
  writeBatch(w, inst.requests)
  return w.finish()
}

export function decodeInstanceRecord(bytes: Uint8Array, n: number): Instance {
  const r = new BinaryReader(bytes, 'epaxos instance record')
  const replica = r.uvarint()
  const num = r.uvarint()
  const inst = newInstance(replica, num, n)
  inst.status = readStatus(r)
  inst.ballot = r.uvarint()
  inst.vballot = r.uvarint()
  inst.unchanged = r.bool()
  inst.seq = r.uvarint()
  inst.deps = readNumbers(r, 'deps')
  inst.requests = readBatch(r)
  r.end()
  return inst
}

/** The union of the requests' conflict keys. */
export function batchKeys(requests: Batch, conflictKeys: (r: ClientRequest) => readonly string[]): string[] {
  if (requests.length === 1) return [...conflictKeys(requests[0]!)]
  const keys = new Set<string>()
  for (const r of requests) for (const k of conflictKeys(r)) keys.add(k)
  return [...keys]
}

export function interferes(a: readonly string[], b: readonly string[]): boolean {
  if (a.length === 0 || b.length === 0) return false
  const [small, large] = a.length <= b.length ? [a, b] : [b, a]
  for (const x of small) if (large.includes(x)) return true
  return false
}

/**
 * Per conflict key, the highest instance number of each replica that touches it and the highest seq among them
 * (the reference implementation's conflict map): a command's attributes are read from here (Figure 2, "deps <- all
 * instances that interfere, seq <- 1 + max seq of deps") in time proportional to its keys, not to the log.
 */
export class ConflictTable {
  private readonly byKey = new Map<string, { deps: number[]; seq: number }>()
  private readonly n: number

  constructor(n: number) {
    this.n = n
  }

  /** Attributes for a batch with these keys: deps over every interfering instance seen, seq above all of theirs. */
  attributes(keys: readonly string[]): { seq: number; deps: number[] } {
    const deps = new Array<number>(this.n).fill(0)
    let seq = 0
    for (const k of keys) {
      const e = this.byKey.get(k)
      if (e === undefined) continue
      for (let q = 0; q < this.n; q++) if (e.deps[q]! > deps[q]!) deps[q] = e.deps[q]!
      if (e.seq > seq) seq = e.seq
    }
    return { seq: seq + 1, deps }
  }

  /** Remember that this instance touches its keys (at any status: what a replica saw is what later commands depend on). */
  record(inst: Instance): void {
    for (const k of inst.keys) {
      let e = this.byKey.get(k)
      if (e === undefined) {
        e = { deps: new Array<number>(this.n).fill(0), seq: 0 }
        this.byKey.set(k, e)
      }
      if (inst.num > e.deps[inst.replica]!) e.deps[inst.replica] = inst.num
      if (inst.seq > e.seq) e.seq = inst.seq
    }
  }

  get size(): number {
    return this.byKey.size
  }

  /**
   * The whole table, for the snapshot's meta: after a restart the log no longer holds compacted instances, and a
   * table rebuilt from it alone would let a new command omit them from its deps (harmless for the order, since they
   * are executed everywhere, but it breaks "of two interfering committed instances one names the other").
   */
  encode(w: BinaryWriter): void {
    w.uvarint(this.byKey.size)
    for (const [k, e] of this.byKey) {
      w.string(k).uvarint(e.seq)
      writeNumbers(w, e.deps)
    }
  }

  decode(r: BinaryReader): void {
    const count = r.count()
    for (let i = 0; i < count; i++) {
      const k = r.string()
      const seq = r.uvarint()
      const deps = readNumbers(r, 'conflict table deps')
      if (deps.length !== this.n) continue
      const e = this.byKey.get(k)
      if (e === undefined) this.byKey.set(k, { deps, seq })
      else {
        for (let q = 0; q < this.n; q++) if (deps[q]! > e.deps[q]!) e.deps[q] = deps[q]!
        if (seq > e.seq) e.seq = seq
      }
    }
  }
}
