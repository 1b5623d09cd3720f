/**
 * The simulated network: endpoints that implement the Transport seam, links with latency, loss, duplication and
 * reordering, partitions (any split, one-way cuts) and nodes that are down. Every frame is counted at `send`, the same
 * place the libp2p transport counts, before the network decides its fate.
 *
 * Links are FIFO (like a TCP stream) unless a message is picked for reordering, which gives it an extra delay and lets
 * later messages overtake it.
 */
import type { Rng } from '../../core/random.ts'
import type { NodeId } from '../../core/types.ts'
import { MessageStats } from '../../core/message-stats.ts'
import type { OutboundFrame, FrameHandler, Transport } from '../../core/transport.ts'
import { sampleLatency, type LatencyDistribution, type RegionTopology } from './latency.ts'
import type { CpuModel } from './cpu.ts'
import type { Simulator } from './simulator.ts'

export interface LinkFaults {
  /** Probability a message is lost. */
  loss: number
  /** Probability a message is delivered twice. */
  duplicate: number
  /** Probability a message is delayed past later ones on its link. */
  reorder: number
}

export interface NetworkOptions {
  /** One-way latency (within a region when regions are given). */
  readonly latency: LatencyDistribution
  readonly regions?: RegionTopology
  /** Region index of each node; nodes not listed are in region 0. */
  readonly placement?: ReadonlyMap<NodeId, number>
  /** Extra delay of a reordered message, as a multiple of its latency (plus at least 1 ms). */
  readonly reorderDelayFactor?: number
  /** Processing-time model (cpu.ts); without one, nodes process in zero time. */
  readonly cpu?: CpuModel
  /**
   * Decode every frame from its bytes at the receiver, as a real network must. Default false: the message a trusted
   * sender encoded is handed to the receiver with the bytes (see OutboundFrame.message), which every codec's
   * property-tested round trip makes indistinguishable, and saves the simulator decoding what it just encoded. Bytes
   * are encoded, counted, charged and traced either way.
   */
  readonly decodeEveryFrame?: boolean
}

/** A message on the wire (and, with a CPU model, waiting in its receiver's inbox). */
interface InFlight {
  readonly from: NodeId
  readonly to: NodeId
  readonly frame: OutboundFrame
  /** The observer's sequence number, or -1 without an observer. */
  readonly seq: number
}

export interface DeliveryTrace {
  (time: number, from: NodeId, to: NodeId, frame: OutboundFrame, delivered: boolean): void
}

/**
 * Structured recording of every message (net/sim/timeline.ts draws them): `sent` returns a sequence number that
 * comes back with each fate of that message (a duplicate has two). Optional and off by default: without it the
 * network does no extra work, and it never touches the seeded randomness, so the trace fingerprint is unchanged.
 */
export interface NetworkObserver {
  sent(time: number, from: NodeId, to: NodeId, frame: OutboundFrame): number
  /** The message was handled by `to` (delivered: after its handler ran) or lost (cut link, loss, node down). */
  fate(seq: number, time: number, from: NodeId, to: NodeId, delivered: boolean): void
}

class SimEndpoint implements Transport {
  readonly id: NodeId
  readonly stats = new MessageStats()
  handler: FrameHandler | null = null
  private readonly network: SimNetwork

  constructor(id: NodeId, network: SimNetwork) {
    this.id = id
    this.network = network
  }

  send(to: NodeId, frame: OutboundFrame): void {
    this.stats.record(frame.channel, frame.type, frame.bytes.length)
    this.network.transmit(this.id, to, frame)
  }

  onFrame(handler: FrameHandler): void {
    this.handler = handler
  }
}

export class SimNetwork {
  private readonly sim: Simulator
  private readonly rng: Rng
  private readonly options: NetworkOptions
  private readonly endpoints = new Map<NodeId, SimEndpoint>()
  private readonly down = new Set<NodeId>()
  /** Directed cuts: key from * 2^20 + to. */
  private readonly blocked = new Set<number>()
  /** Earliest delivery time allowed next on each directed link (FIFO). */
  private readonly linkClock = new Map<number, number>()
  readonly faults: LinkFaults = { loss: 0, duplicate: 0, reorder: 0 }
  /** With a CPU model: the virtual time until which each node is busy, and what waits for it. */
  private readonly busyUntil = new Map<NodeId, number>()
  private readonly inbox = new Map<NodeId, InFlight[]>()
  private readonly draining = new Set<NodeId>()
  private readonly cpu: CpuModel | null
  /** Network-level totals. */
  delivered = 0
  lost = 0
  trace: DeliveryTrace | null = null
  observer: NetworkObserver | null = null
  /** Senders whose frames are always decoded from their bytes (Byzantine replicas: their messages may be anything). */
  readonly untrusted = new Set<NodeId>()
  private readonly handOver: boolean

