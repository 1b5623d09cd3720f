/**
 * One replica per data directory: a second FileStorage (in this process or another) is refused with a message naming
 * the directory and the PID holding it; a lock left by a process that no longer runs (kill -9) is taken over.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DataDirectoryLockedError, LOCK_FILE } from '../../core/storage/dir-lock.ts'
import { createFileStorage } from '../../core/storage/file-storage.ts'
import { syncOf } from './conformance.ts'

const dirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dir-lock-'))
  dirs.push(dir)
  return dir
}
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })

const storageModule = join(import.meta.dirname, '../../core/storage/file-storage.ts')

/** A PID that no process has: one that just exited (PIDs are not reused that quickly). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  return Number(child.stdout)
}

describe('data directory lock', () => {
  it('refuses a second storage on the same directory in one process until the first is closed or crashed', async () => {
    const dir = tempDir()
    const first = createFileStorage({ dir })
    expect(() => createFileStorage({ dir })).toThrow(DataDirectoryLockedError)
    expect(() => createFileStorage({ dir })).toThrow(`data directory ${dir} is locked by another storage in this process (pid ${process.pid})`)
    first.write([{ kind: 'entry', index: 1, value: new Uint8Array([1]) }])
    await syncOf(first)
    first.close()
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false)
    const second = createFileStorage({ dir })
    expect(second.load().log).toHaveLength(1)
    second.crash()
    createFileStorage({ dir }).close()
  })

  it('a refused (corrupt) directory is not left locked', () => {
    const dir = tempDir()
    createFileStorage({ dir }).close()
    writeFileSync(join(dir, 'wal-0000000000000001.log'), new Uint8Array(100))
    expect(() => createFileStorage({ dir })).toThrow(/storage corrupted/)
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false)
  })

  it('refuses while another live process holds it, and takes the lock over after that process is killed -9', async () => {
    const dir = tempDir()
    const script = `
      import { createFileStorage } from ${JSON.stringify(storageModule)}
      const s = createFileStorage({ dir: ${JSON.stringify(dir)} })
      s.write([{ kind: 'put', key: 'term', value: new Uint8Array([7]) }])
      s.sync(() => process.stdout.write('ready\\n'))
      setInterval(() => {}, 1000)
    `
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = new Promise(resolve => child.once('exit', resolve))
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve() })
        child.once('exit', code => reject(new Error(`child exited with ${code}`)))
      })
      let error: unknown
      try { createFileStorage({ dir }) } catch (e) { error = e }
      expect(error).toBeInstanceOf(DataDirectoryLockedError)
      expect((error as DataDirectoryLockedError).pid).toBe(child.pid)
      expect((error as Error).message).toContain(`data directory ${dir} is locked by process ${child.pid}`)
    } finally {
      child.kill('SIGKILL')
      await exited
    }
    // kill -9 left its lock file behind; the restart takes it over and finds the synced write.
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(child.pid)
    const s = createFileStorage({ dir })
    expect(s.stats.staleLockTakenOver).toBe(`stale lock of process ${child.pid}, which is no longer running`)
    expect(s.load().hard.get('term')).toEqual(new Uint8Array([7]))
    s.close()
  })

  it('takes over a stale lock of a dead PID, one of its own PID from an earlier process, and an unreadable one', () => {
    const dir = tempDir()
    const lock = join(dir, LOCK_FILE)
    const dead = deadPid()
    writeFileSync(lock, JSON.stringify({ pid: dead, token: 'gone' }))
    let s = createFileStorage({ dir })
    expect(s.stats.staleLockTakenOver).toContain(`process ${dead}`)
    s.close()
    // Containers restart with the same PIDs: a lock naming our PID with a token we never issued is an earlier run's.
    writeFileSync(lock, JSON.stringify({ pid: process.pid, token: 'earlier-run' }))
    s = createFileStorage({ dir })
    expect(s.stats.staleLockTakenOver).toContain(`process ${process.pid}`)
    s.close()
    writeFileSync(lock, '{"pid": 12') // cut short by a crash while it was written
    s = createFileStorage({ dir })
    expect(s.stats.staleLockTakenOver).toBe('unreadable stale lock')
    s.close()
  })
})
