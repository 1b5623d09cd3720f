/**
 * Outputs of `bench live`: the terminal summary, and results/<timestamp>-live/ with results.json, results.csv and
 * report.md. Every figure is wall-clock time on this machine.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fmt, formatTable, markdownTable } from '../output/table.ts'
import type { LiveResults, LiveRun } from './live-bench.ts'
import { etcdSection } from './etcd-report.ts'
import { DEPARTURE_FLOOR_MS, KEEP_UP_SHARE, LATENCY_DEPARTURE } from './live-curve.ts'

export const LIVE_OUTPUT_FILES = ['results.json', 'results.csv', 'report.md'] as const

/** results/<timestamp>-live under `base`. */
export function liveResultsDir(base: string, startedAt: string): string {
  return join(base, startedAt.replace(/\.\d+Z$/, 'Z').replaceAll(':', '-') + '-live')
}

/** A latency figure, or '-' when no operation issued in the window completed in it (the cluster was stalled). */
function lat(x: LiveRun, ms: number, digits: number): string {
  return x.median.latencySamples > 0 ? fmt(ms, digits) : '-'
}

function echoLine(r: LiveResults): string {
  const e = r.echo
  return `libp2p echo round trip (TCP + Noise + Yamux on 127.0.0.1, ${e.payloadBytes} B, ${e.pings} pings, same process): ` +
    `p50 ${fmt(e.p50Ms, 3)} ms, p99 ${fmt(e.p99Ms, 3)} ms`
}

function transportLine(r: LiveResults): string | null {
  const t = r.transport
  if (t === null) return null
  const perWrite = t.streamWrites > 0 ? `, ${fmt(t.messages / t.streamWrites, 1)} frames per stream write` : ''
  return `consensus transport, ${t.messages} frames of ${t.payloadBytes} B in bursts of ${t.burst} per turn: ` +
    `${fmt(t.transportMsgsPerSec, 0)} frames/s${perWrite}; bare libp2p, one stream.send() per message: ${fmt(t.bareMsgsPerSec, 0)} msgs/s ` +
    `(${fmt(t.transportMsgsPerSec / Math.max(1, t.bareMsgsPerSec), 2)}x); one frame in flight through both transports: p50 ${fmt(t.pingP50Ms, 3)} ms`
}

function repeatNote(r: LiveResults): string {
  return r.config.repeat > 1 ? `medians of ${r.config.repeat} measurements each` : 'one measurement each'
}

/** With both forms in one run, tables get a 'form' column after the fsync policy (else the form is said once). */
function formColumn(r: LiveResults): { header: string[]; cell: (x: LiveRun) => string[] } {
  return r.forms.length > 1 ? { header: ['form'], cell: x => [x.form] } : { header: [], cell: () => [] }
}

/** With more than one group count in a run, tables get a 'groups' column (else nothing changes). */
function groupsColumn(r: LiveResults): { header: string[]; cell: (x: LiveRun) => string[] } {
  return r.runs.some(x => x.groups > 1) ? { header: ['groups'], cell: x => [String(x.groups)] } : { header: [], cell: () => [] }
}

/**
 * Sharded runs (--groups): per measurement the throughput, latency, fsyncs of all replicas per committed op (one
 * group: group commit within the group; many: one shared log per replica, so the figure should not grow with the
 * groups) and the replicas' resident memory per group hosted. Empty unless a run had more than one group.
 */
export function groupRows(r: LiveResults): { header: string[]; rows: string[][] } {
  if (!r.runs.some(x => x.groups > 1)) return { header: [], rows: [] }
  return {
    header: ['protocol', 'fsync', 'n', 'groups', 'clients', 'ops/s', 'p50 ms', 'p99 ms', 'fsyncs/op', 'rss KB/group', 'timeouts', 'agreement'],
    rows: r.runs.map(x => [x.protocol, x.fsync, String(x.n), String(x.groups), String(x.clients), fmt(x.median.throughput, 0),
      lat(x, x.median.latencyMs.p50, 2), lat(x, x.median.latencyMs.p99, 2),
      x.median.fsyncsPerOp === null ? '-' : fmt(x.median.fsyncsPerOp, 3),
      x.rssPerGroupBytes === null ? '-' : fmt(x.rssPerGroupBytes / 1024, 0), fmt(x.median.timeouts, 0), x.agreement]),
  }
}

