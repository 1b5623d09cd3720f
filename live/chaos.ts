/**
 * Jepsen in a box: drive a key-value workload against a running local cluster while killing (`kill -9`), restarting,
 * partitioning, pausing (SIGSTOP / SIGCONT) and skewing the clocks of its real replica processes; heal everything,
 * keep the workload running a while longer, and judge the history: linearizable (the checker) and live (every
 * operation invoked after the heal answered within the bound, few timeouts overall; core/liveness.ts).
 *
 * Partitions act on the real processes through each node's admin socket: the isolated replica drops all traffic to and
 * from the other replicas at its transport, and they drop it too (both directions cut).
 */
import { randomBytes } from 'node:crypto'
import { checkHistory, type CheckResult } from '../core/checker/index.ts'
import { judgeLiveness, type LivenessVerdict } from '../core/liveness.ts'
import { ConfigError } from '../core/errors.ts'
import { HistoryRecorder, type HistoryEvent } from '../core/history.ts'
import { createKvOpGenerator, recordInvoke, type KvMix } from '../core/kv-workload.ts'
import { createRng } from '../core/random.ts'
import type { NodeId } from '../core/types.ts'
import { getProtocol } from '../protocols/index.ts'
import { adminRequest } from './admin.ts'
import { createClient, type ConsensusClient } from './client.ts'
import type { ClusterConfig } from './config.ts'
import { adminSocketPath, type NodeStatus } from './node.ts'
import { runningPid, startReplicaProcess, stopReplicaProcess } from './processes.ts'

export type ChaosFault = 'kill' | 'restart' | 'partition' | 'pause' | 'clock' | 'transfer'
export const CHAOS_FAULTS: readonly ChaosFault[] = ['kill', 'restart', 'partition', 'pause', 'clock', 'transfer']

/** A paused process is continued this long after it was stopped (or at the final heal). */
const PAUSE_MS = { min: 300, max: 2000 }
/** Clock rates a chaos run gives a replica: within this factor of true time. */
const CLOCK_SPREAD = 1.25
/** After the final heal the workload goes on this long, so progress after the heal is measured. */
const DEFAULT_SETTLE_MS = 5000

export interface ChaosOptions extends KvMix {
  readonly config: ClusterConfig
  readonly configFile: string
  readonly durationMs: number
  readonly clients: number
  readonly faults: readonly ChaosFault[]
  /** Mean time between faults (default: duration / 6). */
  readonly faultIntervalMs?: number
  readonly requestTimeoutMs?: number
  readonly seed?: number
  readonly onEvent?: (line: string) => void
  /** Workload time after the final heal (default 5 s). */
  readonly settleMs?: number
  /** Operations invoked after the final heal must complete within this (default: requestTimeoutMs). */
  readonly livenessBoundMs?: number
  /** At most this share of operations may time out (default 0.1). */
  readonly maxTimedOutShare?: number
  /** Poll every running replica's status this often (ms) for the report's `status` (the HTML view charts it). */
  readonly statusPollMs?: number
}

/** One replica's status as polled during the run (role 'down' while killed). */
export interface ChaosStatusSample {
  readonly atMs: number
  readonly replica: NodeId
  readonly role: string
  readonly epoch: number
  readonly leader: NodeId | null
  readonly commitIndex: number
}

export interface ChaosReport {
  readonly history: readonly HistoryEvent[]
  readonly check: CheckResult
  readonly liveness: LivenessVerdict
  readonly ops: { ok: number; fail: number; info: number }
  readonly faults: readonly { readonly atMs: number; readonly description: string }[]
  readonly durationMs: number
  /** Polled replica status; empty unless `statusPollMs` was given. */
  readonly status: readonly ChaosStatusSample[]
  readonly replicas: readonly NodeId[]
}

