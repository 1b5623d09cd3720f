/**
 * A local etcd cluster on 127.0.0.1 for `bench live --baseline etcd`: n `etcd` processes (the binary on the PATH,
 * Debian's etcd-server) with peer and client URLs on free loopback ports, one `--initial-cluster`, data in a temporary
 * folder on the same disk as the protocol clusters' WALs (os.tmpdir()), and etcd's default durability: etcd fsyncs
 * its WAL before it acknowledges a write (no `--unsafe-no-fsync`), so it compares with the protocols' fsync policies.
 *
 * Every process started here is stopped by its PID: by `close()`, and also when this process exits or is interrupted
 * (SIGINT, SIGTERM) before that, and the data folder is removed with it. Nothing else is ever signalled.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { freeLoopbackPorts } from './loopback-cluster.ts'
import { waitUntilExited } from '../../live/processes.ts'

/** How to get an etcd binary (printed when it is missing). */
export const ETCD_INSTALL_HINT = 'sudo apt-get update && sudo apt-get install -y etcd-server'

/** The one line `bench live --baseline etcd` prints without etcd. */
export const ETCD_MISSING = `etcd baseline skipped: no etcd binary on the PATH (Debian/Ubuntu: ${ETCD_INSTALL_HINT}); the protocols run without it`

/** The first executable `etcd` on `pathEnv` (a PATH-style list), or null. */
export function findEtcd(pathEnv: string = process.env.PATH ?? ''): string | null {
  for (const dir of pathEnv.split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, 'etcd')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch { /* not here */ }
  }
  return null
}

/** "3.4.23" from `etcd --version`, or null when the binary does not answer. */
export function etcdVersion(binary: string): string | null {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 })
  return /etcd Version:\s*(\S+)/.exec(r.stdout ?? '')?.[1] ?? null
}

export interface EtcdMember {
  readonly name: string
  readonly pid: number
  readonly clientUrl: string
  readonly peerUrl: string
}

/** One member's process figures from /proc: CPU time so far, resident memory now and at its peak. */
export interface EtcdProcessStats {
  readonly pid: number
  readonly cpuMs: number
  readonly rssBytes: number
  readonly peakRssBytes: number
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[]
  readonly version: string | null
  /** The data folder (removed by close). */
  readonly dir: string
  /** Wall-clock ms from the first spawn until every member reported healthy. */
  readonly startMs: number
  /** The client URL of the member that is the leader now (asked of every member; bounded wait). */
  leaderClientUrl(timeoutMs?: number): Promise<string>
  /** Per member, from /proc/<pid>/stat and /proc/<pid>/status (Linux). */
  processStats(): EtcdProcessStats[]
  close(): Promise<void>
}

export interface EtcdClusterOptions {
  readonly binary: string
  readonly n: number
  /** Until every member answers /health with true (default 30 s). */
  readonly readyTimeoutMs?: number
}

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on every mainstream Linux build). */
const CLOCK_TICKS = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 })
  const v = Number(r.stdout?.trim())
  return Number.isInteger(v) && v > 0 ? v : 100
})()

export function readProcessStats(pid: number): EtcdProcessStats {
  // The command name in field 2 may hold spaces and parentheses: fields are counted after the last ')'.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // Fields 14 and 15 of proc(5) (utime, stime) are the 12th and 13th after the state field.
  const ticks = Number(fields[11]) + Number(fields[12])
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024
  return { pid, cpuMs: Math.round(ticks * 1000 / CLOCK_TICKS), rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') }
}

/** Children of this process still to be stopped, by PID, if it ends before close() (exit, SIGINT, SIGTERM). */
const running = new Map<number, { child: ChildProcess; dir: string }>()

function stopAllNow(): void {
  for (const pid of running.keys()) {
    try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ }
  }
  // Gone before their data folders are removed (a member still writing would leave files behind) and before this
  // process ends (whoever pressed Ctrl-C finds nothing left running).
  waitUntilExited(running.keys())
  for (const { dir } of running.values()) rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })
  running.clear()
}

const onSignal = (signal: NodeJS.Signals) => {
  stopAllNow()
  uninstall()
  // Die of the signal as without this handler, unless someone else is handling it.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
}
const onSigint = () => onSignal('SIGINT')
const onSigterm = () => onSignal('SIGTERM')
let installed = false
function install(): void {
  if (installed) return
  installed = true
  process.on('exit', stopAllNow)
  process.on('SIGINT', onSigint)
  process.on('SIGTERM', onSigterm)
}
function uninstall(): void {
  if (!installed) return
  installed = false
  process.off('exit', stopAllNow)
  process.off('SIGINT', onSigint)
  process.off('SIGTERM', onSigterm)
}

async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const r = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) })
    return r.ok && (await r.json() as { health?: string }).health === 'true'
  } catch {
    return false
  }
}

