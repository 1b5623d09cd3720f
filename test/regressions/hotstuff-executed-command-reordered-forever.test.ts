/**
 * Red-team finding, fixed in protocols/hotstuff (this test failed before the fix).
 *
 * Bug: with one replica crashed (any one; f = 1 of n = 4), a single client put is ordered and applied again and again
 * forever: 4 log entries after 1 s, 21 after 5 s, 290 after 60 s, at about 360 protocol messages per second, and the
 * cluster never goes idle (the descriptor promises "an idle cluster is silent"). A timed-out replica forwards its
 * mempool (sendNewView -> Forward, protocols/hotstuff/replica.ts), and propose() re-admits a command whose seq EQUALS
 * the client's last executed seq ("a retry of the last executed command is ordered again", the `request.seq <
 * executedSeq` test in propose() and buildBatch()): a Forward sent before the command executed but received after it
 * puts the executed command back in the mempool, the next leader proposes it again, the mempool keeps a timer running
 * (hasWork), the crashed leader's view times out and forwards it again, and so on. The session table makes the
 * re-applies no-ops, so this is liveness/efficiency, not safety: unbounded log growth, perpetual view changes, and
 * every throughput/message-count figure taken with a crashed replica is inflated.
 *
 * Seed: 1 (createSimCluster n = 4, one client, replica 3 crashed, one put).
 * Replay: ./node_modules/.bin/vitest run test/regressions/hotstuff-executed-command-reordered-forever.test.ts
 */
import { describe, expect, it } from 'vitest'
import { encodeKvCommand } from '../../core/kv.ts'
import { createSimCluster } from '../../net/sim/cluster.ts'
import { hotstuff } from '../../protocols/hotstuff/descriptor.ts'

describe('regression: hotstuff re-orders an executed command forever with a crashed replica', () => {
  it('one put is applied once and the cluster goes idle', () => {
    const cluster = createSimCluster({ protocol: hotstuff, n: 4, seed: 1, clients: 1 })
    cluster.sim.run(200)
    cluster.crash(3)
    let ok = false
    cluster.clients[0]!.submit(encodeKvCommand({ type: 'put', key: 'k', value: 'v' }), false, 10_000, o => { ok = o.status === 'ok' })
    expect(cluster.sim.runUntil(() => ok, 10_000)).toBe(true)
    cluster.sim.run(cluster.sim.now() + 3000)
    const sent = cluster.network.totals().total('protocol').messages
    for (const id of [0, 1, 2]) expect(cluster.host(id).status().appliedIndex, `log entries at replica ${id}`).toBe(1)
    cluster.sim.run(cluster.sim.now() + 2000)
    expect(cluster.network.totals().total('protocol').messages - sent, 'protocol messages sent while idle').toBe(0)
    expect(cluster.safetyViolations).toEqual([])
  })
})
