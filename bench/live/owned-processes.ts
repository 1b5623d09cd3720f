/**
 * The child processes a benchmark started (replicas, load generators), by PID, and the folders they use: so that an
 * interrupted or failing run ends exactly those processes and removes exactly those folders, and nothing else.
 *
 * Replicas are started detached (their own process group, as `consensus cluster up` does), so a Ctrl-C in the terminal
 * reaches only this process: it ends its children here, then lets the signal end this process as it would have. On any exit
 * of this process (an uncaught error included) the PIDs still registered get SIGKILL.
 */
import { rmSync } from 'node:fs'
import { waitUntilExited } from '../../live/processes.ts'

const pids = new Set<number>()
const dirs = new Set<string>()
let installed = false

function killAll(signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try { process.kill(pid, signal) } catch { /* already gone */ }
  }
}

function removeDirs(): void {
  // Retries: a process killed a moment ago may still be closing a file in the folder.
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })
}

function install(): void {
  if (installed) return
  installed = true
  // 'exit' handlers run synchronously: SIGKILL needs no waiting, and the folders go once the processes are gone.
  process.on('exit', () => { killAll('SIGKILL'); removeDirs() })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      if (pids.size > 0) process.stderr.write(`bench: ${signal}: stopping ${pids.size} child process(es) by PID\n`)
      killAll('SIGKILL')
      // Before this process ends: the children must be gone (not merely signalled) and their folders removed, so
      // whoever pressed Ctrl-C finds nothing left once the shell prompt is back.
      const stuck = waitUntilExited(pids)
      if (stuck.length > 0) process.stderr.write(`bench: ${signal}: process(es) ${stuck.join(', ')} still running after SIGKILL\n`)
      removeDirs()
      // Then end as the signal would have without this handler (the shell sees 128 + its number).
      process.kill(process.pid, signal)
    })
  }
}

/** Remember a child process this run started (it is killed if this process exits before it is released). */
export function ownProcess(pid: number): void {
  install()
  pids.add(pid)
}

/** The process was stopped by its owner. */
export function releaseProcess(pid: number): void {
  pids.delete(pid)
}

/** A temporary folder to remove on exit if its owner did not. */
export function ownDir(dir: string): void {
  install()
  dirs.add(dir)
}

export function releaseDir(dir: string): void {
  dirs.delete(dir)
}

/** PIDs still owned (for tests: none after a run). */
export function ownedPids(): readonly number[] {
  return [...pids]
}