/** The member's own id and its view of the leader, through etcd's gRPC gateway (ids as decimal strings). */
async function memberStatus(clientUrl: string): Promise<{ self: string; leader: string } | null> {
  try {
    const r = await fetch(`${clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) })
    if (!r.ok) return null
    const s = await r.json() as { header?: { member_id?: string }; leader?: string }
    return s.header?.member_id !== undefined && s.leader !== undefined && s.leader !== '0'
      ? { self: s.header.member_id, leader: s.leader } : null
  } catch {
    return null
  }
}

/** Waits for a child to exit, at most `ms`; true if it did. */
function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
  return new Promise(resolve => {
    const timer = setTimeout(() => resolve(false), ms)
    child.once('exit', () => { clearTimeout(timer); resolve(true) })
  })
}

/** A member that failed while starting: the end of its log says why. */
class EtcdStartError extends Error {
  override readonly name = 'EtcdStartError'
  readonly portInUse: boolean
  constructor(message: string, portInUse: boolean) {
    super(message)
    this.portInUse = portInUse
  }
}

async function startOnce(o: EtcdClusterOptions): Promise<EtcdCluster> {
  const started = performance.now()
  const dir = mkdtempSync(join(tmpdir(), 'bench-live-etcd-'))
  const ports = await freeLoopbackPorts(2 * o.n)
  const token = `bench-live-${process.pid}-${Date.now()}`
  const specs = Array.from({ length: o.n }, (_, i) => ({
    name: `m${i}`, peerUrl: `http://127.0.0.1:${ports[2 * i]!}`, clientUrl: `http://127.0.0.1:${ports[2 * i + 1]!}`,
  }))
  const initialCluster = specs.map(s => `${s.name}=${s.peerUrl}`).join(',')
  const children: ChildProcess[] = []
  const logs: string[] = specs.map(() => '')
  const members: EtcdMember[] = []
  install()
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    for (const c of children) { if (c.pid !== undefined) { try { process.kill(c.pid, 'SIGTERM') } catch { /* gone */ } } }
    for (const c of children) {
      if (!(await exited(c, 5000)) && c.pid !== undefined) {
        try { process.kill(c.pid, 'SIGKILL') } catch { /* gone */ }
        await exited(c, 5000)
      }
      if (c.pid !== undefined) running.delete(c.pid)
    }
    rmSync(dir, { recursive: true, force: true })
    if (running.size === 0) uninstall()
  }
  try {
    for (const [i, s] of specs.entries()) {
      const child = spawn(o.binary, [
        '--name', s.name, '--data-dir', join(dir, s.name),
        '--listen-peer-urls', s.peerUrl, '--initial-advertise-peer-urls', s.peerUrl,
        '--listen-client-urls', s.clientUrl, '--advertise-client-urls', s.clientUrl,
        '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', token,
        '--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'warn',
      ], { stdio: ['ignore', 'ignore', 'pipe'] })
      children.push(child)
      if (child.pid === undefined) throw new EtcdStartError(`could not start ${o.binary}`, false)
      running.set(child.pid, { child, dir })
      // Only the end of the log is kept: it is read only to say why a member failed.
      child.stderr!.setEncoding('utf8')
      child.stderr!.on('data', (text: string) => { logs[i] = (logs[i]! + text).slice(-4000) })
      child.on('error', () => { /* reported through exitCode below */ })
      members.push({ name: s.name, pid: child.pid, clientUrl: s.clientUrl, peerUrl: s.peerUrl })
    }
    const deadline = performance.now() + (o.readyTimeoutMs ?? 30_000)
    for (;;) {
      const dead = children.findIndex(c => c.exitCode !== null || c.signalCode !== null)
      if (dead >= 0) {
        const log = logs[dead]!.trim().split('\n').slice(-3).join('\n')
        throw new EtcdStartError(`etcd member ${specs[dead]!.name} exited while starting (code ${children[dead]!.exitCode}):\n${log}`,
          /address already in use/.test(logs[dead]!))
      }
      if ((await Promise.all(specs.map(s => healthy(s.clientUrl)))).every(Boolean)) break
      if (performance.now() > deadline) throw new EtcdStartError(`etcd cluster of ${o.n} not healthy within ${o.readyTimeoutMs ?? 30_000} ms`, false)
      await sleep(100)
    }
    const leaderClientUrl = async (timeoutMs = 10_000): Promise<string> => {
      const until = performance.now() + timeoutMs
      for (;;) {
        const statuses = await Promise.all(members.map(m => memberStatus(m.clientUrl)))
        const leader = statuses.find(s => s !== null && s.self === s.leader)
        if (leader !== undefined) return members[statuses.indexOf(leader)]!.clientUrl
        if (performance.now() > until) throw new Error(`no etcd member reported itself leader within ${timeoutMs} ms`)
        await sleep(100)
      }
    }
    return {
      members, version: etcdVersion(o.binary), dir, startMs: performance.now() - started, leaderClientUrl,
      processStats: () => members.map(m => readProcessStats(m.pid)), close,
    }
  } catch (e) {
    await close()
    throw e
  }
}

/** Starts the cluster; once more on fresh ports if a member lost a race for its port. */
export async function startEtcdCluster(o: EtcdClusterOptions): Promise<EtcdCluster> {
  if (!Number.isInteger(o.n) || o.n < 1) throw new RangeError(`etcd cluster size must be a positive integer, got ${o.n}`)
  try {
    return await startOnce(o)
  } catch (e) {
    if (e instanceof EtcdStartError && e.portInUse) return startOnce(o)
    throw e
  }
}
