/**
 * Fault schedules as data ("at time t do X"), parsed from a compact text form or drawn at random from a seed.
 *
 * Text form: comma-separated `action@ms[:args]`, e.g.
 *   crash@1000:0, restart@3000:0, partition@2000:0.1|2.3.4, isolate@1500:leader, oneway@100:0>1,
 *   heal@5000, loss@0:0.05, dup@0:0.01, reorder@0:0.1,
 *   pause@1000:leader, resume@1800:0, clock@0:2:1.5, crash-all@4000, restart-all@4500,
 *   corrupt@2000:1, lose-sync@2000:1
 * A node may be given as `leader`, meaning whichever replica leads when the fault fires.
 *
 * Faults beyond the network (Jepsen's nemeses are the model): a paused node stops processing and keeps its state (a
 * long GC pause, SIGSTOP); a node's clock can run fast or slow (clock drift: its ticks come `rate` times as often); an
 * outage crashes every replica, beyond f, to test recovery from storage; a disk can flip a bit in a stored record
 * (`corrupt`, refused at the next start) or lie about an fsync (`lose-sync`: the next sync reports success and
 * loses the write; refused at the next start once a later write landed, undetectable otherwise, as on a real disk).
 */
import { ConfigError } from '../../core/errors.ts'
import type { Rng } from '../../core/random.ts'
import type { NodeId } from '../../core/types.ts'

/**
 * 'leader': whoever leads when the fault fires; 'crashed': the replica down the longest; 'paused': the replica paused
 * the longest; 'refused': the first replica whose storage was refused and is not yet replaced; 'all': every replica
 * (clock, resume).
 */
export type NodeRef = NodeId | 'leader' | 'crashed' | 'paused' | 'refused' | 'all'

export type FaultAction =
  | { readonly kind: 'crash'; readonly node: NodeRef }
  | { readonly kind: 'restart'; readonly node: NodeRef }
  | { readonly kind: 'partition'; readonly groups: readonly (readonly NodeId[])[] }
  | { readonly kind: 'isolate'; readonly node: NodeRef }
  | { readonly kind: 'oneway'; readonly from: NodeRef; readonly to: NodeRef }
  | { readonly kind: 'heal' }
  | { readonly kind: 'loss'; readonly p: number }
  | { readonly kind: 'dup'; readonly p: number }
  | { readonly kind: 'reorder'; readonly p: number }
  | { readonly kind: 'restart-all' }
  | { readonly kind: 'pause'; readonly node: NodeRef }
  | { readonly kind: 'resume'; readonly node: NodeRef }
  /** `node` = 'all' resets every clock to the run's base rates. */
  | { readonly kind: 'clock'; readonly node: NodeRef; readonly rate: number }
  | { readonly kind: 'crash-all' }
  | { readonly kind: 'corrupt'; readonly node: NodeRef }
  | { readonly kind: 'lose-sync'; readonly node: NodeRef }
  /** Membership: remove `node` and bring in a fresh replica with a new id (learner, then voter once caught up). */
  | { readonly kind: 'replace'; readonly node: NodeRef }
  /** Leader transfer to `node`. */
  | { readonly kind: 'transfer'; readonly node: NodeRef }

export interface ScheduledFault {
  readonly at: number
  readonly action: FaultAction
}

export function describeFault(f: ScheduledFault): string {
  const a = f.action
  const args = (() => {
    switch (a.kind) {
      case 'crash': case 'restart': case 'isolate': case 'pause': case 'resume': case 'corrupt': case 'lose-sync':
      case 'replace': case 'transfer':
        return `:${a.node}`
      case 'clock': return `:${a.node}:${a.rate}`
      case 'partition': return ':' + a.groups.map(g => g.join('.')).join('|')
      case 'oneway': return `:${a.from}>${a.to}`
      case 'loss': case 'dup': case 'reorder': return `:${a.p}`
      default: return ''
    }
  })()
  return `${a.kind}@${Math.round(f.at)}${args}`
}

function parseNode(text: string, n: number, field: string, allowAll = false): NodeRef {
  if (text === 'leader' || text === 'crashed' || text === 'paused' || text === 'refused' || (allowAll && text === 'all')) return text
  const id = Number(text)
  if (!Number.isInteger(id) || id < 0 || id >= n) throw new ConfigError(field, `node "${text}" is not a replica (0..${n - 1} or "leader")`)
  return id
}

function parseProbability(text: string, field: string): number {
  const p = Number(text)
  if (!(p >= 0 && p <= 1) || text.trim() === '') throw new ConfigError(field, `probability "${text}" must be between 0 and 1`)
  return p
}

