/**
 * Temporary data directories for storage tests that check the format's logic, not the disk: on tmpfs where there is
 * one (thousands of opens, and fsyncs that cost nothing; a loaded disk's metadata stalls would otherwise dominate the
 * run time). Each one is deleted after the test that made it.
 */
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'

export const scratch = ((): string => {
  try { accessSync('/dev/shm', constants.W_OK); return '/dev/shm' } catch { return tmpdir() }
})()

/** A `tempDir()` for this test file: each call a fresh directory `<scratch>/<prefix>XXXXXX`, removed after the test. */
export function scratchDirs(prefix: string): () => string {
  const dirs: string[] = []
  afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })
  return () => {
    const dir = mkdtempSync(join(scratch, prefix))
    dirs.push(dir)
    return dir
  }
}