  constructor(sim: Simulator, rng: Rng, options: NetworkOptions) {
    this.sim = sim
    this.rng = rng
    this.options = options
    this.cpu = options.cpu ?? null
    this.handOver = options.decodeEveryFrame !== true
  }

  /** Modelled work charged so far, in microseconds, by kind (the bench reports the share spent on signatures). */
  readonly cpuCharged = { messages: 0, signatures: 0 }

  /** Charge `us` microseconds of work to `node` (signatures come via the cluster's wrapped signer and verifier). */
  charge(node: NodeId, us: number, kind: 'messages' | 'signatures' = 'messages'): void {
    if (this.cpu === null || us <= 0) return
    this.cpuCharged[kind] += us
    this.busyUntil.set(node, Math.max(this.busyUntil.get(node) ?? 0, this.sim.now()) + us / 1000)
  }

  /** When work started now on `node` could begin: after whatever it is still busy with. */
  private readyAt(node: NodeId): number {
    return Math.max(this.sim.now(), this.busyUntil.get(node) ?? 0)
  }

  /** Whether `node` is still working at the current virtual time (CPU model only). */
  isBusy(node: NodeId): boolean {
    return (this.busyUntil.get(node) ?? 0) > this.sim.now()
  }

  /** The transport of node `id` (created on first use; kept across crashes so its counters persist). */
  endpoint(id: NodeId): Transport {
    let e = this.endpoints.get(id)
    if (e === undefined) {
      e = new SimEndpoint(id, this)
      this.endpoints.set(id, e)
    }
    return e
  }

  /** Every endpoint's counters summed (replicas and clients). */
  totals(ids?: Iterable<NodeId>): MessageStats {
    const out = new MessageStats()
    const wanted = ids === undefined ? null : new Set(ids)
    for (const [id, e] of this.endpoints) if (wanted === null || wanted.has(id)) out.merge(e.stats)
    return out
  }

  setDown(id: NodeId, isDown: boolean): void {
    if (isDown) {
      this.down.add(id)
      // A crash loses what waited in the process's inbox, and its work in progress.
      const waiting = this.inbox.get(id)?.splice(0) ?? []
      if (this.observer !== null) for (const m of waiting) if (m.seq >= 0) this.observer.fate(m.seq, this.sim.now(), m.from, id, false)
      this.busyUntil.delete(id)
      // A crashed process has no handler; a restarted one registers a new one.
      const e = this.endpoints.get(id)
      if (e !== undefined) e.handler = null
    } else {
      this.down.delete(id)
    }
  }

  isDown(id: NodeId): boolean {
    return this.down.has(id)
  }

  /** Cut the directed link from -> to (one-way partition). */
  block(from: NodeId, to: NodeId): void {
    this.blocked.add(linkKey(from, to))
  }

  unblock(from: NodeId, to: NodeId): void {
    this.blocked.delete(linkKey(from, to))
  }