/** Parse the text form; errors name the item and what is wrong with it. */
export function parseFaultSpec(spec: string, n: number): ScheduledFault[] {
  const out: ScheduledFault[] = []
  for (const raw of spec.split(',').map(s => s.trim()).filter(s => s !== '')) {
    const field = `--faults "${raw}"`
    const m = /^([a-z-]+)@(\d+(?:\.\d+)?)(?::(.*))?$/.exec(raw)
    if (m === null) throw new ConfigError(field, 'expected action@milliseconds[:arguments], e.g. crash@1000:0')
    const [, kind, atText, arg = ''] = m
    const at = Number(atText)
    const need = (what: string) => { if (arg === '') throw new ConfigError(field, `${kind} needs ${what}`) }
    let action: FaultAction
    switch (kind) {
      case 'crash': case 'restart': case 'isolate': case 'pause': case 'resume': case 'corrupt': case 'lose-sync':
      case 'replace': case 'transfer':
        need('a node'); action = { kind, node: parseNode(arg, n, field, kind === 'resume') }; break
      case 'clock': {
        need('node:rate, e.g. clock@0:2:1.5')
        const at = arg.lastIndexOf(':')
        const rate = Number(arg.slice(at + 1))
        if (at <= 0 || !(rate > 0) || !Number.isFinite(rate) || rate > 100) {
          throw new ConfigError(field, 'expected node:rate with a rate above 0 (1 = true time, 1.5 = 50% fast), e.g. clock@0:2:1.5')
        }
        const nodeText = arg.slice(0, at)
        action = { kind, node: parseNode(nodeText, n, field, true), rate }; break
      }
      case 'partition': {
        need('groups like 0.1|2.3.4')
        const groups = arg.split('|').map(g => g.split('.').map(x => {
          const id = parseNode(x, n, field)
          if (typeof id !== 'number') throw new ConfigError(field, 'partition groups take replica numbers')
          return id
        }))
        if (groups.length < 2) throw new ConfigError(field, 'a partition needs at least two groups separated by |')
        const seen = new Set<number>()
        for (const id of groups.flat()) {
          if (seen.has(id)) throw new ConfigError(field, `replica ${id} is in two groups`)
          seen.add(id)
        }
        action = { kind, groups }; break
      }
      case 'oneway': {
        need('from>to')
        const [from, to, ...rest] = arg.split('>')
        if (from === undefined || to === undefined || rest.length > 0) throw new ConfigError(field, 'expected from>to')
        action = { kind, from: parseNode(from, n, field), to: parseNode(to, n, field) }; break
      }
      case 'heal': case 'restart-all': case 'crash-all': action = { kind }; break
      case 'loss': case 'dup': case 'reorder': need('a probability'); action = { kind, p: parseProbability(arg, field) }; break
      default:
        throw new ConfigError(field, `unknown fault "${kind}" (crash, restart, restart-all, crash-all, partition, isolate, ` +
          'oneway, heal, loss, dup, reorder, pause, resume, clock, corrupt, lose-sync, replace, transfer)')
    }
    out.push({ at, action })
  }
  return out.sort((a, b) => a.at - b.at)
}

export interface RandomFaultOptions {
  readonly n: number
  /**
   * Nemesis only: the largest ratio between two replicas' clock rates the schedule may create (the protocol's timing
   * assumption, less any base drift), and whether pauses are allowed. Default: 1.25^2 and pauses.
   */
  readonly maxClockRateRatio?: number
  readonly pauses?: boolean
  /** Faults are injected in [0, windowMs); everything is healed at windowMs. */
  readonly windowMs: number
  /** Mean gap between faults. */
  readonly meanGapMs?: number
}

/**
 * Draw a schedule of crashes, restarts, partitions (random splits, isolating the leader, one-way cuts), heals, loss,
 * duplication and reordering. Ends with a full heal at `windowMs` so a run can finish.
 */
export function randomFaultSchedule(rng: Rng, o: RandomFaultOptions): ScheduledFault[] {
  const out: ScheduledFault[] = []
  const gap = o.meanGapMs ?? Math.max(200, o.windowMs / 12)
  let t = gap * (0.5 + rng.next())
  while (t < o.windowMs) {
    const roll = rng.int(100)
    let action: FaultAction | null = null
    // The cluster enforces maxCrashed when a crash fires (which replica leads is only known then).
    if (roll < 22) {
      action = { kind: 'crash', node: rng.chance(0.4) ? 'leader' : rng.int(o.n) }
    } else if (roll < 40) {
      action = { kind: 'restart', node: 'crashed' }
    } else if (roll < 52 && o.n > 1) {
      const ids = [...Array(o.n).keys()]
      for (let i = ids.length - 1; i > 0; i--) { const j = rng.int(i + 1); [ids[i], ids[j]] = [ids[j]!, ids[i]!] }
      const cut = 1 + rng.int(o.n - 1)
      action = { kind: 'partition', groups: [ids.slice(0, cut), ids.slice(cut)] }
    } else if (roll < 60 && o.n > 1) {
      action = { kind: 'isolate', node: 'leader' }
    } else if (roll < 65 && o.n > 1) {
      const from = rng.int(o.n)
      action = { kind: 'oneway', from, to: (from + 1 + rng.int(o.n - 1)) % o.n }
    } else if (roll < 78) {
      action = { kind: 'heal' }
    } else if (roll < 86) {
      action = { kind: 'loss', p: rng.chance(0.5) ? 0 : Math.round(rng.next() * 20) / 100 }
    } else if (roll < 93) {
      action = { kind: 'dup', p: rng.chance(0.5) ? 0 : Math.round(rng.next() * 10) / 100 }
    } else {
      action = { kind: 'reorder', p: rng.chance(0.5) ? 0 : Math.round(rng.next() * 30) / 100 }
    }
    if (action !== null) out.push({ at: Math.round(t), action })
    t += gap * (0.5 + rng.next())
  }
  for (const action of [
    { kind: 'heal' }, { kind: 'restart-all' }, { kind: 'loss', p: 0 }, { kind: 'dup', p: 0 }, { kind: 'reorder', p: 0 },
  ] as const) out.push({ at: o.windowMs, action })
  return out
}

