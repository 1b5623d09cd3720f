/**
 * Charts of a sweep as Vega-Lite specs, rendered to SVG in Node (vega's headless renderer: no browser, no canvas).
 * Each chart takes the runs of the sweep's reference workload (the first value of every workload dimension) so lines
 * compare like with like.
 */
import * as vega from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'
import type { SweepResults } from '../sweep.ts'
import type { RunResult } from '../figures.ts'
import type { NetworkName } from '../config.ts'

export interface Chart {
  /** File name without extension. */
  readonly name: string
  readonly title: string
  readonly spec: TopLevelSpec
}

/** Runs on `network` with the first configured value of every workload dimension. */
export function referenceRuns(results: SweepResults, network?: NetworkName): RunResult[] {
  const c = results.config
  const net = network ?? c.networks.find(nw => results.runs.some(r => r.spec.network === nw))
  return results.runs.filter(r => {
    const s = r.spec
    return s.network === net && s.readRatio === c.readRatio[0] && s.valueSize === c.valueSize[0] &&
      s.keyDistribution === c.keyDistribution[0] && s.clients === c.clients[0] &&
      (s.baseline || (s.batch === c.batch[0] && s.signer === c.signers[0])) &&
      (s.rate === null || s.rate === c.rates[0])
  })
}

const WIDTH = 420
const HEIGHT = 260

/**
 * A linear axis crowds n = 4, 7, 16 into one corner when the sweep goes to 100: an axis whose values span an order of
 * magnitude or more is logarithmic (and says so in its title).
 */
export function axisScale(values: readonly number[]): { readonly scale: Record<string, unknown>; readonly log: boolean } {
  const positive = values.filter(v => v > 0)
  const log = positive.length > 0 && Math.max(...positive) / Math.min(...positive) >= 10
  return log ? { scale: { type: 'log', zero: false }, log } : { scale: { zero: false }, log }
}

function nAxis(ns: readonly number[]): Record<string, unknown> {
  const { scale, log } = axisScale(ns)
  return { field: 'n', type: 'quantitative', title: log ? 'replicas (n, log scale)' : 'replicas (n)', scale, axis: { tickMinStep: 1 } }
}