  /** Split the nodes into groups that cannot reach each other (nodes in no group keep all their links). */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (let i = 0; i < groups.length; i++) for (let j = 0; j < groups.length; j++) {
      if (i === j) continue
      for (const a of groups[i]!) for (const b of groups[j]!) this.block(a, b)
    }
  }

  /** Cut `id` off from `others` in both directions. */
  isolate(id: NodeId, others: readonly NodeId[]): void {
    for (const o of others) if (o !== id) { this.block(id, o); this.block(o, id) }
  }

  /** Restore every link. */
  heal(): void {
    this.blocked.clear()
  }

  get partitioned(): boolean {
    return this.blocked.size > 0
  }

  canReach(from: NodeId, to: NodeId): boolean {
    return !this.blocked.has(linkKey(from, to))
  }

  transmit(from: NodeId, to: NodeId, frame: OutboundFrame): void {
    if (this.cpu !== null) this.charge(from, this.cpu.sendUs + (frame.bytes.length * this.cpu.perByteNs) / 1000)
    const seq = this.observer === null ? -1 : this.observer.sent(this.sim.now(), from, to, frame)
    if (this.blocked.has(linkKey(from, to)) || this.rng.chance(this.faults.loss)) {
      this.lost++
      this.trace?.(this.sim.now(), from, to, frame, false)
      if (seq >= 0) this.observer!.fate(seq, this.sim.now(), from, to, false)
      return
    }
    this.schedule(from, to, frame, seq)
    if (this.rng.chance(this.faults.duplicate)) this.schedule(from, to, frame, seq)
  }

  private schedule(from: NodeId, to: NodeId, frame: OutboundFrame, seq: number): void {
    // A message leaves when the sender has finished the work that produced it.
    const now = this.cpu === null ? this.sim.now() : this.readyAt(from)
    const latency = this.latency(from, to)
    let at: number
    if (this.rng.chance(this.faults.reorder)) {
      at = now + latency * (1 + (this.options.reorderDelayFactor ?? 2) * this.rng.next()) + 1
    } else {
      const key = linkKey(from, to)
      at = Math.max(now + latency, this.linkClock.get(key) ?? 0)
      this.linkClock.set(key, at)
    }
    this.sim.post(at, this.arriveTask, { from, to, frame, seq })
  }

  /** The handlers of the network's own events, made once (sim.post takes a handler and a record, not a closure). */
  private readonly arriveTask = (m: InFlight): void => this.arrive(m)
  private readonly drainTask = (to: NodeId): void => this.drain(to)

  /** Without a CPU model a message is handled on arrival; with one it waits in the inbox while the node is busy. */
  private arrive(m: InFlight): void {
    if (this.cpu === null) {
      this.deliver(m.from, m.to, m.frame, m.seq)
      return
    }
    const to = m.to
    let queue = this.inbox.get(to)
    if (queue === undefined) { queue = []; this.inbox.set(to, queue) }
    queue.push(m)
    if (!this.draining.has(to)) {
      this.draining.add(to)
      this.sim.post(this.readyAt(to), this.drainTask, to)
    }
  }

  /** Handle the oldest waiting message, then come back when that work is done. */
  private drain(to: NodeId): void {
    const queue = this.inbox.get(to)!
    const next = queue.shift()
    if (next === undefined) { this.draining.delete(to); return }
    this.charge(to, this.cpu!.receiveUs + (next.frame.bytes.length * this.cpu!.perByteNs) / 1000)
    this.deliver(next.from, to, next.frame, next.seq)
    if (queue.length === 0) { this.draining.delete(to); return }
    this.sim.post(this.readyAt(to), this.drainTask, to)
  }

  private deliver(from: NodeId, to: NodeId, frame: OutboundFrame, seq: number): void {
    const e = this.endpoints.get(to)
    // Links cut while the message was in flight lose it too (a partition drops what is on the wire).
    if (e === undefined || e.handler === null || this.down.has(to) || this.blocked.has(linkKey(from, to))) {
      this.lost++
      this.trace?.(this.sim.now(), from, to, frame, false)
      if (seq >= 0) this.observer!.fate(seq, this.sim.now(), from, to, false)
      return
    }
    this.delivered++
    this.trace?.(this.sim.now(), from, to, frame, true)
    const handOver = frame.message === undefined || (this.handOver && !this.untrusted.has(from))
    e.handler(from, handOver ? frame : { channel: frame.channel, bytes: frame.bytes })
    if (seq >= 0) this.observer!.fate(seq, this.sim.now(), from, to, true)
  }

  private latency(from: NodeId, to: NodeId): number {
    const base = sampleLatency(this.options.latency, this.rng)
    const regions = this.options.regions
    if (regions === undefined) return base
    const a = this.options.placement?.get(from) ?? 0
    const b = this.options.placement?.get(to) ?? 0
    return regions.rttMs[a]![b]! / 2 + base
  }
}

function linkKey(from: NodeId, to: NodeId): number {
  return from * 1048576 + to
}