/** Single-client commit latency next to the echo floor. */
export function latencyRows(r: LiveResults): { header: string[]; rows: string[][] } {
  const single = closedLoopRuns(r).filter(x => x.clients === 1)
  const f = formColumn(r)
  return {
    header: ['protocol', 'fsync', ...f.header, 'n', 'p50 ms', 'p99 ms', 'p50 / echo p50', 'agreement'],
    rows: single.map(x => [x.protocol, x.fsync, ...f.cell(x), String(x.n), lat(x, x.median.latencyMs.p50, 3), lat(x, x.median.latencyMs.p99, 3),
      r.echo.p50Ms > 0 && x.median.latencySamples > 0 ? `${fmt(x.median.latencyMs.p50 / r.echo.p50Ms, 1)}x` : '-', x.agreement]),
  }
}

/** Throughput: one row per protocol and fsync policy, one column per client count. */
export function throughputRows(r: LiveResults): { header: string[]; rows: string[][] } {
  const closed = closedLoopRuns(r)
  const counts = [...new Set(closed.map(x => x.clients))].sort((a, b) => a - b)
  const keys = [...new Set(closed.map(x => `${x.protocol}\u0000${x.fsync}\u0000${x.form}\u0000${x.groups}`))]
  const f = formColumn(r)
  const g = groupsColumn(r)
  return {
    header: ['protocol', 'fsync', ...f.header, ...g.header, 'n', ...counts.map(c => `${c} client${c === 1 ? '' : 's'} ops/s`)],
    rows: keys.map(k => {
      const [protocol, fsync, form, groups] = k.split('\u0000') as [string, string, string, string]
      const of = closed.filter(x => x.protocol === protocol && x.fsync === fsync && x.form === form && String(x.groups) === groups)
      return [protocol, fsync, ...f.cell(of[0]!), ...g.cell(of[0]!), String(of[0]!.n), ...counts.map(c => fmt(of.find(x => x.clients === c)?.median.throughput, 0))]
    }),
  }
}

/** Runs measured closed loop (results written before open loop existed have no offeredRate: closed). */
function closedLoopRuns(r: LiveResults): LiveRun[] {
  return r.runs.filter(x => x.offeredRate == null)
}

/** With open-loop runs, tables of every measurement get an 'offered ops/s' column ('closed' for closed-loop rows). */
function offeredColumn(r: LiveResults): { header: string[]; cell: (x: LiveRun) => string[] } {
  return r.runs.some(x => x.offeredRate != null)
    ? { header: ['offered ops/s'], cell: x => [x.offeredRate == null ? 'closed' : fmt(x.offeredRate, 0)] } : { header: [], cell: () => [] }
}

/** One row per step of every throughput-latency curve. */
export function curveRows(r: LiveResults): { header: string[]; rows: string[][] } {
  return {
    header: ['curve', 'offered ops/s', 'ops/s', 'p50 ms', 'p99 ms', 'kept up'],
    rows: (r.curves ?? []).flatMap(c => c.steps.map(s => [c.id, fmt(s.offered, 0), fmt(s.throughput, 0), fmt(s.p50Ms, 2), fmt(s.p99Ms, 2),
      c.steps.indexOf(s) < c.steps.length - 1 || c.saturation === s ? 'yes' : 'no'])),
  }
}

/** Each curve's saturation point, in words. */
export function curveLines(r: LiveResults): string[] {
  return (r.curves ?? []).map(c => c.saturation === null
    ? `${c.id}: no saturation point: ${c.stoppedBecause}`
    : `${c.id}: saturation at ${fmt(c.saturation.offered, 0)} ops/s offered (${fmt(c.saturation.throughput, 0)} ops/s done, ` +
      `p99 ${fmt(c.saturation.p99Ms, 2)} ms); stopped: ${c.stoppedBecause}`)
}

