/**
 * Entry point of one load-generator process (started by load-generator.ts over an IPC channel; not a CLI). It holds
 * client nodes of a running cluster, runs the closed-loop load on them when asked, and answers each request with one
 * message. It exits when asked to close, and by itself when its parent goes away (the channel disconnects).
 */
import { createRng } from '../../core/random.ts'
import { createClient, type ConsensusClient } from '../../live/client.ts'
import { loadClusterConfig, type ClusterConfig } from '../../live/config.ts'
import { runLiveLoad } from './live-load.ts'

/** Callers of load process p are numbered from p times this (more than any one process runs). */
const CALLERS_PER_PROCESS = 1_000_000
import { completeFirstWrites } from './connect-clients.ts'
import type { EncodedLoadResult, LoadReply, LoadRequest } from './load-generator.ts'

interface Setup {
  readonly config: ClusterConfig
  readonly clientIds: readonly number[]
  readonly timeoutMs: number
  readonly maxInFlight: number | null
  readonly index: number
}

let setup: Setup | null = null
const clients: ConsensusClient[] = []

const reply = (m: LoadReply) => process.send?.(m)

async function closeClients(): Promise<void> {
  for (const c of clients.splice(0)) {
    try { await c.close() } catch { /* already stopping */ }
  }
}

async function handle(m: LoadRequest): Promise<LoadReply> {
  if (m.type === 'init') {
    setup = { config: loadClusterConfig(m.configFile), clientIds: m.clientIds, timeoutMs: m.timeoutMs, maxInFlight: m.maxInFlight, index: m.index }
    return { type: 'initialized' }
  }
  if (m.type === 'close') {
    await closeClients()
    return { type: 'closed' }
  }
  const s = setup
  if (s === null) throw new Error(`${m.type} before init`)
  if (m.type === 'connect') {
    if (m.nodes > s.clientIds.length) throw new Error(`asked for ${m.nodes} client nodes, holds ${s.clientIds.length} identities`)
    const t0 = performance.now()
    const fresh: ConsensusClient[] = []
    while (clients.length < m.nodes) {
      const client = await createClient({ config: s.config, clientId: s.clientIds[clients.length]!, timeoutMs: s.timeoutMs,
        ...(s.maxInFlight !== null ? { maxInFlight: s.maxInFlight } : {}) })
      clients.push(client)
      fresh.push(client)
    }
    await completeFirstWrites(fresh, t0 + m.deadlineMs)
    return { type: 'connected', ms: performance.now() - t0 }
  }
  if (m.callersPerNode.length > clients.length) throw new Error(`load on ${m.callersPerNode.length} client nodes, ${clients.length} connected`)
  const callers = m.callersPerNode.flatMap((count, j) => Array.from({ length: count }, () => clients[j]!))
  const load = await runLiveLoad(callers, {
    ...m.workload, rng: createRng(m.seed).fork(`bench-live-load-${s.index}`), firstCaller: s.index * CALLERS_PER_PROCESS,
  })
  const result: EncodedLoadResult = {
    latency: load.latency.encode(), measuredOps: load.measuredOps, timeouts: load.timeouts, windowStartMs: load.windowStartMs,
    windowEndMs: load.windowEndMs, timeline: load.timeline, maxGapMs: load.maxGapMs, unfinished: load.unfinished, backlog: load.backlog,
  }
  return { type: 'measured', result }
}

process.on('message', (m: LoadRequest) => {
  handle(m).then(r => {
    reply(r)
    if (m.type === 'close') process.disconnect()
  }, (e: Error) => reply({ type: 'error', message: e.stack ?? e.message }))
})

// Every module is loaded: the parent may start timing from here.
reply({ type: 'ready' })

// The parent went away (or closed us): stop the clients, bounded, and leave.
process.on('disconnect', () => {
  const timer = setTimeout(() => process.exit(0), 3000)
  timer.unref()
  void closeClients().then(() => process.exit(0))
})
