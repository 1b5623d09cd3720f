/**
 * Load generators in their own processes: `k` Node child processes (load-generator-child.ts), each running the
 * pipelined load loop (live-load.ts, closed or open) on its share of the client nodes, so the cluster's replicas and
 * the code that loads them never share an event loop. Each reports its latencies as an HdrHistogram (compressed,
 * base64) with its counts over the IPC channel; the parent merges the histograms (percentiles of all samples, never
 * an average of percentiles) and sums the counts.
 *
 * Client node m (of the measurement's `nodes`) lives in process m mod k; caller i runs on node i mod nodes, as in the
 * in-process form, so the same flags spread the same load.
 *
 * Every exchange is bounded in time; the processes are stopped by PID (owned-processes.ts), and a child whose parent
 * goes away exits by itself (its IPC channel closes).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { LatencyRecorder } from '../latency.ts'
import type { Workload } from '../workload.ts'
import type { LiveLoadResult } from './live-load.ts'
import { connectDeadlineMs } from './connect-clients.ts'
import { ownProcess, releaseProcess } from './owned-processes.ts'

const CHILD = fileURLToPath(new URL('./load-generator-child.ts', import.meta.url))

/** Parent to child (after the child announced itself with 'ready'). */
export type LoadRequest =
  /** Once, before any load: which cluster, which client identities this process may use (in order), the client settings. */
  | { readonly type: 'init'; readonly configFile: string; readonly clientIds: readonly number[]; readonly timeoutMs: number;
      readonly maxInFlight: number | null; readonly index: number }
  /** Have `nodes` client nodes (start the missing ones) and complete a first write from each new one. */
  | { readonly type: 'connect'; readonly nodes: number; readonly deadlineMs: number }
  /** Closed-loop load: `callersPerNode[j]` callers on local node j. */
  | { readonly type: 'measure'; readonly callersPerNode: readonly number[]; readonly workload: Workload; readonly seed: number }
  | { readonly type: 'close' }

/** A load process's measured window, in a form that crosses the process boundary. */
export interface EncodedLoadResult {
  /** LatencyRecorder.encode() */
  readonly latency: string
  readonly measuredOps: number
  readonly timeouts: number
  readonly windowStartMs: number
  readonly windowEndMs: number
  readonly timeline: readonly number[]
  readonly maxGapMs: number
  readonly unfinished: number
  readonly backlog: number
}

/** Child to parent: 'ready' once its modules are loaded, then one answer per request. */
export type LoadReply =
  | { readonly type: 'ready' }
  | { readonly type: 'initialized' }
  | { readonly type: 'connected'; readonly ms: number }
  | { readonly type: 'measured'; readonly result: EncodedLoadResult }
  | { readonly type: 'closed' }
  | { readonly type: 'error'; readonly message: string }

export interface LoadGeneratorSetup {
  readonly configFile: string
  /** The cluster's allow-listed client identities, in order (node m uses identity m). */
  readonly clientIds: readonly number[]
  readonly timeoutMs: number
  /** Calls each client node keeps in flight (null: the client's default). */
  readonly maxInFlight: number | null
}

export interface LoadGenerators {
  /** PIDs of the load processes, by index. */
  readonly pids: readonly number[]
  /** Point the processes at a cluster (once, before connect). */
  init(setup: LoadGeneratorSetup): Promise<void>
  /** Client nodes until there are `nodes` over all processes, each new one through its first write; wall-clock ms. */
  connect(nodes: number): Promise<number>
  /**
   * `clients` closed-loop callers on `nodes` client nodes (already connected). `onSent` runs once every process has
   * been handed its share, so the caller can time the window's edges from there.
   */
  measure(clients: number, nodes: number, workload: Workload, seed: number, onSent?: () => void): Promise<LiveLoadResult>
  close(): Promise<void>
}

/** How many of `nodes` client nodes process `p` of `k` holds (node m is in process m mod k). */
export function nodesInProcess(nodes: number, p: number, k: number): number {
  return p < nodes % k ? Math.ceil(nodes / k) : Math.floor(nodes / k)
}