export function buildCharts(results: SweepResults): Chart[] {
  const charts: Chart[] = []
  const ref = referenceRuns(results)
  const healthy = ref.filter(r => r.spec.fault === 'none')
  const replicated = healthy.filter(r => !r.spec.baseline)
  const baseline = healthy.find(r => r.spec.baseline)

  if (replicated.length > 0) {
    const layers: object[] = [{
      data: { values: replicated.map(r => ({ protocol: r.spec.protocol, n: r.spec.n, throughput: r.figures.throughput })) },
      mark: { type: 'line', point: true },
      encoding: {
        x: nAxis(replicated.map(r => r.spec.n)),
        y: { field: 'throughput', type: 'quantitative', title: 'throughput (ops/s, virtual time)' },
        color: { field: 'protocol', type: 'nominal' },
      },
    }]
    if (baseline !== undefined) {
      layers.push({
        data: { values: [{ throughput: baseline.figures.throughput, label: `unreplicated baseline ${Math.round(baseline.figures.throughput)} ops/s` }] },
        layer: [
          { mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' }, encoding: { y: { field: 'throughput', type: 'quantitative' } } },
          { mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: 'gray' },
            encoding: { y: { field: 'throughput', type: 'quantitative' }, x: { value: 0 }, text: { field: 'label' } } },
        ],
      })
    }
    charts.push({
      name: 'throughput-vs-n', title: 'Throughput vs cluster size (no faults)',
      spec: { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: WIDTH, height: HEIGHT, layer: layers } as TopLevelSpec,
    })
  }

  if (healthy.length > 0) {
    const values = healthy.flatMap(r => (['p50', 'p90', 'p99', 'p999'] as const).map(p => ({
      run: r.spec.baseline ? `${r.spec.protocol}` : `${r.spec.protocol} n=${r.spec.n}`,
      percentile: p === 'p999' ? 'p99.9' : p, ms: r.figures.latencyMs[p],
    })))
    charts.push({
      name: 'latency-percentiles', title: 'Latency percentiles (no faults)',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: { step: 14 } as never, height: HEIGHT,
        data: { values }, mark: 'bar',
        encoding: {
          x: { field: 'run', type: 'nominal', title: null, sort: null, axis: { labelAngle: -40 } },
          xOffset: { field: 'percentile', sort: ['p50', 'p90', 'p99', 'p99.9'] },
          y: { field: 'ms', type: 'quantitative', title: 'latency (ms, virtual time)' },
          color: { field: 'percentile', type: 'ordinal', sort: ['p50', 'p90', 'p99', 'p99.9'] },
        },
      } as TopLevelSpec,
    })
  }

  const mc = results.messageComplexity
  if (mc.length > 0 || replicated.length > 0) {
    const values = [
      ...mc.map(m => ({ protocol: m.protocol, n: m.n, perOp: m.theoreticalTotal, series: 'theory (batch 1)' })),
      ...mc.map(m => ({ protocol: m.protocol, n: m.n, perOp: m.measuredTotal, series: 'measured, batch 1' })),
      ...replicated.map(r => ({ protocol: r.spec.protocol, n: r.spec.n, perOp: r.figures.messagesPerOp.total, series: 'measured under load' })),
    ]
    // PBFT's 2n(n-1) next to Raft's 2(n-1) spans orders of magnitude once n grows: log there too.
    const perOp = axisScale(values.map(v => v.perOp))
    charts.push({
      name: 'messages-vs-n', title: 'Replica-to-replica messages per committed operation vs n',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: WIDTH, height: HEIGHT, data: { values },
        layer: [
          { transform: [{ filter: "datum.series === 'theory (batch 1)'" }], mark: { type: 'line', strokeDash: [5, 3] },
            encoding: { x: nAxis(values.map(v => v.n)),
              y: { field: 'perOp', type: 'quantitative', title: perOp.log ? 'messages per operation (log scale)' : 'messages per operation', scale: perOp.scale },
              color: { field: 'protocol', type: 'nominal' } } },
          { transform: [{ filter: "datum.series !== 'theory (batch 1)'" }], mark: { type: 'point', filled: true, size: 70 },
            encoding: { x: { field: 'n', type: 'quantitative' }, y: { field: 'perOp', type: 'quantitative' },
              color: { field: 'protocol', type: 'nominal' }, shape: { field: 'series', type: 'nominal', title: 'points' } } },
        ],
      } as TopLevelSpec,
    })
  }

  const byF = ref.filter(r => !r.spec.baseline && (r.spec.fault === 'none' || r.spec.fault === 'crash-leader'))
  if (new Set(byF.map(r => r.spec.f)).size > 1) {
    const values = byF.map(r => ({
      series: `${r.spec.protocol} n=${r.spec.n}`, f: r.spec.f, throughput: r.figures.throughput, p99: r.figures.latencyMs.p99,
    }))
    const panel = (field: string, title: string) => ({
      width: 260, height: 220, mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'f', type: 'quantitative', title: 'crashed replicas (f), leader first', axis: { tickMinStep: 1 } },
        y: { field, type: 'quantitative', title }, color: { field: 'series', type: 'nominal', title: 'protocol, n' },
      },
    })
    charts.push({
      name: 'vs-f', title: 'Throughput and p99 latency vs crashed replicas f',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json', data: { values },
        hconcat: [panel('throughput', 'throughput (ops/s)'), panel('p99', 'p99 latency (ms)')],
      } as TopLevelSpec,
    })
  }

  const crashRuns = ref.filter(r => r.spec.fault === 'crash-leader' && r.spec.f === 1 && r.figures.failover !== null)
  const firstPerProtocol = new Map<string, RunResult>()
  for (const r of crashRuns) {
    const have = firstPerProtocol.get(r.spec.protocol)
    if (have === undefined || r.spec.n < have.spec.n) firstPerProtocol.set(r.spec.protocol, r)
  }
  if (firstPerProtocol.size > 0) {
    const values = [...firstPerProtocol.values()].flatMap(r => {
      const t = r.figures.timeline
      const crash = r.figures.failover!.crashAtMs
      return t.ops.map((ops, i) => ({
        series: `${r.spec.protocol} n=${r.spec.n}`, t: (i * t.bucketMs - crash) / 1000, opsPerSec: ops * 1000 / t.bucketMs,
      }))
    })
    const first = [...firstPerProtocol.values()][0]!
    const warmup = { from: -first.figures.failover!.crashAtMs / 1000,
      to: (first.figures.timeline.windowStartMs - first.figures.failover!.crashAtMs) / 1000 }
    charts.push({
      name: 'leader-crash-timeline', title: 'Throughput over time around a leader crash (t = 0)',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: WIDTH + 100, height: HEIGHT,
        layer: [
          { data: { values }, mark: { type: 'line', interpolate: 'step-after' },
            encoding: { x: { field: 't', type: 'quantitative', title: 'seconds from the crash (virtual time)' },
              y: { field: 'opsPerSec', type: 'quantitative', title: 'completed ops/s' },
              color: { field: 'series', type: 'nominal', title: 'protocol, n' } } },
          { data: { values: [warmup] }, mark: { type: 'rect', color: 'gray', opacity: 0.12 },
            encoding: { x: { field: 'from', type: 'quantitative' }, x2: { field: 'to' } } },
          { data: { values: [warmup] }, mark: { type: 'text', align: 'left', baseline: 'middle', dx: 24, color: 'gray' },
            encoding: { x: { field: 'from', type: 'quantitative' }, y: { value: HEIGHT / 2 }, text: { value: 'warm-up (excluded)' } } },
          { data: { values: [{ t: 0 }] }, mark: { type: 'rule', color: 'red', strokeDash: [3, 3] },
            encoding: { x: { field: 't', type: 'quantitative' } } },
        ],
      } as TopLevelSpec,
    })
  }

  const wan = results.runs.filter(r => r.spec.network === 'wan' && r.spec.fault === 'none' && r.figures.wan?.predictedMs != null && !r.spec.baseline)
  if (wan.length > 0) {
    const values = wan.map(r => ({
      protocol: r.spec.protocol, n: r.spec.n, measured: r.figures.latencyMs.p50, predicted: r.figures.wan!.predictedMs,
    }))
    const x = { field: 'n', type: 'ordinal', title: 'replicas (n)', axis: { labelAngle: 0 } }
    charts.push({
      name: 'wan-latency', title: 'WAN commit latency: bars predicted from the RTT matrix, dots measured p50',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: WIDTH, height: HEIGHT, data: { values },
        layer: [
          { mark: { type: 'bar', opacity: 0.35 },
            encoding: { x, xOffset: { field: 'protocol' }, y: { field: 'predicted', type: 'quantitative', title: 'commit latency (ms)' },
              color: { field: 'protocol', type: 'nominal' } } },
          { mark: { type: 'point', filled: true, size: 80 },
            encoding: { x, xOffset: { field: 'protocol' }, y: { field: 'measured', type: 'quantitative' },
              color: { field: 'protocol', type: 'nominal' } } },
        ],
      } as TopLevelSpec,
    })
  }

  const spread = results.runs.filter(r => r.spec.network === 'wan-spread' && r.spec.fault === 'none' && r.figures.wan !== null && !r.spec.baseline)
  if (spread.length > 0) {
    const values = spread.flatMap(r => r.figures.wan!.regions.filter(g => g.p50 !== null).map(g => ({
      protocol: r.spec.protocol, n: r.spec.n, keys: r.spec.keyDistribution, region: g.region, p50: g.p50,
    })))
    charts.push({
      name: 'wan-regions', title: 'Commit latency p50 by client region (clients in every region; keys hot:p = share of conflicting commands)',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json', data: { values },
        facet: { column: { field: 'keys', type: 'nominal', title: 'conflicts' }, row: { field: 'n', type: 'ordinal', title: 'n' } },
        spec: {
          width: 220, height: 160, mark: 'bar',
          encoding: {
            x: { field: 'region', type: 'nominal', title: 'client region', axis: { labelAngle: 0 } },
            xOffset: { field: 'protocol' },
            y: { field: 'p50', type: 'quantitative', title: 'commit latency p50 (ms)' },
            color: { field: 'protocol', type: 'nominal' },
          },
        },
      } as TopLevelSpec,
    })
  }
  return charts
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = compile(spec).spec
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}
