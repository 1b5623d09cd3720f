/**
 * The seeded randomized driver: clients, loss, duplication, reordering, crashes with recovery and partitions, with the
 * cluster's invariants checked after every step; then the faults heal and every request and every chosen slot must
 * reach every replica (a chosen value is never lost).
 */
import type { MultiPaxosOptions } from '../../protocols/multipaxos/options.ts'
import { PaxosCluster, request } from './cluster.ts'

export interface RandomRunConfig {
  n: number
  seed: number
  steps: number
  options?: Record<string, unknown>
  /** Skip parseOptions (negative controls only). */
  unvalidatedOptions?: MultiPaxosOptions
  snapshotInterval?: number
  loss?: number
  duplication?: number
  crashes?: boolean
  /** Chance that a delivery picks any message in flight rather than one near the head (long delays). */
  longDelay?: number
  /** Tick all replicas together (the clock assumption of lease reads) instead of one at random. */
  lockstepTicks?: boolean
  /** Chance per step of a crash or restart. */
  crashRate?: number
  partitions?: boolean
  clients?: number
}

export interface RandomRunResult {
  committedSlots: number
  requestsDone: number
  crashes: number
  maxLogSize: number
}

export function replayLine(file: string, c: RandomRunConfig): string {
  return `MP_SEED=${c.seed} MP_N=${c.n} npx vitest run ${file}`
}

export function randomRun(cfg: RandomRunConfig): RandomRunResult {
  const c = new PaxosCluster({
    n: cfg.n, seed: cfg.seed, options: cfg.options, snapshotInterval: cfg.snapshotInterval ?? 7,
    ...(cfg.unvalidatedOptions !== undefined ? { unvalidatedOptions: cfg.unvalidatedOptions } : {}),
  })
  const rng = c.rng.fork('driver')
  const loss = cfg.loss ?? 0.05
  const dup = cfg.duplication ?? 0.1
  const crashRate = cfg.crashRate ?? 0.005
  const longDelay = cfg.longDelay ?? 0.1
  const clients = Array.from({ length: cfg.clients ?? 3 }, (_, k) => ({ id: 1000 + k, seq: 1, target: rng.int(cfg.n), sentAt: -Infinity }))
  const done = new Set<string>()
  let crashes = 0
  let maxLogSize = 0
  const f = Math.floor((cfg.n - 1) / 2)

  const isDone = (clientId: number, seq: number): boolean => {
    const key = `${clientId}:${seq}`
    if (done.has(key)) return true
    for (const v of c.committed.values()) {
      if (v.split(',').includes(key)) { done.add(key); return true }
    }
    return false
  }
  let step = 0
  const clientStep = (): void => {
    const cl = clients[rng.int(clients.length)]!
    if (isDone(cl.id, cl.seq)) { cl.seq++; cl.sentAt = -Infinity }
    // Retry only after a while, as a client would; a storm of retries only measures the storm.
    if (step - cl.sentAt < 60) return
    cl.sentAt = step
    if (!c.isUp(cl.target) || rng.chance(0.2)) cl.target = rng.int(cfg.n)
    if (!c.isUp(cl.target)) return
    c.propose(cl.target, request(cl.id, cl.seq, rng.chance(0.2)), cl.id)
    // Follow the redirect, as the LeaderClient would.
    const last = c.replies.at(-1)
    if (last !== undefined && last.to === cl.id && last.reply.leaderHint >= 0) cl.target = last.reply.leaderHint
  }

  for (step = 0; step < cfg.steps; step++) {
    const roll = rng.next()
    if (roll < 0.55) {
      // Bigger clusters send more per round: deliver up to n messages, mostly near the head of the pool (bounded
      // reordering), sometimes anything (a long delay).
      for (let k = 0; k < cfg.n && c.queue.length > 0; k++) {
        const i = rng.chance(longDelay) ? rng.int(c.queue.length) : rng.int(Math.min(c.queue.length, 8))
        if (rng.chance(loss)) c.queue.splice(i, 1)
        else c.deliver(i, rng.chance(dup))
      }
    } else if (roll < 0.78) {
      // Lease reads assume bounded clock drift: then replicas tick in lockstep.
      if (cfg.lockstepTicks === true) c.tickAll()
      else c.tick(rng.int(cfg.n))
    } else if (roll < 0.91) {
      clientStep()
    } else if (roll < 0.915 + crashRate && cfg.crashes !== false) {
      const id = rng.int(cfg.n)
      if (c.isUp(id)) {
        const down = c.ids.filter(x => !c.isUp(x)).length
        if (down < f || rng.chance(0.1)) { c.crash(id); crashes++ }
      } else {
        c.restart(id)
      }
    } else if (roll < 0.925 + crashRate && cfg.partitions !== false) {
      if (rng.chance(0.5)) c.group = c.ids.map(() => 0)
      else c.group = c.ids.map(() => rng.int(2))
    } else {
      c.tickAll()
    }
    for (const id of c.ids) if (c.isUp(id)) maxLogSize = Math.max(maxLogSize, c.replica(id).status().logSize)
  }

  // Heal: everyone up, one network, no loss; every chosen slot and every client's request must get everywhere.
  c.group = c.ids.map(() => 0)
  for (const id of c.ids) c.restart(id)
  for (const cl of clients) {
    c.runUntil(() => {
      if (isDone(cl.id, cl.seq)) return true
      const leaders = c.leaders()
      if (leaders.length === 1) c.propose(leaders[0]!, request(cl.id, cl.seq), cl.id)
      return false
    }, 3000, `client ${cl.id} request ${cl.seq} committed after healing`)
  }
  const maxChosen = Math.max(0, ...c.chosen.keys())
  c.runUntil(() => c.ids.every(id => c.appliedOf(id) >= maxChosen), 3000, `every replica applied every chosen slot (up to ${maxChosen})`)
  return { committedSlots: c.committed.size, requestsDone: done.size, crashes, maxLogSize }
}