/** Callers on each of process p's nodes: caller i runs on global node i mod nodes; local node j is global node p + j k. */
export function callersPerLocalNode(clients: number, nodes: number, p: number, k: number): number[] {
  return Array.from({ length: nodesInProcess(nodes, p, k) }, (_, j) => {
    const m = p + j * k
    return Math.floor(clients / nodes) + (m < clients % nodes ? 1 : 0)
  })
}

/** The merged window of several load processes. */
export function mergeLoadResults(results: readonly EncodedLoadResult[]): LiveLoadResult {
  const latency = new LatencyRecorder()
  for (const r of results) latency.addEncoded(r.latency)
  const length = Math.max(0, ...results.map(r => r.timeline.length))
  return {
    latency,
    measuredOps: results.reduce((s, r) => s + r.measuredOps, 0),
    timeouts: results.reduce((s, r) => s + r.timeouts, 0),
    windowStartMs: Math.min(...results.map(r => r.windowStartMs)),
    // A process that closed its window early (maxOps) still counts its operations over the longest window.
    windowEndMs: Math.max(...results.map(r => r.windowEndMs)),
    timeline: Array.from({ length }, (_, i) => results.reduce((s, r) => s + (r.timeline[i] ?? 0), 0)),
    // Completions of one process fill the gaps of another, so the merged longest gap is at most the smallest of
    // theirs: an upper bound, exact with one process.
    maxGapMs: Math.min(...results.map(r => r.maxGapMs)),
    unfinished: results.reduce((s, r) => s + r.unfinished, 0),
    backlog: results.reduce((s, r) => s + r.backlog, 0),
  }
}

interface Child {
  readonly process: ChildProcess
  readonly pid: number
  /** Last lines the child wrote to stderr, for error messages. */
  stderr: string
  exited: boolean
  /** The request waiting for this child's answer. */
  waiting: { resolve: (r: LoadReply) => void; reject: (e: Error) => void } | null
}

const STDERR_KEEP = 4000

function startChild(index: number): Child {
  // execArgv: [] so the child does not inherit a test runner's loader flags; Node runs the .ts entry itself.
  const cp = fork(CHILD, [], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: process.env })
  if (cp.pid === undefined) throw new Error(`could not start load generator ${index}`)
  const child: Child = { process: cp, pid: cp.pid, stderr: '', exited: false, waiting: null }
  ownProcess(cp.pid)
  cp.stderr?.setEncoding('utf8')
  cp.stderr?.on('data', (chunk: string) => { child.stderr = (child.stderr + chunk).slice(-STDERR_KEEP) })
  cp.on('message', (m: LoadReply) => {
    const w = child.waiting
    child.waiting = null
    if (w === null) return
    if (m.type === 'error') w.reject(new Error(`load generator ${index}: ${m.message}`))
    else w.resolve(m)
  })
  cp.on('exit', (code, signal) => {
    child.exited = true
    releaseProcess(child.pid)
    const w = child.waiting
    child.waiting = null
    w?.reject(new Error(`load generator ${index} (pid ${child.pid}) exited (${signal ?? `code ${code}`})` +
      (child.stderr !== '' ? `:\n${child.stderr}` : '')))
  })
  cp.on('error', e => { child.waiting?.reject(e); child.waiting = null })
  return child
}

/** Send `request` (null: send nothing, wait for the child's own announcement) and wait for its answer. */
function ask(child: Child, index: number, request: LoadRequest | null, expect: LoadReply['type'], timeoutMs: number): Promise<LoadReply> {
  if (child.exited) return Promise.reject(new Error(`load generator ${index} has exited`))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.waiting = null
      reject(new Error(`load generator ${index} (pid ${child.pid}) did not answer ${request?.type ?? 'its start'} within ${timeoutMs} ms`))
    }, timeoutMs)
    child.waiting = {
      resolve: r => {
        clearTimeout(timer)
        if (r.type === expect) resolve(r)
        else reject(new Error(`load generator ${index}: expected ${expect}, got ${r.type}`))
      },
      reject: e => { clearTimeout(timer); reject(e) },
    }
    if (request !== null) child.process.send(request)
  })
}

const START_TIMEOUT_MS = 30_000
const CLOSE_TIMEOUT_MS = 10_000

