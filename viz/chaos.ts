/**
 * `consensus chaos --html`: the view of a live chaos run. Live clusters have no message trace (the history, the
 * faults and, when polled, each replica's status are what a real run gives), so the page draws the replica lines
 * with their roles and faults and says that no messages were recorded.
 */
import type { ChaosReport } from '../live/chaos.ts'
import type { SimTimeline, StatusSample, TimelineFault } from '../net/sim/timeline.ts'
import { buildRunView, type RunView } from './run-view.ts'

/** Chaos's fault notes (live/chaos.ts) as drawable faults. */
export function chaosFault(atMs: number, description: string): TimelineFault {
  const ids = (description.match(/\d+/g) ?? []).map(Number)
  if (description.startsWith('kill')) return { at: atMs, kind: 'crash', replicas: ids.slice(-1), label: description }
  if (description.startsWith('restarted')) return { at: atMs, kind: 'restart', replicas: ids.slice(0, 1), label: description }
  if (description.startsWith('partitioned')) return { at: atMs, kind: 'partition', replicas: ids, label: description }
  if (description.startsWith('healed')) return { at: atMs, kind: 'heal', replicas: [], label: description }
  if (description.startsWith('SIGSTOP')) return { at: atMs, kind: 'pause', replicas: ids.slice(0, 1), label: description }
  if (description.startsWith('SIGCONT')) return { at: atMs, kind: 'resume', replicas: ids.slice(0, 1), label: description }
  if (description.startsWith('leader ')) return { at: atMs, kind: 'transfer', replicas: ids.slice(0, 2), label: description }
  if (description.startsWith('clock of')) return { at: atMs, kind: 'clock', replicas: ids.slice(0, 1), label: description }
  return { at: atMs, kind: 'other', replicas: [], label: description }
}

export function chaosView(report: ChaosReport, title: string): RunView {
  const faults = report.faults.map(f => chaosFault(f.atMs, f.description))
  const status: StatusSample[] = report.status.map(s => ({
    at: s.atMs, replica: s.replica, role: s.role, epoch: s.epoch, leader: s.leader, commitIndex: s.commitIndex,
  }))
  const timeline: SimTimeline | null = status.length === 0 ? null : {
    replicas: report.replicas, types: [], messages: { sent: [], at: [], from: [], to: [], type: [], delivered: [] },
    messagesOmitted: 0, faults, status, endMs: report.durationMs,
  }
  return buildRunView({
    title,
    details: [`live chaos run: ${report.ops.ok} ok, ${report.ops.fail} fail, ${report.ops.info} info in `
      + `${(report.durationMs / 1000).toFixed(1)} s wall-clock; ${report.faults.length} faults`],
    history: report.history,
    check: report.check,
    faults,
    timeline,
    messagesRecorded: false,
    endMs: report.durationMs,
  })
}
