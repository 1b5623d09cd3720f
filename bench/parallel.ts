/**
 * Independent simulated runs on every core: a pool of `node:worker_threads` workers, each running one task at a time
 * (bench/parallel-worker.ts). A simulated run is a pure function of its spec and seed, so where it runs cannot change
 * its figures; results come back in task order whatever order they finish in, so a parallel sweep or soak writes
 * exactly what a serial one writes. With one job everything runs in this thread (no worker at all).
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { ConfigError } from '../core/errors.ts'
import { runTask, type Task, type TaskResult } from './parallel-tasks.ts'

export type { Task, TaskResult } from './parallel-tasks.ts'

/** The default of `--jobs`: one worker per core. */
export function defaultJobs(): number {
  return availableParallelism()
}

export function parseJobs(text: string, flag = '--jobs'): number {
  const v = Number(text)
  if (!Number.isInteger(v) || v < 1 || v > 1024) throw new ConfigError(flag, `expected an integer from 1 to 1024, got "${text}"`)
  return v
}

/**
 * Run `tasks` on `jobs` workers; `onDone(index)` after each finishes. Rejects with the first task's error (the
 * others still running are stopped).
 */
export async function runTasks<T extends Task>(tasks: readonly T[], jobs: number,
  onDone?: (index: number, result: TaskResult<T>) => void): Promise<TaskResult<T>[]> {
  const results: TaskResult<T>[] = new Array(tasks.length)
  if (jobs <= 1 || tasks.length <= 1) {
    for (let i = 0; i < tasks.length; i++) {
      results[i] = runTask(tasks[i]!) as TaskResult<T>
      onDone?.(i, results[i]!)
    }
    return results
  }
  const workers: Worker[] = []
  let next = 0
  let failed: unknown = null
  try {
    await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, () => new Promise<void>((resolve, reject) => {
      const worker = new Worker(new URL('./parallel-worker.ts', import.meta.url))
      workers.push(worker)
      let current = -1
      const feed = () => {
        if (failed !== null || next >= tasks.length) { resolve(); return }
        current = next++
        worker.postMessage({ index: current, task: tasks[current] })
      }
      worker.on('message', (m: { index: number; result?: unknown; error?: string }) => {
        if (m.error !== undefined) { failed ??= new Error(m.error); reject(failed as Error); return }
        results[m.index] = m.result as TaskResult<T>
        onDone?.(m.index, results[m.index]!)
        feed()
      })
      worker.on('error', e => { failed ??= e; reject(e) })
      worker.on('exit', code => { if (current >= 0 && results[current] === undefined && failed === null) reject(new Error(`worker exited with code ${code}`)) })
      feed()
    })))
  } finally {
    await Promise.all(workers.map(w => w.terminate()))
  }
  return results
}
