/**
 * Replica-to-replica messages per committed command in steady state, measured at the transport's counters and set
 * next to the protocol's theoretical count. One client with one outstanding request gives batch size 1.
 */
import { encodeKvCommand } from '../core/kv.ts'
import type { AnyProtocol } from '../core/protocol.ts'
import { createSimCluster } from '../net/sim/cluster.ts'

export interface MessageComplexity {
  readonly protocol: string
  readonly n: number
  readonly commands: number
  /** Measured messages per committed command, by the types the theory counts. */
  readonly measured: Readonly<Record<string, number>>
  readonly theoretical: Readonly<Record<string, number>>
  readonly measuredTotal: number
  readonly theoreticalTotal: number
  /** Every replica-to-replica type seen in the window (heartbeats etc. included), per command. */
  readonly allTypes: Readonly<Record<string, number>>
}

export function measureMessagesPerCommand(
  protocol: AnyProtocol, n: number, options: { seed?: number; commands?: number; warmup?: number;
    protocolOptions?: Record<string, unknown>; snapshotInterval?: number } = {},
): MessageComplexity {
  const commands = options.commands ?? 200
  const cluster = createSimCluster({
    protocol, n, seed: options.seed ?? 1, clients: 1,
    ...(options.protocolOptions !== undefined ? { protocolOptions: options.protocolOptions } : {}),
    // PBFT checkpoints on the host's snapshots: past its watermark window it stalls without them.
    ...(options.snapshotInterval !== undefined ? { snapshotInterval: options.snapshotInterval } : {}),
    network: { latency: { kind: 'constant', ms: 0.5 } },
  })
  const client = cluster.clients[0]!
  const runOne = (i: number) => {
    let done = false
    client.submit(encodeKvCommand({ type: 'put', key: `k${i % 4}`, value: `v${i}` }), false, 60_000, outcome => {
      if (outcome.status !== 'ok') throw new Error(`${protocol.name}: command ${i} timed out in a fault-free run`)
      done = true
    })
    if (!cluster.sim.runUntil(() => done, 120_000)) throw new Error(`${protocol.name}: command ${i} did not complete`)
  }
  // Warm up: leader elected, first entries of its term committed.
  cluster.sim.run(2000)
  for (let i = 0; i < (options.warmup ?? 20); i++) runOne(i)
  const stats = cluster.replicaStats()
  const before = new Map([...stats.byType('protocol')].map(([t, c]) => [t, c.messages]))
  for (let i = 0; i < commands; i++) runOne(1000 + i)
  // Let the last command's trailing messages (e.g. Raft's AppendEntriesResponse) arrive, but less than a heartbeat.
  cluster.sim.run(cluster.sim.now() + 2)
  const after = cluster.replicaStats().byType('protocol')
  const theoretical = protocol.theoreticalMessages(n)
  const measured: Record<string, number> = {}
  const allTypes: Record<string, number> = {}
  for (const [type, c] of after) {
    const perCommand = (c.messages - (before.get(type) ?? 0)) / commands
    allTypes[type] = perCommand
    if (type in theoretical) measured[type] = perCommand
  }
  for (const type of Object.keys(theoretical)) measured[type] ??= 0
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0)
  return { protocol: protocol.name, n, commands, measured, theoretical, measuredTotal: sum(measured), theoreticalTotal: sum(theoretical), allTypes }
}