export const CURVE_NOTE = 'Open loop: Poisson arrivals at the offered rate, latency from each operation\'s intended arrival (so queueing ' +
  'shows), operations unfinished at the window\'s end counted at their age; `clients` bounds what is in flight. The rate ' +
  `doubles each step; a step keeps up while at least ${KEEP_UP_SHARE * 100}% of the offered rate completes and p99 stays within ` +
  `${LATENCY_DEPARTURE}x the lowest rate's (at least +${DEPARTURE_FLOOR_MS} ms); the saturation point is the last step that kept up.`

/** Every measurement. */
export function detailRows(r: LiveResults): { header: string[]; rows: string[][] } {
  const f = formColumn(r)
  const g = groupsColumn(r)
  const o = offeredColumn(r)
  return {
    header: ['protocol', 'fsync', ...f.header, ...g.header, 'n', 'clients', ...o.header, 'nodes', 'ops/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'msgs/op', 'theory@b1',
      'timeouts', 'busy', 'cpu us/op', 'sig % cpu', 'connect ms', 'agreement'],
    rows: r.runs.map((x: LiveRun) => [x.protocol, x.fsync, ...f.cell(x), ...g.cell(x), String(x.n), String(x.clients), ...o.cell(x), String(x.clientNodes), fmt(x.median.throughput, 0),
      lat(x, x.median.latencyMs.p50, 2), lat(x, x.median.latencyMs.p99, 2), lat(x, x.median.latencyMs.p999, 2), lat(x, x.median.latencyMs.max, 2),
      fmt(x.median.messagesPerOp, 2), fmt(x.theoreticalMessagesPerOp, 0), fmt(x.median.timeouts, 0),
      x.median.requestsShed === null ? '-' : fmt(x.median.requestsShed, 0), fmt(x.median.cpuUsPerOp, 0),
      percent(x.median.signatureCpuShare ?? null), fmt(x.connectMs, 0), x.agreement]),
  }
}

/** Whether this run measured more than the default stack with direct dissemination (then it gets a stacks section). */
export function measuredStacks(r: LiveResults): boolean {
  return new Set(r.runs.map(x => `${x.stack}/${x.dissemination}`)).size > 1 ||
    r.runs.some(x => x.stack !== 'tcp+noise+yamux' || x.dissemination !== 'direct')
}

/**
 * Stacks compared per protocol: for each protocol and client count, one row per stack and dissemination, next to the
 * bare echo on that stack. Gossip columns: copies of a message that arrived per message delivered (its wire
 * amplification) and the payload bytes of all those copies per operation (bytes/op counts each message once).
 */
export function stackRows(r: LiveResults): { header: string[]; rows: string[][] } {
  const f = formColumn(r)
  const order = (x: LiveRun) => `${x.protocol}\u0000${String(x.clients).padStart(8, '0')}\u0000${x.fsync}\u0000${x.form}`
  const runs = [...r.runs].sort((a, b) => order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0)
  return {
    header: ['protocol', 'clients', 'fsync', ...f.header, 'stack', 'dissemination', 'ops/s', 'p50 ms', 'p99 ms', 'cpu us/op', 'bytes/op',
      'msgs/op', 'gossip copies/msg', 'gossip copy B/op', 'echo p50 ms', 'p50 / echo'],
    rows: runs.map(x => {
      const echo = r.echoByStack[x.stack]
      return [x.protocol, String(x.clients), x.fsync, ...f.cell(x), x.stack, x.dissemination, fmt(x.median.throughput, 0),
        lat(x, x.median.latencyMs.p50, 2), lat(x, x.median.latencyMs.p99, 2), fmt(x.median.cpuUsPerOp, 0), fmt(x.median.bytesPerOp, 0),
        fmt(x.median.messagesPerOp, 2), x.gossip === null ? '-' : fmt(x.gossip.copiesPerDelivered, 2),
        x.gossip === null ? '-' : fmt(x.gossip.copyBytesPerOp, 0), echo === undefined ? '-' : fmt(echo.p50Ms, 3),
        echo !== undefined && echo.p50Ms > 0 && x.median.latencySamples > 0 ? `${fmt(x.median.latencyMs.p50 / echo.p50Ms, 1)}x` : '-']
    }),
  }
}

