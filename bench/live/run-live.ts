/**
 * One sweep run on the 'libp2p' network: the same RunSpec as a simulated run, carried out on a loopback cluster whose
 * replicas are separate OS processes, loaded from a separate load-generator process (bench/live/live-target.ts, as
 * `bench live`), and reported as a RunResult whose figures are in wall-clock time.
 *
 * Only what a real cluster can do without injected faults runs here: fault-free, closed loop (bench/networks.ts says
 * why the rest is skipped). The sweep has no fsync dimension; live sweep runs use the live default, 'batch'.
 */
import { loadavg } from 'node:os'
import type { AnyProtocol } from '../../core/protocol.ts'
import { isEd25519Signer } from '../../core/signers/index.ts'
import type { FsyncPolicy } from '../../core/storage/file-storage.ts'
import type { RunSpec } from '../matrix.ts'
import { liveRunSupport } from '../networks.ts'
import type { EchoFloor, RunResult } from '../figures.ts'
import { snapshotIntervalFor } from '../snapshot-interval.ts'
import { startLiveTarget, type LiveForm } from './live-target.ts'
import { workloadOf } from '../workload.ts'

export const LIVE_SWEEP_FSYNC: FsyncPolicy = 'batch'
/** The sweep measures the form `bench live` does by default: a cluster's figures, not one process's. */
export const LIVE_SWEEP_FORM: LiveForm = 'multi-process'

export async function runLiveOne(spec: RunSpec, protocol: AnyProtocol, echo: EchoFloor | null = null): Promise<RunResult> {
  const unsupported = liveRunSupport(spec.network, spec.fault, spec.mode)
  if (spec.network !== 'libp2p' || unsupported !== null) {
    throw new Error(`run ${spec.id} cannot run live: ${unsupported ?? `network ${spec.network} is simulated`}`)
  }
  // The plan maps the modelled signer to node:crypto for live runs; a spec that still names it was not planned.
  if (!isEd25519Signer(spec.signer)) throw new Error(`run ${spec.id} cannot run live with the simulator's modelled signer`)
  const signer = spec.signer
  const loadAverage = loadavg().map(x => Math.round(x * 100) / 100)
  const cluster = await startLiveTarget(protocol, {
    form: LIVE_SWEEP_FORM, loadProcesses: 1,
    protocol: spec.protocol, n: spec.n, clients: spec.clients, fsync: LIVE_SWEEP_FSYNC, signer,
    protocolOptions: { ...spec.protocolOptions }, tickMs: spec.tickMs,
    snapshotInterval: snapshotIntervalFor(protocol, spec.snapshotInterval, spec.protocolOptions, spec.n),
    requestTimeoutMs: Math.max(5000, spec.durationMs),
  })
  try {
    const connectMs = await cluster.connect(spec.clients)
    const m = await cluster.measure(spec.clients, spec.clients, { ...workloadOf(spec), seed: spec.seed })
    return {
      id: spec.id, spec, timebase: 'wall-clock', figures: m.figures, host: m.host,
      live: {
        fsync: LIVE_SWEEP_FSYNC, clientNodes: spec.clients, startMs: Math.round(cluster.startMs),
        connectMs: Math.round(connectMs), agreement: m.agreement.verdict, echo, loadAverage, form: cluster.form, processes: m.processes,
      },
    }
  } finally {
    await cluster.close()
  }
}
