/**
 * One process (and one FileStorage) at a time per data directory. Two replicas writing one log would interleave
 * records and each acknowledge writes the other then overwrites.
 *
 * Node has no flock(2), so the lock is a file created exclusively ('wx') holding the owner's PID and a random token.
 * A lock whose PID is alive is refused, naming the directory and the PID. A lock whose process is gone (kill -9,
 * power loss) is stale and taken over, so a killed replica restarts without an operator. The token tells our own
 * lock from one left by an earlier process that had the same PID (PIDs repeat across container restarts). Within
 * one process a registry refuses a second FileStorage on the same directory.
 *
 * Known limit: two processes taking over the same stale lock at the same instant could both succeed (the take-over
 * is read, check, unlink, create; the window is microseconds and needs two starts racing after a crash).
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, realpathSync, unlinkSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'

export const LOCK_FILE = 'LOCK'

export class DataDirectoryLockedError extends Error {
  override readonly name = 'DataDirectoryLockedError'
  readonly dir: string
  readonly pid: number
  constructor(dir: string, pid: number, detail: string) {
    super(`data directory ${dir} is locked ${detail} (lock file ${join(dir, LOCK_FILE)}): another replica is using ` +
      'it; refusing to start a second one on the same files')
    this.dir = dir
    this.pid = pid
  }
}

interface LockContent {
  readonly pid: number
  readonly token: string
}

/** Directories (by real path) locked by this process, with our token. */
const heldHere = new Map<string, string>()

export interface DirectoryLock {
  /** Stale lock taken over, or null. */
  readonly tookOver: string | null
  release(): void
}

function readLock(file: string): LockContent | null {
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw e
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockContent>
    if (typeof parsed.pid === 'number' && typeof parsed.token === 'string') return { pid: parsed.pid, token: parsed.token }
  } catch { /* a lock file cut short by a crash while it was written: nobody holds it */ }
  return { pid: 0, token: '' }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function lockDirectory(dir: string): DirectoryLock {
  const key = realpathSync(dir)
  if (heldHere.has(key)) {
    throw new DataDirectoryLockedError(dir, process.pid, `by another storage in this process (pid ${process.pid})`)
  }
  const file = join(dir, LOCK_FILE)
  const token = randomBytes(16).toString('hex')
  const content = JSON.stringify({ pid: process.pid, token, host: hostname() }) + '\n'
  let tookOver: string | null = null
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, content, { flag: 'wx', mode: 0o600 })
      break
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw e
    }
    const held = readLock(file)
    if (held === null) continue // released meanwhile
    // Our own PID with a token we did not issue: an earlier process that happened to have this PID.
    if (held.pid !== process.pid && alive(held.pid)) throw new DataDirectoryLockedError(dir, held.pid, `by process ${held.pid}`)
    const again = readLock(file)
    if (again !== null && (again.pid !== held.pid || again.token !== held.token)) continue // someone else took it over
    try { unlinkSync(file) } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e }
    tookOver = held.pid > 0 ? `stale lock of process ${held.pid}, which is no longer running` : 'unreadable stale lock'
  }
  heldHere.set(key, token)
  let released = false
  return {
    tookOver,
    release(): void {
      if (released) return
      released = true
      heldHere.delete(key)
      // Only our own lock: if it was taken from us (it should not be), leave the new owner's alone.
      const held = readLock(file)
      if (held !== null && held.token === token) unlinkSync(file)
    },
  }
}
