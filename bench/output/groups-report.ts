/**
 * The groups benchmark's outputs: a table per run (terminal and Markdown), a chart of throughput against groups per
 * protocol (log axis when groups span an order of magnitude), and the results folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TopLevelSpec } from 'vega-lite'
import type { GroupsBenchResults, GroupsRow } from '../groups.ts'
import { axisScale, renderSvg } from './charts.ts'
import { fmt, formatTable, markdownTable } from './table.ts'

const HEADER = ['protocol', 'groups', 'ops/s', 'x 1 group', 'p50 ms', 'p99 ms', 'msgs/op', 'wire/op', 'fsyncs/op',
  'idle msgs/s/group', 'idle wire/s', 'leaders per node', 'heap/group KiB', 'crash: led, median/max ms']

function rows(results: GroupsBenchResults): string[][] {
  const base = new Map<string, GroupsRow>()
  for (const r of results.rows) if (!base.has(r.protocol) || r.groups < base.get(r.protocol)!.groups) base.set(r.protocol, r)
  return results.rows.map(r => {
    const one = base.get(r.protocol)!
    const f = r.failover
    return [
      r.protocol, String(r.groups), fmt(r.opsPerSec, 0), one.opsPerSec > 0 ? `${(r.opsPerSec / one.opsPerSec).toFixed(2)}x` : '-',
      fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), fmt(r.protocolMessagesPerOp, 3), fmt(r.wireFramesPerOp, 3), fmt(r.fsyncsPerOp, 3),
      fmt(r.idleMessagesPerSecPerGroup, 0), fmt(r.idleWireFramesPerSec, 0), r.leadersPerNode.join('/'),
      r.heapBytesPerGroup === null ? '-' : fmt(r.heapBytesPerGroup / 1024, 0),
      f === null ? '-' : `${f.recovered}/${f.groupsLed}, ${fmt(f.medianMs, 0)}/${fmt(f.maxMs, 0)}`,
    ]
  })
}

function setting(results: GroupsBenchResults): string {
  const o = results.options
  return `${o.nodes} nodes, ${o.replication ?? o.nodes} replicas per group, ${o.clients} closed-loop clients over ${o.keys} keys ` +
    `(${Math.round(o.readRatio * 100)}% reads), CPU model receive ${o.cpu.receiveUs} us / send ${o.cpu.sendUs} us / ` +
    `${o.cpu.perByteNs} ns per byte, fsync ${o.fsyncMs} ms, ${o.warmupMs} ms warm-up, ${o.durationMs} ms measured, seed ${o.seed}` +
    `${o.coalesce ? '' : ', coalescing off'}` +
    (Object.keys(o.protocolOptions).length === 0 ? '' : `, options ${Object.entries(o.protocolOptions).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`)
}

export function groupsTerminalSummary(results: GroupsBenchResults, dir: string | null): string {
  return `${setting(results)}\n\n${formatTable(HEADER, rows(results))}\n` + (dir === null ? '' : `\nresults in ${dir}\n`)
}

export function groupsMarkdown(results: GroupsBenchResults, command: string): string {
  return [
    '# Multi-group: throughput, cost and failover against the number of groups', '',
    `\`${command}\``, '', setting(results) + '.', '',
    markdownTable(HEADER, rows(results)), '',
    'msgs/op counts protocol messages as each group\'s transport sends them; wire/op counts the node-to-node frames ' +
    'they travel in (frames for one peer in one turn are coalesced). fsyncs/op counts fsyncs of the nodes\' shared ' +
    `logs. The CPU model charges a wire frame once and each further group frame in it ${results.innerFrameShare} of a ` +
    'frame\'s fixed cost (the protocol step; the transport part is saved): an assumption, not a measurement. ' +
    'Heap per group is this machine\'s JavaScript heap after a forced collection (a host figure); everything else is ' +
    'virtual time and counters, the same for the same seed. The crash column: node 0 crashes a quarter into the ' +
    'window; of the groups it led, how many committed again under a new leader, and how long that took.', '',
  ].join('\n')
}

export function throughputChart(results: GroupsBenchResults): TopLevelSpec {
  const values = results.rows.map(r => ({ protocol: r.protocol, groups: r.groups, throughput: r.opsPerSec }))
  const x = axisScale(values.map(v => v.groups))
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: 420, height: 260,
    data: { values }, mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'groups', type: 'quantitative', title: `groups${x.log ? ' (log scale)' : ''}`, scale: x.scale },
      y: { field: 'throughput', type: 'quantitative', title: 'throughput (ops/s, virtual time)' },
      color: { field: 'protocol', type: 'nominal' },
    },
  } as TopLevelSpec
}

/** results.json, report.md and throughput-vs-groups.svg in `dir`. */
export async function writeGroupsResults(results: GroupsBenchResults, dir: string, command: string): Promise<void> {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'results.json'), JSON.stringify(results, null, 2) + '\n')
  writeFileSync(join(dir, 'report.md'), groupsMarkdown(results, command) + '\n![throughput vs groups](throughput-vs-groups.svg)\n')
  writeFileSync(join(dir, 'throughput-vs-groups.svg'), await renderSvg(throughputChart(results)))
}