const STACK_NOTE = 'Stacks: `stack` is the libp2p transport + encrypter + muxer (QUIC brings its own TLS 1.3 and muxing); ' +
  '`dissemination` direct sends a broadcast as one stream write per peer, gossipsub publishes it once on the cluster\'s topic ' +
  '(signed, StrictSign) and lets the mesh relay it. `msgs/op` and `bytes/op` count each protocol message once, where the ' +
  'sender hands it to the transport, whichever way it travels; `gossip copies/msg` is how many copies of each gossiped ' +
  'message reached a replica (duplicates included: gossip\'s amplification, over the run\'s warm-ups and windows), ' +
  '`gossip copy B/op` their payload bytes per operation. `echo p50 ms`: the bare libp2p echo on that stack.'

/** Which form was measured, in words. */
export function formNote(r: LiveResults): string {
  const multi = `Multi-process form: each replica is its own OS process (consensus node), the load comes from ` +
    `${r.config.loadProcesses} separate load-generator process${r.config.loadProcesses === 1 ? '' : 'es'}.`
  const single = 'In-process form (--in-process): replicas and clients share this one Node process and its event loop.'
  const external = `External form (--cluster ${r.config.cluster ?? ''}): a cluster already running, started outside the ` +
    `benchmark; the load comes from ${r.config.loadProcesses} load-generator process${r.config.loadProcesses === 1 ? '' : 'es'} ` +
    'on this machine. Replicas on this machine are read through their admin sockets and /proc, the others through their ' +
    'metrics endpoints (pid `remote`; no signature time and no state digest there, so agreement is `unchecked`).'
  return r.forms.map(f => f === 'in-process' ? single : f === 'external' ? external : multi).join(' ') +
    (r.forms.length > 1 ? ' Both forms were measured in this run, each protocol in one form and then the other (column form).' : '')
}

const MB = 1024 * 1024

/** A 0..1 share as a percentage, '-' when not measured. */
function percent(share: number | null): string {
  return share === null ? '-' : fmt(share * 100, 1)
}

/** Per-process figures of every measurement: CPU in the window, memory at its end, messages per operation. */
export function processRows(r: LiveResults): { header: string[]; rows: string[][] } {
  const num = (v: number | null, digits: number) => v === null ? '-' : fmt(v, digits)
  const o = offeredColumn(r)
  return {
    header: ['protocol', 'fsync', ...formColumn(r).header, 'clients', ...o.header, 'process', 'pid', 'cpu ms', 'cpu % core', 'cpu us/op', 'sig % cpu', 'rss MB', 'msgs/op'],
    rows: r.runs.flatMap(x => x.processes.map(p => [x.protocol, x.fsync, ...formColumn(r).cell(x), String(x.clients), ...o.cell(x),
      p.role === 'whole-process' ? 'whole process' : `${p.role} ${p.id}`, p.pid === null ? 'remote' : String(p.pid), num(p.cpuMs, 0), num(p.cpuPercent, 1),
      num(p.cpuUsPerOp, 0), percent(p.signatureCpuShare ?? null), p.rssBytes === null ? '-' : fmt(p.rssBytes / MB, 0), num(p.messagesPerOp, 2)])),
  }
}

function machineNote(r: LiveResults): string {
  const e = r.environment
  return `Wall-clock time on ${e.cpuCount} x ${e.cpuModel}. ${formNote(r)} ` +
    `Load average at start ${r.loadAverage.start.join(' / ')}, at end ${r.loadAverage.end.join(' / ')} (1 / 5 / 15 min): ` +
    `above ${e.cpuCount} the machine was busy with other work and the figures are correspondingly noisy.`
}

