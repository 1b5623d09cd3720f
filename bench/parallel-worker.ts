/** A worker of bench/parallel.ts: runs the tasks it is sent, one at a time, and posts each result back. */
import { parentPort } from 'node:worker_threads'
import { runTask, type Task } from './parallel-tasks.ts'

parentPort!.on('message', (m: { index: number; task: Task }) => {
  try {
    parentPort!.postMessage({ index: m.index, result: runTask(m.task) })
  } catch (e) {
    parentPort!.postMessage({ index: m.index, error: e instanceof Error ? (e.stack ?? e.message) : String(e) })
  }
})
