/** The README's library example runs as written. */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

describe('examples/library.ts', () => {
  it('writes, reads and compare-and-sets through a 3-replica cluster in one process', () => {
    const out = execFileSync(process.execPath, [join(import.meta.dirname, '../../examples/library.ts')], { timeout: 60_000, encoding: 'utf8' })
    expect(out).toContain('greeting = hello')
    expect(out).toContain('cas hello -> bonjour: true')
    expect(out).toContain('greeting = bonjour')
    expect(out).toMatch(/leader: replica \d, term \d+, commit index \d+/)
  }, 90_000)
})