/** How each replica's clock runs in a random schedule: within this factor of true time (1/1.25 .. 1.25). */
const RANDOM_CLOCK_SPREAD = 1.25

/**
 * The whole fault menu: everything `randomFaultSchedule` draws, plus pauses (each resumed 0.1-2 s later), clock drift
 * within RANDOM_CLOCK_SPREAD, outages (every replica crashes, beyond f, and all restart 0.2-1.5 s later) and bit flips
 * in a replica's stored records (it crashes and restarts at once, so its next start refuses the damaged storage and it
 * stays down). The cluster enforces its crash budget when each fault fires; outages ignore it on purpose, and a
 * replica refused at start counts against it for the rest of the run. Ends with a full heal at `windowMs`.
 */
export function randomNemesisSchedule(rng: Rng, o: RandomFaultOptions): ScheduledFault[] {
  const base = randomFaultSchedule(rng.fork('network'), o).filter(f => f.at < o.windowMs)
  const out: ScheduledFault[] = [...base]
  const extra = rng.fork('nemesis')
  const gap = (o.meanGapMs ?? Math.max(200, o.windowMs / 12)) * 2
  let t = gap * (0.5 + extra.next())
  while (t < o.windowMs) {
    const roll = extra.int(100)
    const at = Math.round(t)
    const node = extra.int(o.n)
    if (roll < 40) {
      if (o.pauses === false) { t += gap * (0.5 + extra.next()); continue }
      const who: NodeRef = extra.chance(0.4) ? 'leader' : node
      out.push({ at, action: { kind: 'pause', node: who } })
      out.push({ at: Math.min(o.windowMs, at + 100 + extra.int(1900)), action: { kind: 'resume', node: 'paused' } })
    } else if (roll < 70) {
      // Rates within [1/s, s], so any two differ by at most s^2: within the protocol's timing assumption.
      const spread = Math.min(RANDOM_CLOCK_SPREAD, Math.sqrt(o.maxClockRateRatio ?? RANDOM_CLOCK_SPREAD ** 2))
      const rate = Math.round(spread ** (2 * extra.next() - 1) * 1000) / 1000
      out.push({ at, action: { kind: 'clock', node, rate } })
    } else if (roll < 82) {
      out.push({ at, action: { kind: 'crash-all' } })
      out.push({ at: Math.min(o.windowMs, at + 200 + extra.int(1300)), action: { kind: 'restart-all' } })
    } else if (roll < 90 && at + 300 < o.windowMs) {
      // The flip lands in what the replica has stored; the crash and restart make it read its storage again. It
      // refuses; where the protocol has membership changes the operator's way back follows: a fresh replica with a
      // new identity replaces it (learner first, voter once caught up).
      out.push({ at, action: { kind: 'corrupt', node } })
      out.push({ at: at + 1, action: { kind: 'crash', node } })
      out.push({ at: at + 2, action: { kind: 'restart', node } })
      out.push({ at: at + 300, action: { kind: 'replace', node: 'refused' } })
    } else if (roll < 96) {
      out.push({ at, action: { kind: 'transfer', node } })
    }
    t += gap * (0.5 + extra.next())
  }
  for (const action of FINAL_HEAL) out.push({ at: o.windowMs, action })
  return out.sort((a, b) => a.at - b.at)
}

/**
 * What ends every faulty run, so progress after it can be required: links restored, every replica resumed and
 * restarted (those whose storage was refused stay down), clocks back to the run's base rates.
 */
export const FINAL_HEAL: readonly FaultAction[] = [
  { kind: 'heal' }, { kind: 'restart-all' }, { kind: 'resume', node: 'all' }, { kind: 'clock', node: 'all', rate: 1 },
  { kind: 'loss', p: 0 }, { kind: 'dup', p: 0 }, { kind: 'reorder', p: 0 },
]

/** Whether a schedule already ends with a full heal (the random ones do). */
export function endsHealed(faults: readonly ScheduledFault[]): boolean {
  if (faults.length === 0) return true
  const last = faults[faults.length - 1]!.at
  const atEnd = new Set(faults.filter(f => f.at === last).map(f => f.action.kind))
  return atEnd.has('heal') && atEnd.has('restart-all') && (atEnd.has('resume') || !faults.some(f => f.action.kind === 'pause'))
}
