/**
 * Open-loop load: below capacity the cluster keeps up with the target rate; above it, latency is counted from the
 * intended send time, so queueing shows as growing latency and unfinished arrivals instead of vanishing.
 */
import { describe, expect, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'
import { registryView } from '../../bench/cli-config.ts'
import { validateSweepConfig } from '../../bench/config.ts'
import { planSweep } from '../../bench/matrix.ts'
import { runOne } from '../../bench/run-one.ts'

const crashProtocol = [...protocols.values()].find(p => p.faultModel === 'crash' && p.name !== 'unreplicated')!

function openLoop(rate: number) {
  const config = validateSweepConfig({ protocols: [crashProtocol.name], n: [3], f: [0], mode: 'open', rates: [rate],
    clients: [4], warmupMs: 300, durationMs: 600, baseline: null, messageComplexity: false }, registryView(protocols))
  const [spec] = planSweep(config, protocols).runs
  return runOne(spec!, crashProtocol).figures
}

describe('open-loop load', () => {
  it('keeps up below capacity: throughput near the target rate, nothing queued', () => {
    const f = openLoop(500)
    expect(f.throughput).toBeGreaterThan(400)
    expect(f.throughput).toBeLessThan(600)
    expect(f.unfinished).toBeLessThanOrEqual(4) // at most the operations in flight when the window closed
    expect(f.latencyMs.p99).toBeLessThan(20)
  })

  it('shows queueing above capacity instead of hiding it (no coordinated omission)', () => {
    // 4 clients at a few ms each serve about 1500 ops/s: 20000 ops/s arrivals pile up.
    const f = openLoop(20_000)
    expect(f.throughput).toBeLessThan(5000)
    expect(f.unfinished).toBeGreaterThan(1000)
    expect(f.backlog).toBeGreaterThan(1000)
    expect(f.latencyMs.p50).toBeGreaterThan(100)
    expect(f.latencyMs.max).toBeGreaterThan(500)
  })
})