export function liveTerminalSummary(r: LiveResults, outDir: string | null): string {
  const l = latencyRows(r)
  const t = throughputRows(r)
  const d = detailRows(r)
  const lines = [echoLine(r)]
  const tl = transportLine(r)
  if (tl !== null) lines.push(tl)
  lines.push('')
  if (l.rows.length > 0) lines.push(`Single-client commit latency (wall-clock, ${repeatNote(r)}):`, formatTable(l.header, l.rows), '')
  if (t.rows.length > 0) lines.push(`Throughput (operations/s, wall-clock, closed loop, ${repeatNote(r)}):`, formatTable(t.header, t.rows), '')
  const cr = curveRows(r)
  if (cr.rows.length > 0) lines.push('Throughput-latency curves (open loop):', formatTable(cr.header, cr.rows), ...curveLines(r), '')
  lines.push(...etcdSection(r, formatTable, (title, top) => (top ? [] : [`${title}:`])))
  if (measuredStacks(r)) {
    const st = stackRows(r)
    lines.push('Stacks per protocol:', formatTable(st.header, st.rows), '')
  }
  lines.push('All measurements (busy: requests the replicas answered busy in the window, admission control shedding load; - in-process):',
    formatTable(d.header, d.rows), '')
  const g = groupRows(r)
  if (g.rows.length > 0) lines.push('Groups (fsyncs/op: all replicas\' log fsyncs per committed op; rss: replica processes\' RSS per group hosted):', formatTable(g.header, g.rows), '')
  const p = processRows(r)
  if (p.rows.length > 0) lines.push('Per process (CPU in the measured window, RSS at its end):', formatTable(p.header, p.rows), '')
  for (const x of r.runs.filter(x => x.agreement === 'diverged')) lines.push(`REPLICAS DIVERGED in ${x.id}`)
  lines.push(machineNote(r))
  lines.push(`${r.runs.length} combinations in ${(r.wallMs / 1000).toFixed(1)} s wall` + (outDir !== null ? `; results in ${outDir}` : ''))
  return lines.join('\n') + '\n'
}

export function liveMarkdown(r: LiveResults): string {
  const c = r.config
  const out: string[] = [r.forms.includes('external') ? '# Live benchmark over libp2p' : '# Live benchmark over libp2p on loopback', '']
  out.push(`Started ${r.startedAt}; ${r.runs.length} combinations in ${(r.wallMs / 1000).toFixed(1)} s. Node ${r.environment.node}; ` +
    `commit ${r.environment.commit ?? 'unknown'}${r.environment.dirty === true ? ' (with uncommitted changes)' : ''}.`, '')
  out.push(machineNote(r), '')
  out.push(`Each combination: a fresh cluster per protocol and fsync policy (` +
    r.forms.map(f => f === 'in-process' ? 'replicas in this process, one libp2p node each, file storage in a temporary folder'
      : f === 'external' ? `the running cluster of ${c.cluster ?? ''}, its own storage`
        : 'each replica a `consensus node` process, load from separate processes, file storage in a temporary folder').join('; or ') +
    `), then for each client count its own ${c.warmupMs} ms warm-up (excluded) and ` +
    `${c.durationMs} ms measured window, closed loop, writes of ${c.valueSize} B values over ${c.keys} keys; ` +
    `${repeatNote(r)}. ` + (c.clientNodes === null ? 'Every client is its own libp2p node and client id with one request outstanding.'
      : `"clients" are outstanding operations, carried by at most ${c.clientNodes} client node(s), each pipelining its share over one connection per replica.`), '')
  out.push('## Floor', '', echoLine(r) + '.', '')
  const tl = transportLine(r)
  if (tl !== null) out.push(tl + '.', '')
  const l = latencyRows(r)
  if (l.rows.length > 0) out.push('## Single-client commit latency', '', markdownTable(l.header, l.rows), '')
  const t = throughputRows(r)
  if (t.rows.length > 0) out.push('## Throughput', '', markdownTable(t.header, t.rows), '')
  const cr = curveRows(r)
  if (cr.rows.length > 0) {
    out.push('## Throughput-latency curves', '', markdownTable(cr.header, cr.rows), '', ...curveLines(r).map(l => `- ${l}`), '', CURVE_NOTE, '')
  }
  out.push(...etcdSection(r, markdownTable, (title, top) => (top ? [`## ${title}`, ''] : [`${title}:`, ''])))
  if (measuredStacks(r)) {
    const st = stackRows(r)
    out.push('## Stacks per protocol', '', markdownTable(st.header, st.rows), '', STACK_NOTE, '')
    out.push('Bare libp2p echo per stack: ' + Object.entries(r.echoByStack)
      .map(([name, e]) => `${name} p50 ${fmt(e.p50Ms, 3)} ms, p99 ${fmt(e.p99Ms, 3)} ms`).join('; ') + '.', '')
  }
  const d = detailRows(r)
  out.push('## All measurements', '', markdownTable(d.header, d.rows), '')
  const g = groupRows(r)
  if (g.rows.length > 0) {
    out.push('## Groups', '', markdownTable(g.header, g.rows), '', '`fsyncs/op`: log fsyncs of every replica in the window per ' +
      'committed operation (the groups of a replica share its log); `rss KB/group`: the replica processes\' resident memory at ' +
      'the window\'s end, summed, per group each hosts.', '')
  }
  const p = processRows(r)
  if (p.rows.length > 0) out.push('## Per process', '', markdownTable(p.header, p.rows), '')
  out.push('`msgs/op`: replica-to-replica messages per completed operation, counted at the libp2p transports of the replicas ' +
    '(per process: the messages that replica sent); ' +
    '`cpu us/op`: CPU time of every process of the run (replicas and load generators, or the one shared process) per operation, ' +
    'read from /proc/<pid>/stat at the edges of the measured window; `sig % cpu`: the share of the replicas\' CPU time ' +
    '(per process: of that replica\'s) spent inside Ed25519 sign and verify calls, measured as the thread CPU time inside those calls (core/signers/timed.ts; multi-process form only); `rss MB`: resident memory at the window\'s end; `connect ms`: time for the client ' +
    'nodes added at this count to complete their first write (excluded from the figures); `agreement`: after each ' +
    'measurement every replica applied the same index and holds byte-identical state (`unchecked`: they did not reach ' +
    'the same index within 3 s).', '')
  out.push('## Configuration', '', '```json', JSON.stringify(c, null, 2), '```', '')
  return out.join('\n')
}

