/**
 * CPU time and memory of another process, read from Linux's /proc (proc(5)): `utime` and `stime` (fields 14 and 15 of
 * /proc/<pid>/stat, in clock ticks) and `VmRSS` / `VmHWM` of /proc/<pid>/status. A benchmark takes one reading at each
 * edge of its measured window and reports the difference, so start-up and warm-up are not charged to the window.
 */
import { readFileSync } from 'node:fs'

export interface ProcessReading {
  /** null: read from the process's metrics endpoint on another host, where its PID means nothing here. */
  readonly pid: number | null
  /** User and system CPU time since the process started, ms. */
  readonly userMs: number
  readonly systemMs: number
  /** Resident set size now, and its peak so far (bytes). */
  readonly rssBytes: number
  readonly peakRssBytes: number
}

/**
 * Clock ticks per second of /proc's CPU times: USER_HZ, which Linux fixes at 100 for user space on every architecture
 * it runs Node on (sysconf(_SC_CLK_TCK) reports it; the kernel's own HZ may differ, /proc converts).
 */
const TICKS_PER_SECOND = 100

/** Whether this machine has /proc readings (Linux); elsewhere the per-process figures are left out. */
export function procAvailable(): boolean {
  try {
    readFileSync(`/proc/${process.pid}/stat`, 'utf8')
    return true
  } catch {
    return false
  }
}

function statusKb(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)
  return m === null ? 0 : Number(m[1]) * 1024
}

/** One reading of process `pid`, or null when it is gone (or this is not Linux). */
export function readProcess(pid: number): ProcessReading | null {
  let stat: string
  let status: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    status = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return null
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state), so field k is fields[k - 3].
  const tick = 1000 / TICKS_PER_SECOND
  return {
    pid,
    userMs: Number(fields[14 - 3]) * tick,
    systemMs: Number(fields[15 - 3]) * tick,
    rssBytes: statusKb(status, 'VmRSS'),
    peakRssBytes: statusKb(status, 'VmHWM'),
  }
}

/** CPU ms (user + system) between two readings of one process. */
export function cpuMsBetween(before: ProcessReading, after: ProcessReading): number {
  return after.userMs + after.systemMs - before.userMs - before.systemMs
}
