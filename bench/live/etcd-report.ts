/**
 * The etcd baseline in the `bench live` reports (report.ts): the side-by-side table (etcd and every protocol at each
 * client count, with the throughput ratio), every comparison with both ratios, and etcd's own measurements with each
 * member's CPU time and peak memory. Ratios are protocol / etcd: above 1 the protocol is faster for throughput,
 * below 1 it is faster for latency.
 */
import { fmt } from '../output/table.ts'
import type { EtcdRun } from './etcd-baseline.ts'
import type { LiveResults, LiveRun } from './live-bench.ts'

interface Table { header: string[]; rows: string[][] }

const ratio = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${fmt(x, 2)}x`)
const etcdLat = (e: EtcdRun, ms: number, digits: number) => (e.median.latencySamples > 0 ? fmt(ms, digits) : '-')
const runLat = (x: LiveRun, ms: number, digits: number) => (x.median.latencySamples > 0 ? fmt(ms, digits) : '-')
const mb = (bytes: number) => fmt(bytes / (1 << 20), 0)

/** What the baseline was, in one sentence (or why it is not there). */
export function etcdLine(r: LiveResults): string | null {
  const b = r.baseline
  if (b === null) return null
  if (b.status !== 'measured') return b.message ?? `etcd baseline ${b.status}`
  return `etcd ${b.version ?? '(version unknown)'} (${b.binary}) as the baseline, a local cluster of each protocol's n on ` +
    `127.0.0.1, data on the same disk as the protocols' WALs; ${b.durability}; ${b.target}; the same closed-loop workload ` +
    `(keys, values, seed, outstanding operations, warm-up, window, timeout) as the protocols; ${b.pairing}` +
    (b.runs.length === 0 ? '; nothing measured' : '')
}

/** One row per etcd measurement (n, client count); one column per protocol and fsync policy of that n. */
export function etcdSideBySideRows(r: LiveResults): Table | null {
  const b = r.baseline
  if (b === null || b.runs.length === 0) return null
  const columns = [...new Set(r.runs.map(x => `${x.protocol}\u0000${x.fsync}`))]
  return {
    header: ['n', 'clients', 'etcd ops/s (p50 ms)', ...columns.map(k => { const [p, f] = k.split('\u0000'); return `${p} fsync ${f}: ops/s (p50 ms) vs etcd` })],
    rows: b.runs.map(e => [String(e.n), String(e.clients), `${fmt(e.median.throughput, 0)} (${etcdLat(e, e.median.latencyMs.p50, 2)})`,
      ...columns.map(k => {
        const [p, f] = k.split('\u0000')
        const x = r.runs.find(x => x.protocol === p && x.fsync === f && x.n === e.n && x.clients === e.clients)
        if (x === undefined) return '-'
        const c = b.comparisons.find(c => c.protocolRun === x.id)
        return `${fmt(x.median.throughput, 0)} (${runLat(x, x.median.latencyMs.p50, 2)}) ${ratio(c?.throughputRatio)}`
      })]),
  }
}

/** Every protocol run beside the etcd measurements paired with it (taken right before each of its samples). */
export function etcdComparisonRows(r: LiveResults): Table | null {
  const b = r.baseline
  if (b === null || b.comparisons.length === 0) return null
  return {
    header: ['protocol', 'fsync', 'n', 'clients', 'ops/s', 'paired etcd ops/s', 'ops/s / etcd', 'p50 ms', 'etcd p50 ms', 'p50 / etcd',
      'p99 ms', 'etcd p99 ms', 'timeouts', 'etcd timeouts'],
    rows: b.comparisons.map(c => {
      const x = r.runs.find(x => x.id === c.protocolRun)!
      return [x.protocol, x.fsync, String(x.n), String(x.clients), fmt(x.median.throughput, 0), fmt(c.etcdThroughput, 0),
        ratio(c.throughputRatio), runLat(x, x.median.latencyMs.p50, 2), fmt(c.etcdP50Ms, 2), ratio(c.p50Ratio),
        runLat(x, x.median.latencyMs.p99, 2), fmt(c.etcdP99Ms, 2), fmt(x.median.timeouts, 0), fmt(c.etcdTimeouts, 0)]
    }),
  }
}

/** etcd's own measurements, with each member process's CPU time over the window and peak resident memory. */
export function etcdDetailRows(r: LiveResults): Table | null {
  const b = r.baseline
  if (b === null || b.runs.length === 0) return null
  return {
    header: ['n', 'clients', 'ops/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'timeouts', 'etcd cpu us/op', 'client cpu us/op',
      'cpu ms per member', 'peak RSS MB per member', 'connect ms'],
    rows: b.runs.map(e => [String(e.n), String(e.clients), fmt(e.median.throughput, 0), etcdLat(e, e.median.latencyMs.p50, 2),
      etcdLat(e, e.median.latencyMs.p99, 2), etcdLat(e, e.median.latencyMs.p999, 2), etcdLat(e, e.median.latencyMs.max, 2),
      fmt(e.median.timeouts, 0), fmt(e.median.serverCpuUsPerOp, 0), fmt(e.median.clientCpuUsPerOp, 0),
      e.median.members.map(m => fmt(m.cpuMs, 0)).join(' / '), e.median.members.map(m => mb(m.peakRssBytes)).join(' / '),
      fmt(e.connectMs, 0)]),
  }
}

export const ETCD_COLUMNS_NOTE = '`ops/s / etcd`: the protocol\'s throughput over that of the etcd measurements paired with it ' +
  '(taken right before each of its samples, same n, outstanding operations and seed; above 1: the protocol is ahead); ' +
  '`p50 / etcd`: its median latency over theirs (below 1: the protocol is ahead). In the first table the etcd column is ' +
  'the median of every etcd measurement at that n and count, so a ratio there may differ from dividing the two columns. ' +
  '`etcd cpu us/op`: CPU time of all etcd member processes over the measured window (/proc/<pid>/stat) per operation; ' +
  '`client cpu us/op`: the bench process driving etcd; `peak RSS`: each member\'s VmHWM (/proc/<pid>/status).'

/**
 * The baseline's part of a report, as lines: a sentence on what etcd was, then the three tables. `table` and `heading`
 * make it terminal text or Markdown.
 */
export function etcdSection(r: LiveResults, table: (header: string[], rows: string[][]) => string,
  heading: (title: string, top: boolean) => string[]): string[] {
  const line = etcdLine(r)
  if (line === null) return []
  const out = [...heading('Side by side with etcd', true), line + '.', '']
  const parts: [string, Table | null][] = [
    ['Throughput (p50) at each number of outstanding operations, and protocol / etcd throughput', etcdSideBySideRows(r)],
    ['Every protocol run beside the etcd measurements paired with it', etcdComparisonRows(r)],
    ['etcd measurements', etcdDetailRows(r)],
  ]
  for (const [title, t] of parts) if (t !== null) out.push(...heading(title, false), table(t.header, t.rows), '')
  if (r.baseline!.runs.length > 0) out.push(ETCD_COLUMNS_NOTE, '')
  return out
}