function cell(v: string | number): string {
  const s = String(v)
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

export function liveCsv(r: LiveResults): string {
  const header = ['id', 'protocol', 'n', 'fsync', 'clients', 'client_nodes', 'repeats', 'throughput_ops_s', 'latency_p50_ms', 'latency_p90_ms',
    'latency_p99_ms', 'latency_p999_ms', 'latency_max_ms', 'latency_mean_ms', 'messages_per_op', 'theoretical_messages_per_op',
    'bytes_per_op', 'timeouts', 'cpu_us_per_op', 'signature_cpu_share', 'connect_ms', 'agreement', 'echo_p50_ms', 'echo_p99_ms', 'groups',
    'fsyncs_per_op', 'rss_per_group_bytes', 'form', 'stack', 'dissemination', 'gossip_copies_per_message', 'gossip_copy_bytes_per_op', 'offered_ops_s', 'requests_shed']
  const rows = r.runs.map(x => [x.id, x.protocol, x.n, x.fsync, x.clients, x.clientNodes, x.samples.length, x.median.throughput,
    x.median.latencyMs.p50, x.median.latencyMs.p90, x.median.latencyMs.p99, x.median.latencyMs.p999, x.median.latencyMs.max,
    x.median.latencyMs.meanMs, x.median.messagesPerOp, x.theoreticalMessagesPerOp, x.median.bytesPerOp, x.median.timeouts,
    x.median.cpuUsPerOp, x.median.signatureCpuShare ?? '', x.connectMs, x.agreement, r.echoByStack[x.stack]?.p50Ms ?? r.echo.p50Ms,
    r.echoByStack[x.stack]?.p99Ms ?? r.echo.p99Ms, x.groups, x.median.fsyncsPerOp ?? '', x.rssPerGroupBytes ?? '', x.form, x.stack,
    x.dissemination, x.gossip?.copiesPerDelivered ?? '', x.gossip?.copyBytesPerOp ?? '', x.offeredRate ?? '', x.median.requestsShed ?? ''])
  return [header.join(','), ...rows.map(row => row.map(cell).join(','))].join('\n') + '\n'
}

export function writeLiveResults(r: LiveResults, dir: string): string[] {
  mkdirSync(dir, { recursive: true })
  const files: [string, string][] = [
    ['results.json', JSON.stringify(r, null, 2) + '\n'], ['results.csv', liveCsv(r)], ['report.md', liveMarkdown(r)],
  ]
  for (const [name, text] of files) writeFileSync(join(dir, name), text)
  return files.map(([name]) => name)
}