/**
 * Start `processes` load generators; resolves once each has loaded its code (so this can overlap the replicas'
 * start-up), before it knows any cluster (init).
 */
export async function startLoadGenerators(processes: number): Promise<LoadGenerators> {
  if (!Number.isInteger(processes) || processes < 1) throw new RangeError(`load processes: expected at least 1, got ${processes}`)
  const k = processes
  const children: Child[] = []
  let nodes = 0
  let o: LoadGeneratorSetup | null = null
  const close = async (): Promise<void> => {
    await Promise.all(children.map(async (c, i) => {
      if (c.exited) return
      try {
        await ask(c, i, { type: 'close' }, 'closed', CLOSE_TIMEOUT_MS)
      } catch { /* it is killed below */ }
      const gone = new Promise<void>(resolve => { if (c.exited) resolve(); else c.process.once('exit', () => resolve()) })
      if (!c.exited) c.process.kill('SIGTERM')
      const timer = setTimeout(() => { if (!c.exited) c.process.kill('SIGKILL') }, 3000)
      await gone
      clearTimeout(timer)
    }))
  }
  try {
    for (let p = 0; p < k; p++) children.push(startChild(p))
    // Listening for 'ready' right after fork: the child cannot have sent it before this turn ends.
    await Promise.all(children.map((c, p) => ask(c, p, null, 'ready', START_TIMEOUT_MS)))
  } catch (e) {
    await close()
    throw e
  }
  const setup = (): LoadGeneratorSetup => {
    if (o === null) throw new Error('load generators: init() first')
    return o
  }
  return {
    pids: children.map(c => c.pid),
    async init(s) {
      await Promise.all(children.map((c, p) => ask(c, p, {
        type: 'init', configFile: s.configFile, clientIds: s.clientIds.filter((_, m) => m % k === p), timeoutMs: s.timeoutMs,
        maxInFlight: s.maxInFlight, index: p,
      }, 'initialized', START_TIMEOUT_MS)))
      o = s
    },
    async connect(count) {
      const o = setup()
      if (!Number.isInteger(count) || count < 1 || count > o.clientIds.length) {
        throw new RangeError(`client nodes: expected 1 to ${o.clientIds.length} (the identities of the cluster), got ${count}`)
      }
      const t0 = performance.now()
      const deadlineMs = connectDeadlineMs(count)
      // The first process alone first: its first client waits out the leader election, the others then find a leader.
      const grow = (p: number) => nodesInProcess(count, p, k) > nodesInProcess(nodes, p, k)
        ? ask(children[p]!, p, { type: 'connect', nodes: nodesInProcess(count, p, k), deadlineMs }, 'connected', deadlineMs + 5000)
        : Promise.resolve(null)
      await grow(0)
      await Promise.all(children.map((_, p) => p === 0 ? null : grow(p)))
      nodes = Math.max(nodes, count)
      return performance.now() - t0
    },
    async measure(clients, count, workload, seed, onSent) {
      if (count > nodes) throw new RangeError(`measure on ${count} client nodes, but only ${nodes} are connected`)
      const active = children.map((_, p) => p).filter(p => nodesInProcess(count, p, k) > 0)
      const bound = workload.warmupMs + workload.durationMs + workload.timeoutMs + 30_000
      const maxOps = Math.ceil(workload.maxOps / active.length)
      const pending = active.map(p => {
        const callersPerNode = callersPerLocalNode(clients, count, p, k)
        // Open loop: each process offers the share of the rate its callers are of all callers.
        const rate = workload.ratePerSec == null ? null : workload.ratePerSec * callersPerNode.reduce((a, b) => a + b, 0) / clients
        return ask(children[p]!, p, {
          type: 'measure', callersPerNode,
          workload: { ...workload, maxOps: Number.isFinite(maxOps) ? maxOps : workload.maxOps, ratePerSec: rate }, seed,
        }, 'measured', bound)
      })
      onSent?.()
      const replies = await Promise.all(pending)
      return mergeLoadResults(replies.map(r => (r as Extract<LoadReply, { type: 'measured' }>).result))
    },
    close,
  }
}
