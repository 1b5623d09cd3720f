/**
 * Local clusters as real OS processes: `cluster up` starts one `consensus node` process per replica (detached, logs
 * and a pid file in the run folder), `cluster down` stops exactly the processes whose pid files it finds.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { NodeId } from '../core/types.ts'
import { adminRequest } from './admin.ts'
import { configPath, type ClusterConfig } from './config.ts'
import { adminSocketPath } from './node.ts'

const CLI = resolve(fileURLToPath(import.meta.url), '../../bin/consensus.ts')

export function pidFile(config: ClusterConfig, id: NodeId): string {
  return join(configPath(config, config.runDir), `replica-${id}.pid`)
}

export function logFile(config: ClusterConfig, id: NodeId): string {
  return join(configPath(config, config.runDir), `replica-${id}.log`)
}

/**
 * Whether process `pid` is still running: it exists (signal 0 probes without delivering anything) and, where /proc
 * tells (Linux), is not a zombie. A zombie has exited and only waits for its parent to reap it; a killed child whose
 * parent is gone may wait for a reaper (a container's init) for a while.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 3 (state) follows the command name, which is in parentheses and may hold spaces.
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z'
  } catch (e) {
    // Gone between the two reads; or no /proc here (not Linux), where signal 0 is the answer.
    return (e as NodeJS.ErrnoException).code !== 'ENOENT' || !existsSync('/proc/self')
  }
}

/**
 * Block (polling, at most `timeoutMs`) until none of `pids` runs; returns those still running then. A SIGKILL takes a
 * moment to finish a process (the kernel tears down its memory and sockets), so "sent" is not yet "gone". Blocking on
 * purpose: a signal handler that waits this way lets nothing else of the process run (and notice its children dying)
 * before it ends.
 */
export function waitUntilExited(pids: Iterable<number>, timeoutMs = 5000): number[] {
  const waiting = [...pids]
  const deadline = Date.now() + timeoutMs
  const pause = new Int32Array(new SharedArrayBuffer(4))
  while (waiting.some(alive) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 10)
  return waiting.filter(alive)
}

/** The last lines of replica `id`'s log ('(no log)' when there is none yet). */
export function logTail(config: ClusterConfig, id: NodeId, lines = 15): string {
  try {
    return readFileSync(logFile(config, id), 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/** The pid of a running replica process we started, or null. */
export function runningPid(config: ClusterConfig, id: NodeId): number | null {
  const file = pidFile(config, id)
  if (!existsSync(file)) return null
  const pid = Number(readFileSync(file, 'utf8').trim())
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : null
}

/**
 * Node flags for every replica process, from CONSENSUS_REPLICA_NODE_FLAGS (space-separated), e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the replicas of a `bench live` run or `cluster up`; Node refuses
 * --cpu-prof in NODE_OPTIONS, and NODE_OPTIONS would reach the bench process too.
 */
function replicaNodeFlags(): string[] {
  return (process.env.CONSENSUS_REPLICA_NODE_FLAGS ?? '').split(' ').filter(flag => flag !== '')
}

/**
 * Start replica `id` as a detached process; resolves once its admin socket answers. `onSpawn` learns the pid at once
 * (before the replica answers), so a caller can stop it even if start-up is interrupted.
 */
export async function startReplicaProcess(config: ClusterConfig, configFile: string, id: NodeId, timeoutMs = 20_000,
  onSpawn?: (pid: number) => void): Promise<number> {
  const existing = runningPid(config, id)
  if (existing !== null) return existing
  mkdirSync(configPath(config, config.runDir), { recursive: true, mode: 0o700 })
  const log = openSync(logFile(config, id), 'a')
  const child = spawn(process.execPath, [...replicaNodeFlags(), CLI, 'node', '--config', resolve(configFile), '--id', String(id)], {
    detached: true, stdio: ['ignore', log, log], env: process.env,
  })
  closeSync(log)
  const pid = child.pid
  if (pid === undefined) throw new Error(`could not start replica ${id}`)
  child.unref()
  onSpawn?.(pid)
  writeFileSync(pidFile(config, id), `${pid}\n`)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await adminRequest(adminSocketPath(config, id), { cmd: 'status' }, 1000)
      return pid
    } catch {
      // The log's last lines go into the error: a test's cleanup may remove the folder before anyone reads the file.
      if (!alive(pid)) throw new Error(`replica ${id} exited during start-up; see ${logFile(config, id)}:\n${logTail(config, id)}`)
      if (Date.now() > deadline) throw new Error(`replica ${id} did not answer within ${timeoutMs} ms; see ${logFile(config, id)}:\n${logTail(config, id)}`)
      await new Promise(r => setTimeout(r, 100))
    }
  }
}

/** Stop replica `id` (SIGTERM, then SIGKILL after `graceMs`); `kill9` skips the grace (a crash). */
export async function stopReplicaProcess(config: ClusterConfig, id: NodeId, options: { kill9?: boolean; graceMs?: number } = {}): Promise<boolean> {
  const pid = runningPid(config, id)
  if (pid === null) {
    rmSync(pidFile(config, id), { force: true })
    return false
  }
  process.kill(pid, options.kill9 === true ? 'SIGKILL' : 'SIGTERM')
  const deadline = Date.now() + (options.graceMs ?? 5000)
  while (alive(pid)) {
    if (Date.now() > deadline) { process.kill(pid, 'SIGKILL') }
    await new Promise(r => setTimeout(r, 50))
  }
  rmSync(pidFile(config, id), { force: true })
  return true
}

export async function clusterUp(config: ClusterConfig, configFile: string): Promise<Map<NodeId, number>> {
  const pids = new Map<NodeId, number>()
  for (const r of config.replicas) pids.set(r.id, await startReplicaProcess(config, configFile, r.id))
  return pids
}

export async function clusterDown(config: ClusterConfig): Promise<NodeId[]> {
  const stopped: NodeId[] = []
  await Promise.all(config.replicas.map(async r => { if (await stopReplicaProcess(config, r.id)) stopped.push(r.id) }))
  return stopped.sort((a, b) => a - b)
}
