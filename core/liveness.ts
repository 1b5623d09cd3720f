/**
 * The liveness verdict of a run, from its history alone (so simulated and live chaos runs are judged alike). Safety
 * checks say nothing about a cluster that stopped answering: a run whose faults healed must make progress again.
 */
import type { HistoryEvent } from './history.ts'

/**
 * Whether the run made progress: the safety checks say nothing about a cluster that stopped answering. Every run with
 * faults ends healed; afterwards every operation must complete within the bound, and few operations may have timed
 * out overall.
 */
export interface LivenessVerdict {
  readonly ok: boolean
  /** Why not, one line each. */
  readonly problems: readonly string[]
  /** Virtual time of the final heal (null for a fault-free run). */
  readonly healAt: number | null
  /** From the final heal to the first new commit by an honest replica (null if none, or no heal). */
  readonly healToFirstCommitMs: number | null
  readonly boundMs: number
  /** Operations invoked after the final heal, and how many of them completed (ok or fail) within the bound. */
  readonly afterHeal: { readonly invoked: number; readonly completedInBound: number }
  readonly timedOutShare: number
  readonly maxTimedOutShare: number
}

export interface LivenessInputs {
  readonly finished: boolean
  readonly healAt: number | null
  readonly boundMs: number
  readonly maxTimedOutShare: number
  /** Virtual or wall time of the first commit after the heal, if the caller can see commits. */
  readonly firstCommit: number | null
}

/** The liveness verdict from the history (see LivenessVerdict). */
export function judgeLiveness(history: readonly HistoryEvent[], o: LivenessInputs): LivenessVerdict {
  const problems: string[] = []
  const invokedAt = new Map<string | number, number>()
  let total = 0
  let timedOut = 0
  let afterHeal = 0
  let completedInBound = 0
  let firstLate: string | null = null
  for (const e of history) {
    if (e.type === 'invoke') {
      invokedAt.set(e.process, e.time)
      total++
      if (o.healAt !== null && e.time >= o.healAt) afterHeal++
      continue
    }
    const start = invokedAt.get(e.process)!
    if (e.type === 'info') timedOut++
    if (o.healAt === null || start < o.healAt) continue
    if (e.type !== 'info' && e.time - start <= o.boundMs) completedInBound++
    else firstLate ??= `${e.f} on ${e.key} by ${e.process} invoked at ${(start / 1000).toFixed(3)} s`
  }
  if (!o.finished) problems.push('the workload did not complete within its time bound')
  if (o.healAt !== null && completedInBound < afterHeal) {
    problems.push(`${afterHeal - completedInBound} of ${afterHeal} operations invoked after the final heal at ` +
      `${(o.healAt / 1000).toFixed(3)} s did not complete within ${o.boundMs} ms (first: ${firstLate ?? 'still pending'})`)
  }
  const timedOutShare = total === 0 ? 0 : timedOut / total
  if (timedOutShare > o.maxTimedOutShare) {
    problems.push(`${timedOut} of ${total} operations timed out (${(100 * timedOutShare).toFixed(1)}%, at most ` +
      `${(100 * o.maxTimedOutShare).toFixed(0)}% allowed)`)
  }
  return {
    ok: problems.length === 0, problems, healAt: o.healAt,
    healToFirstCommitMs: o.healAt === null || o.firstCommit === null ? null : o.firstCommit - o.healAt,
    boundMs: o.boundMs, afterHeal: { invoked: afterHeal, completedInBound }, timedOutShare, maxTimedOutShare: o.maxTimedOutShare,
  }
}

/** The verdict's line for sim, soak and chaos output. */
export function formatLiveness(l: LivenessVerdict): string {
  const heal = l.healAt === null ? 'no faults'
    : `final heal at ${(l.healAt / 1000).toFixed(3)} s, first commit ${l.healToFirstCommitMs === null ? 'never' : `${Math.round(l.healToFirstCommitMs)} ms`} later, ` +
      `${l.afterHeal.completedInBound} of ${l.afterHeal.invoked} later operations done within ${l.boundMs} ms`
  return `liveness: ${l.ok ? 'ok' : 'FAILED'} (${heal}; ${(100 * l.timedOutShare).toFixed(1)}% timed out)`
}