async function nodeStatus(config: ClusterConfig, id: NodeId): Promise<NodeStatus | null> {
  try {
    return await adminRequest(adminSocketPath(config, id), { cmd: 'status' }, 1000) as NodeStatus
  } catch {
    return null
  }
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const config = o.config
  if (!(o.durationMs > 0)) throw new ConfigError('duration', `must be > 0 seconds, got ${o.durationMs / 1000}`)
  if (o.clients < 1 || o.clients > config.clients.length) {
    throw new ConfigError('clients', `between 1 and ${config.clients.length} (the cluster config's allow-listed clients), got ${o.clients}`)
  }
  for (const f of o.faults) if (!CHAOS_FAULTS.includes(f)) throw new ConfigError('faults', `unknown fault "${f}" (${CHAOS_FAULTS.join(', ')})`)
  const protocol = getProtocol(config.protocol)
  const maxDown = Math.max(1, protocol.faultsTolerated(config.replicas.length))
  const seed = o.seed ?? randomBytes(4).readUInt32LE()
  const rng = createRng(seed)
  const say = o.onEvent ?? (() => {})
  const replicaIds = config.replicas.map(r => r.id)
  const start = performance.now()
  const now = () => Math.round((performance.now() - start) * 1000) / 1000
  const faults: { atMs: number; description: string }[] = []
  const note = (description: string) => { faults.push({ atMs: now(), description }); say(`${(now() / 1000).toFixed(1)}s ${description}`) }

  for (const id of replicaIds) if (runningPid(config, id) === null) await startReplicaProcess(config, o.configFile, id)

  const clients: ConsensusClient[] = []
  for (let i = 0; i < o.clients; i++) {
    clients.push(await createClient({ config, clientId: config.clients[i]!.id, timeoutMs: o.requestTimeoutMs ?? 3000 }))
  }
  const recorder = new HistoryRecorder()
  // Fresh keys for this run: the checker judges the history from an empty store, and the cluster may hold older data.
  const next = createKvOpGenerator({ keyPrefix: `chaos-${seed}-${Date.now()}/`, ...o }, clients.map(c => c.id), rng.fork('ops'))
  const ops = { ok: 0, fail: 0, info: 0 }
  let running = true
  let faulting = true

  const clientLoop = async (client: ConsensusClient): Promise<void> => {
    while (running) {
      const command = next(client.id)
      const op = recordInvoke(recorder, client.id, command, now())
      try {
        const result = await client.run(command)
        if (result.type === 'value') { op.ok(now(), result.value); ops.ok++ }
        else if (result.type === 'cas' && !result.ok) { op.fail(now()); ops.fail++ }
        else { op.ok(now()); ops.ok++ }
      } catch {
        op.info(now()) // timed out (RequestTimeoutError) or refused: it may still take effect
        ops.info++
      }
    }
  }

  const down = new Set<NodeId>()
  /** Stopped processes and when to continue them. */
  const paused = new Map<NodeId, number>()
  const skewed = new Set<NodeId>()
  let isolated: NodeId | null = null
  const signal = (id: NodeId, sig: 'SIGSTOP' | 'SIGCONT'): boolean => {
    const pid = runningPid(config, id)
    if (pid === null) return false
    try { process.kill(pid, sig); return true } catch { return false }
  }
  const resume = (id: NodeId, why: string) => {
    paused.delete(id)
    if (signal(id, 'SIGCONT')) note(`SIGCONT replica ${id}${why}`)
  }
  const setClock = async (id: NodeId, rate: number): Promise<boolean> => {
    try { await adminRequest(adminSocketPath(config, id), { cmd: 'clock', rate }); return true } catch { return false }
  }
  const heal = async () => {
    if (isolated === null) return
    await Promise.all(replicaIds.filter(id => !down.has(id)).map(id => adminRequest(adminSocketPath(config, id), { cmd: 'heal' }).catch(() => undefined)))
    note(`healed partition of replica ${isolated}`)
    isolated = null
  }
  const leaderOrRandom = async (): Promise<NodeId> => {
    const up = replicaIds.filter(id => !down.has(id) && !paused.has(id))
    if (rng.chance(0.5)) {
      for (const id of up) {
        const s = await nodeStatus(config, id)
        if (s !== null && s.leader !== null && s.leader >= 0 && !down.has(s.leader)) return s.leader
      }
    }
    return up[rng.int(up.length)]!
  }

  const faultLoop = async (): Promise<void> => {
    const interval = o.faultIntervalMs ?? o.durationMs / 6
    while (faulting) {
      // Sleep in short steps so the end of the run is not held up by a pending fault.
      const wakeAt = performance.now() + interval * (0.5 + rng.next())
      while (faulting && performance.now() < wakeAt) await new Promise(r => setTimeout(r, 50))
      if (!faulting || o.faults.length === 0) break
      for (const [id, until] of paused) if (performance.now() >= until) resume(id, '')
      const kind = o.faults[rng.int(o.faults.length)]!
      // A stopped process is as unavailable as a dead one: both count against the fault budget.
      const unavailable = down.size + paused.size
      if (kind === 'kill' && unavailable < maxDown) {
        const victim = await leaderOrRandom()
        await stopReplicaProcess(config, victim, { kill9: true })
        down.add(victim)
        note(`kill -9 replica ${victim}`)
      } else if (kind === 'pause' && unavailable < maxDown) {
        const victim = await leaderOrRandom()
        if (signal(victim, 'SIGSTOP')) {
          paused.set(victim, performance.now() + PAUSE_MS.min + rng.int(PAUSE_MS.max - PAUSE_MS.min))
          note(`SIGSTOP replica ${victim}`)
        }
      } else if (kind === 'clock') {
        const up = replicaIds.filter(id => !down.has(id) && !paused.has(id))
        const victim = up[rng.int(up.length)]!
        const rate = Math.round(CLOCK_SPREAD ** (2 * rng.next() - 1) * 100) / 100
        if (await setClock(victim, rate)) {
          skewed.add(victim)
          note(`clock of replica ${victim} at ${rate}x`)
        }
      } else if (kind === 'transfer') {
        // Leader transfer through the leader's admin socket; protocols without it refuse, and the refusal is noted.
        const statuses = await Promise.all(replicaIds.filter(id => !down.has(id) && !paused.has(id)).map(id => nodeStatus(config, id)))
        const leader = statuses.find(s => s !== null && s.leader === s.id)
        const targets = replicaIds.filter(id => id !== leader?.id && !down.has(id) && !paused.has(id))
        if (leader !== undefined && leader !== null && targets.length > 0) {
          const to = targets[rng.int(targets.length)]!
          try {
            await adminRequest(adminSocketPath(config, leader.id), { cmd: 'admin', command: { kind: 'transfer-leadership', to } })
            note(`leader ${leader.id} transfers to replica ${to}`)
          } catch (e) {
            note(`leader transfer ${leader.id} -> ${to} not done: ${(e as Error).message}`)
          }
        }
      } else if (kind === 'restart' || ((kind === 'kill' || kind === 'pause') && unavailable >= maxDown)) {
        const [id] = [...down]
        if (id !== undefined) {
          await startReplicaProcess(config, o.configFile, id)
          down.delete(id)
          if (isolated !== null) await adminRequest(adminSocketPath(config, id), { cmd: 'block', peers: replicaIds.filter(p => p !== id && (id === isolated || p === isolated)) }).catch(() => undefined)
          note(`restarted replica ${id}`)
        }
      } else if (kind === 'partition') {
        if (isolated !== null) { await heal(); continue }
        const victim = await leaderOrRandom()
        isolated = victim
        const others = replicaIds.filter(id => id !== victim)
        await adminRequest(adminSocketPath(config, victim), { cmd: 'block', peers: others }).catch(() => undefined)
        await Promise.all(others.filter(id => !down.has(id)).map(id => adminRequest(adminSocketPath(config, id), { cmd: 'block', peers: [victim] }).catch(() => undefined)))
        note(`partitioned replica ${victim} from ${others.join(', ')}`)
      }
    }
  }

  const status: ChaosStatusSample[] = []
  const statusLoop = async (): Promise<void> => {
    const every = o.statusPollMs
    if (every === undefined || !(every > 0)) return
    while (running) {
      await Promise.all(replicaIds.map(async id => {
        const at = now()
        const s = down.has(id) ? null : await nodeStatus(config, id)
        status.push(s === null
          ? { atMs: at, replica: id, role: 'down', epoch: status.findLast(x => x.replica === id)?.epoch ?? 0, leader: null, commitIndex: status.findLast(x => x.replica === id)?.commitIndex ?? 0 }
          : { atMs: at, replica: id, role: s.role, epoch: s.epoch, leader: s.leader, commitIndex: s.commitIndex })
      }))
      await new Promise(r => setTimeout(r, every))
    }
  }

  const loops = clients.map(c => clientLoop(c))
  const polling = statusLoop()
  const faultsDone = faultLoop()
  await new Promise(r => setTimeout(r, o.durationMs))
  // Stop injecting, then heal before stopping the clients, so operations in flight can finish and every fault is undone.
  faulting = false
  await faultsDone
  for (const id of [...paused.keys()]) resume(id, ' (final heal)')
  await heal()
  for (const id of [...down]) {
    await startReplicaProcess(config, o.configFile, id)
    down.delete(id)
    note(`restarted replica ${id} (final heal)`)
  }
  // A restarted process starts with a true clock; the others are set back.
  for (const id of [...skewed]) if (await setClock(id, 1)) note(`clock of replica ${id} back to 1x (final heal)`)
  const healAt = now()
  await new Promise(r => setTimeout(r, o.settleMs ?? DEFAULT_SETTLE_MS))
  running = false
  await Promise.all(loops)
  await polling
  for (const c of clients) await c.close()
  const history = recorder.events
  const check = checkHistory(history, { timeLimitMs: 120_000 })
  const liveness = judgeLiveness(history, {
    finished: true, healAt: faults.length > 0 ? healAt : null,
    // Wall-clock runs on a shared machine: one request timeout plus a generous margin for retries after the heal.
    boundMs: o.livenessBoundMs ?? 2 * (o.requestTimeoutMs ?? 3000),
    maxTimedOutShare: o.maxTimedOutShare ?? 0.1, firstCommit: null,
  })
  status.sort((a, b) => a.atMs - b.atMs || a.replica - b.replica)
  return { history, check, liveness, ops, faults, durationMs: now(), status, replicas: replicaIds }
}
