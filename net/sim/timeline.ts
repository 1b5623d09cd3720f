/**
 * A structured record of one simulated run for people to look at (viz/ draws it): every replica-to-replica message
 * with its send time and fate, the faults, and each replica's status (role, term or view, leader, commit index) as it
 * changes. Recorded through the network's optional observer, so a run that does not ask for it pays nothing, and
 * it never touches the seeded randomness or the event queue, so the trace fingerprint is the same with or without.
 *
 * Messages are stored column-wise (one array per field, types interned) because a long run has millions of them.
 */
import type { NodeId } from '../../core/types.ts'
import type { OutboundFrame } from '../../core/transport.ts'
import { FIRST_CLIENT_ID, type SimCluster } from './cluster.ts'
import type { NetworkObserver } from './network.ts'

/** Messages kept at most; later ones are counted in `messagesOmitted` (a browser cannot hold unbounded data). */
export const DEFAULT_MAX_MESSAGES = 2_000_000

/** A commit-index change is sampled at most this often per replica (role, term and leader changes always are). */
const COMMIT_SAMPLE_MS = 5

export type TimelineFaultKind = 'crash' | 'restart' | 'partition' | 'heal' | 'pause' | 'resume' | 'link' | 'clock' | 'disk' | 'transfer' | 'other'

export interface TimelineFault {
  readonly at: number
  readonly kind: TimelineFaultKind
  /** Replicas the fault acts on (empty for cluster-wide ones such as heal or loss). */
  readonly replicas: readonly NodeId[]
  readonly label: string
}

export interface StatusSample {
  readonly at: number
  readonly replica: NodeId
  /** The protocol's role name, or 'down' while crashed. */
  readonly role: string
  readonly epoch: number
  readonly leader: NodeId | null
  readonly commitIndex: number
}

/** One entry per fate of a message: a duplicated message has two, a lost one has `delivered` 0 at the time it was lost. */
export interface TimelineMessages {
  readonly sent: number[]
  readonly at: number[]
  readonly from: number[]
  readonly to: number[]
  /** Index into `SimTimeline.types`. */
  readonly type: number[]
  readonly delivered: number[]
}

export interface SimTimeline {
  readonly replicas: readonly NodeId[]
  readonly types: readonly string[]
  readonly messages: TimelineMessages
  readonly messagesOmitted: number
  readonly faults: readonly TimelineFault[]
  readonly status: readonly StatusSample[]
  readonly endMs: number
}

/** Turn the cluster's fault log (text, written by SimCluster.schedule) into drawable faults. */
export function parseFaultOutcome(at: number, description: string): TimelineFault | null {
  // The first arrow: the outcome itself may hold one ("cut 1 -> 3").
  const arrow = description.indexOf(' -> ')
  const outcome = arrow >= 0 ? description.slice(arrow + 4) : description
  const ids = (text: string): NodeId[] => (text.match(/\d+/g) ?? []).map(Number)
  if (outcome.startsWith('skipped') || outcome === 'nothing down') return null
  let m: RegExpMatchArray | null
  if ((m = outcome.match(/^crashed (.+)/)) !== null) return { at, kind: 'crash', replicas: ids(m[1]!), label: outcome }
  if ((m = outcome.match(/^leader (\d+) transfers to (\d+)/)) !== null) return { at, kind: 'transfer', replicas: [Number(m[1]), Number(m[2])], label: outcome }
  if ((m = outcome.match(/^clock of (\d+)/)) !== null) return { at, kind: 'clock', replicas: ids(m[1]!), label: outcome }
  if ((m = outcome.match(/^(?:storage of (\d+)|the next fsync of (\d+)|(\d+) refused its storage)/)) !== null) {
    return { at, kind: 'disk', replicas: ids(m[1] ?? m[2] ?? m[3]!), label: outcome }
  }
  if ((m = outcome.match(/^restarted (.+)/)) !== null) return { at, kind: 'restart', replicas: ids(m[1]!), label: outcome }
  if ((m = outcome.match(/^paused (.+)/)) !== null) return { at, kind: 'pause', replicas: ids(m[1]!), label: outcome }
  if ((m = outcome.match(/^resumed (.+)/)) !== null) return { at, kind: 'resume', replicas: ids(m[1]!), label: outcome }
  if (outcome.startsWith('partitioned') || outcome.startsWith('isolated') || outcome.startsWith('cut')) {
    return { at, kind: 'partition', replicas: ids(outcome), label: outcome }
  }
  if (outcome.startsWith('healed')) return { at, kind: 'heal', replicas: [], label: outcome }
  if (/^(loss|duplicate|reorder) /.test(outcome)) return { at, kind: 'link', replicas: [], label: outcome }
  return { at, kind: 'other', replicas: [], label: outcome }
}

/** Times kept to the microsecond: plenty for drawing, and half the digits in the page's embedded JSON. */
const micros = (ms: number): number => Math.round(ms * 1000) / 1000

