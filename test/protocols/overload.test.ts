/**
 * A cluster under overload degrades to its capacity, not below it. A slow node model (400 µs to receive a message,
 * 200 µs to send one) saturates Raft and Multi-Paxos at a few hundred outstanding operations; four times that many
 * clients must still get about the saturated throughput. What used to happen: every client sent its request again
 * after 150 ms of silence, the copies queued behind the originals, and throughput halved at 512 clients (Raft) and
 * fell to nothing at 1024. The client now waits as long as the round trips it measured need (RFC 6298, and a
 * conservative first wait), and a leader does not append a retry of a command still uncommitted in its log.
 * Virtual time: deterministic figures, no wall clock.
 */
import { describe, expect, it } from 'vitest'
import type { AnyProtocol } from '../../core/protocol.ts'
import { runId, type RunSpec } from '../../bench/matrix.ts'
import { runOne } from '../../bench/run-one.ts'
import { multipaxos } from '../../protocols/multipaxos/descriptor.ts'
import { raft } from '../../protocols/raft/descriptor.ts'

function throughput(protocol: AnyProtocol, clients: number): { throughput: number; timeouts: number } {
  const base = {
    protocol: protocol.name, baseline: false, n: 3, f: 0, fault: 'none', network: 'lan', readRatio: 0, valueSize: 16,
    keyDistribution: 'uniform', keys: 1000, clients, batch: 'default', signer: 'sim', mode: 'closed', rate: null,
    warmupMs: 2000, durationMs: 3000, maxOps: Number.MAX_SAFE_INTEGER, seed: 1, tickMs: 10, snapshotInterval: 'auto',
    cpu: 'receiveUs=400,sendUs=200', timelineBucketMs: 100, protocolOptions: {},
  } as const
  const spec: RunSpec = { id: runId(base), ...base }
  const r = runOne(spec, protocol)
  return { throughput: r.figures.throughput, timeouts: r.figures.timeouts }
}

for (const protocol of [raft, multipaxos]) {
  describe(`${protocol.name} under overload`, () => {
    it('serves four times the saturating number of clients at about its saturated throughput', () => {
      const saturated = throughput(protocol, 128)
      const overloaded = throughput(protocol, 512)
      expect(saturated.throughput).toBeGreaterThan(300)
      expect(overloaded.throughput, `128 clients: ${saturated.throughput} ops/s, 512: ${overloaded.throughput}`)
        .toBeGreaterThan(0.8 * saturated.throughput)
      expect(overloaded.timeouts).toBe(0)
    })
  })
}
