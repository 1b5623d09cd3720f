/**
 * report.md: environment, configuration, the summary table, messages against theory, failover, the WAN latency tax,
 * retained heap against n, host measurements, and what was skipped. Charts are linked as the SVG files beside it.
 */
import type { SweepResults } from '../sweep.ts'
import type { Chart } from './charts.ts'
import { CAP_TITLE, capExplanation, capTable } from './cap-section.ts'
import { fmt, markdownTable, summaryRows } from './table.ts'
import { wanRegionsTable } from './wan-regions.ts'
import { MEMORY_EXPLANATION, MEMORY_TITLE, memoryTable } from './memory-section.ts'
import { retainedKiB } from './rows.ts'

export function messagesTable(results: SweepResults): { header: string[]; rows: string[][] } {
  const header = ['protocol', 'n', 'measured msgs/op (batch 1)', 'theory', 'by type (measured / theory)']
  const rows = results.messageComplexity.map(m => [
    m.protocol, String(m.n), fmt(m.measuredTotal, 3), fmt(m.theoreticalTotal, 0),
    Object.keys(m.theoretical).map(t => `${t} ${fmt(m.measured[t], 3)} / ${m.theoretical[t]}`).join(', '),
  ])
  return { header, rows }
}

export function toMarkdown(results: SweepResults, charts: readonly Chart[]): string {
  const e = results.environment
  const c = results.config
  const out: string[] = []
  out.push('# Benchmark report', '')
  out.push(`Started ${results.startedAt}; ${results.runs.length} runs in ${(results.wallMs / 1000).toFixed(1)} s of wall-clock time` +
    (results.preset !== null ? ` (preset \`${results.preset}\`)` : '') + '.', '')
  out.push(`Node ${e.node} on ${e.platform}/${e.arch}, ${e.cpuCount} x ${e.cpuModel}, ` +
    `${Math.round(e.totalMemoryBytes / 2 ** 30)} GiB; commit ${e.commit ?? 'unknown'}${e.dirty === true ? ' (with uncommitted changes)' : ''}.`, '')
  out.push('All figures except the host measurements come from the deterministic simulator in virtual time: the same ' +
    `seed (${c.seed}) and configuration give the same figures. Warm-up of ${c.warmupMs} ms excluded; measured window ` +
    `${c.durationMs} ms (fault-free runs stop early at ${c.maxOps} operations); ${c.mode} loop` +
    (c.mode === 'open' ? ` at ${c.rates.join(', ')} ops/s, latency from the intended send time` : '') + '. ' +
    (c.cpu === 'none'
      ? 'Processing time is not modelled (`--cpu none`): nodes work in zero virtual time, so throughput reflects network delay only.'
      : `Processing time is modelled (\`--cpu ${c.cpu}\`, net/sim/cpu.ts): each node is a single server charged per message, ` +
        'per byte and per signature, so throughput saturates at the busiest node.'), '')

  const live = results.runs.filter(r => r.timebase === 'wall-clock')
  if (live.length > 0) {
    const echo = live.find(r => r.live?.echo != null)?.live?.echo
    out.push(`**Except** the ${live.length} run${live.length === 1 ? '' : 's'} on network \`libp2p\` (column \`time\` = wall-clock): ` +
      'real clusters on 127.0.0.1, each replica its own OS process and the load from a separate process (TCP + Noise + Yamux, file storage with fsync `batch`), measured in ' +
      'wall-clock time on this machine. They are not reproducible and vary with whatever else the machine runs; set them ' +
      'beside the simulated figures as an order of magnitude, not a match.' +
      (echo != null ? ` Bare libp2p echo round trip (one process): p50 ${fmt(echo.p50Ms, 3)} ms, p99 ${fmt(echo.p99Ms, 3)} ms.` : ''), '')
  }
  out.push('## Summary', '')
  const s = summaryRows(results)
  out.push(markdownTable(s.header, s.rows), '')
  out.push('`msgs/op` counts replica-to-replica messages per completed operation in the measured window (under load ' +
    'batching brings it below the batch-size-1 theory); `failover` is the virtual time from the leader crash to the ' +
    'first completed operation issued after it; `sig cpu %` is the share of the modelled processing time spent signing and verifying; ' +
    '`cpu us/op` is the host CPU time the simulator itself spent per operation ' +
    '(a measurement of this machine, not a simulated figure).', '')

  for (const chart of charts) out.push(`### ${chart.title}`, '', `![${chart.title}](${chart.name}.svg)`, '')

  if (results.messageComplexity.length > 0) {
    out.push('## Messages per command at batch size 1 vs theory', '')
    const m = messagesTable(results)
    out.push(markdownTable(m.header, m.rows), '')
  }

  const failovers = results.runs.filter(r => r.figures.failover !== null)
  if (failovers.length > 0) {
    out.push('## Leader failover', '')
    out.push('`failover`: from the crash to the first completed operation issued after it (new work commits again); ' +
      '`first commit`: from the crash to the first commit index beyond those committed at the crash (work already in ' +
      'flight may still commit without the leader).', '')
    out.push(markdownTable(['protocol', 'n', 'f', 'crashed', 'failover ms', 'first commit ms', 'longest gap ms', 'p99.9 ms'], failovers.map(r => {
      const fo = r.figures.failover!
      return [r.spec.protocol, String(r.spec.n), String(r.spec.f), fo.crashed.join(', ') + (fo.leader === null ? ' (no leader at crash)' : ''),
        fmt(fo.failoverMs, 0), fmt(fo.firstCommitMs, 0), fmt(r.figures.maxGapMs, 0), fmt(r.figures.latencyMs.p999, 1)]
    })), '')
  }

  const wan = results.runs.filter(r => r.spec.network === 'wan' && r.figures.wan?.predictedMs != null && !r.spec.baseline)
  if (wan.length > 0) {
    out.push('## WAN latency tax', '')
    out.push('Replica i sits in region i mod 3 (us-east, us-west, eu-west); clients in us-east. Predicted: the client\'s ' +
      'round trip to the leader plus the leader\'s round trip to the farthest member of the nearest majority (crash-fault ' +
      'protocols), or the PBFT message pattern (Byzantine ones), from the RTT matrix alone.', '')
    out.push(markdownTable(['protocol', 'n', 'f', 'leader', 'predicted ms', 'measured p50 ms', 'difference ms', 'model'], wan.map(r => {
      const w = r.figures.wan!
      return [r.spec.protocol, String(r.spec.n), String(r.spec.f), String(w.leader), fmt(w.predictedMs, 1), fmt(r.figures.latencyMs.p50, 1),
        fmt(r.figures.latencyMs.p50 - w.predictedMs!, 1), w.model]
    })), '')
  }

  if (results.linearizabilityCost !== undefined) {
    const cap = results.linearizabilityCost
    out.push(`## ${CAP_TITLE}`, '', capExplanation(cap), '')
    const t = capTable(cap)
    out.push(markdownTable(t.header, t.rows), '')
  }

  const regions = wanRegionsTable(results)
  if (regions !== null) {
    out.push('## Commit latency by client region', '')
    out.push('Replica i sits in region i mod 3, client i in region i mod 3 (`--network wan-spread`). Leader-based protocols ' +
      'send every command to the leader, so clients outside its region pay the round trip to it; a leaderless protocol ' +
      'commits at the nearest replica (EPaxos\' claim: no extra round trip to a distant leader) as long as commands do not ' +
      'conflict. `keys hot:p`: a share p of the commands touch one key every client shares (the EPaxos evaluation\'s ' +
      'conflict rate), the rest keys of their own client. Predicted: from the RTT matrix alone, for protocols with a leader.', '')
    out.push(markdownTable(regions.header, regions.rows), '')
  }

  const memory = memoryTable(results)
  if (memory !== null) {
    out.push(`## ${MEMORY_TITLE}`, '', MEMORY_EXPLANATION, '')
    out.push(markdownTable(memory.header, memory.rows), '')
  }

  out.push('## Host measurements', '')
  out.push('Measured on this machine (vary between runs; not part of the reproducible figures).', '')
  out.push(markdownTable(['run', 'wall s', 'cpu user s', 'cpu sys s', 'peak RSS MiB', 'peak heap MiB', 'retained heap KiB', 'sim deliveries/s', 'sim ops/s'],
    results.runs.map(r => [r.id, fmt(r.host.wallMs / 1000, 2), fmt(r.host.cpuUserMs / 1000, 2), fmt(r.host.cpuSystemMs / 1000, 2),
      fmt(r.host.peakRssBytes / 2 ** 20, 0), fmt(r.host.peakHeapBytes / 2 ** 20, 0), fmt(retainedKiB(r), 0),
      fmt(r.host.deliveriesPerSec, 0), fmt(r.host.opsPerSec, 0)])), '')

  if (results.skipped.length > 0) {
    out.push('## Skipped', '')
    for (const s of results.skipped) out.push(`- ${s.what}: ${s.reason}`)
    out.push('')
  }
  out.push('## Configuration', '', '```json', JSON.stringify(c, null, 2), '```', '')
  return out.join('\n')
}