export class TimelineRecorder implements NetworkObserver {
  private readonly cluster: SimCluster
  private readonly maxMessages: number
  // Per send: time, endpoints and type, indexed by sequence number (only replica-to-replica sends get one).
  private readonly sendAt: number[] = []
  private readonly sendFrom: number[] = []
  private readonly sendTo: number[] = []
  private readonly sendType: number[] = []
  private readonly typeIndex = new Map<string, number>()
  private readonly messages: TimelineMessages = { sent: [], at: [], from: [], to: [], type: [], delivered: [] }
  private omitted = 0
  private readonly status: StatusSample[] = []
  private readonly last = new Map<NodeId, StatusSample>()
  private readonly extraFaults: TimelineFault[] = []

  constructor(cluster: SimCluster, options: { readonly maxMessages?: number } = {}) {
    this.cluster = cluster
    this.maxMessages = options.maxMessages ?? DEFAULT_MAX_MESSAGES
  }

  /** Start recording: installs itself as the cluster network's observer. */
  attach(): this {
    this.cluster.network.observer = this
    for (const id of this.cluster.replicaIds) this.sample(id, this.cluster.sim.now(), true)
    return this
  }

  sent(time: number, from: NodeId, to: NodeId, frame: OutboundFrame): number {
    if (from >= FIRST_CLIENT_ID || to >= FIRST_CLIENT_ID) return -1
    this.sample(from, time, false)
    let type = this.typeIndex.get(frame.type)
    if (type === undefined) this.typeIndex.set(frame.type, type = this.typeIndex.size)
    this.sendAt.push(micros(time))
    this.sendFrom.push(from)
    this.sendTo.push(to)
    this.sendType.push(type)
    return this.sendAt.length - 1
  }

  fate(seq: number, time: number, _from: NodeId, to: NodeId, delivered: boolean): void {
    if (delivered) this.sample(to, time, false)
    const m = this.messages
    if (m.at.length >= this.maxMessages) { this.omitted++; return }
    m.sent.push(this.sendAt[seq]!)
    m.at.push(micros(time))
    m.from.push(this.sendFrom[seq]!)
    m.to.push(this.sendTo[seq]!)
    m.type.push(this.sendType[seq]!)
    m.delivered.push(delivered ? 1 : 0)
  }

  /** Call just before `cluster.healAll()`, which the fault log does not show. */
  noteFinalHeal(): void {
    const at = this.cluster.sim.now()
    this.extraFaults.push({ at, kind: 'heal', replicas: [], label: 'final heal: every link restored' })
    const down = this.cluster.replicaIds.filter(id => !this.cluster.isUp(id))
    if (down.length > 0) this.extraFaults.push({ at, kind: 'restart', replicas: down, label: `final heal: restarted ${down.join(', ')}` })
  }

  private sample(id: NodeId, time: number, force: boolean): void {
    if (!this.cluster.isUp(id)) return
    const s = this.cluster.host(id).status()
    const prev = this.last.get(id)
    if (!force && prev !== undefined && prev.role === s.role && prev.epoch === s.epoch && prev.leader === s.leader
      && (prev.commitIndex === s.commitIndex || time - prev.at < COMMIT_SAMPLE_MS)) return
    const sample: StatusSample = { at: micros(time), replica: id, role: s.role, epoch: s.epoch, leader: s.leader, commitIndex: s.commitIndex }
    this.status.push(sample)
    this.last.set(id, sample)
  }

  /** Stop recording and return the timeline (the final status of every running replica included). */
  finish(): SimTimeline {
    const cluster = this.cluster
    if (cluster.network.observer === this) cluster.network.observer = null
    const endMs = cluster.sim.now()
    for (const id of cluster.replicaIds) this.sample(id, endMs, true)
    const faults = cluster.faultLog
      .map(f => parseFaultOutcome(f.at, f.description))
      .filter((f): f is TimelineFault => f !== null)
      .concat(this.extraFaults)
      .sort((a, b) => a.at - b.at)
    // A crashed replica has no status to ask for: mark it down from its crash to its restart.
    // A restarted one is back (in the state its first status shows) from its restart.
    const down: StatusSample[] = []
    for (const f of faults) {
      if (f.kind !== 'crash' && f.kind !== 'restart') continue
      for (const id of f.replicas) {
        const before = this.status.filter(s => s.replica === id && s.at <= f.at).at(-1)
        const after = this.status.find(s => s.replica === id && s.at >= f.at)
        const base = f.kind === 'crash' ? before : after ?? before
        down.push({
          at: f.at, replica: id, role: f.kind === 'crash' ? 'down' : base?.role ?? 'follower',
          epoch: base?.epoch ?? 0, leader: f.kind === 'crash' ? null : base?.leader ?? null, commitIndex: base?.commitIndex ?? 0,
        })
      }
    }
    const status = this.status.concat(down).sort((a, b) => a.at - b.at || a.replica - b.replica)
    return {
      replicas: [...cluster.replicaIds],
      types: [...this.typeIndex.keys()],
      messages: this.messages,
      messagesOmitted: this.omitted,
      faults,
      status,
      endMs,
    }
  }
}
