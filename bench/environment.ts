/**
 * Where a result came from: Node version, machine, and the commit of the code that produced it.
 */
import { execFileSync } from 'node:child_process'
import { cpus, totalmem } from 'node:os'

export interface Environment {
  readonly node: string
  readonly platform: string
  readonly arch: string
  readonly cpuModel: string
  readonly cpuCount: number
  readonly totalMemoryBytes: number
  /** `git rev-parse HEAD`, null outside a git checkout. */
  readonly commit: string | null
  /** Uncommitted changes were present (the commit alone does not reproduce the code). */
  readonly dirty: boolean | null
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim()
  } catch {
    return null
  }
}

export function captureEnvironment(): Environment {
  const cpuList = cpus()
  const commit = git(['rev-parse', 'HEAD'])
  const status = commit === null ? null : git(['status', '--porcelain', '--untracked-files=no'])
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cpuCount: cpuList.length,
    totalMemoryBytes: totalmem(),
    commit,
    dirty: status === null ? null : status.length > 0,
  }
}
