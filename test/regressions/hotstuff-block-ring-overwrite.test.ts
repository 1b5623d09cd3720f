/**
 * Red-team finding, fixed in protocols/hotstuff (this test failed before the fix).
 *
 * Bug: blocks are made durable in a ring of BLOCK_RECORD_SLOTS = 1024 log slots keyed by height
 * (protocols/hotstuff/replica.ts, insertBlock: `index: BLOCK_RECORD_BASE + (b.height % BLOCK_RECORD_SLOTS)`). The
 * comment's assumption, "a block more than 1024 heights old is committed and covered by a snapshot", does not hold:
 * heights grow by about 4 per command at low load (empty blocks carry the three-chain) while snapshots are taken per
 * applied command (every 500 by default), so committed blocks not yet covered by any snapshot are overwritten. On a
 * restart, recoverBlocks() cannot link the surviving blocks to the root (insert() refuses a block whose parent is
 * gone), the COMMITTED_KEY tip is not in the tree, and the replica restarts with an empty state machine. After an
 * outage of the whole cluster (crash-all, a nemesis fault) no replica holds the committed chain any more: every
 * acknowledged write is lost and the cluster never makes progress again (highQC's block is nowhere, so no leader can
 * propose). Durability (safety) and liveness. Same blocks share a slot also for two forks at one height.
 *
 * Seed: 1 (createSimCluster n = 4, one client, 270 sequential puts, then crash and restart every replica).
 * Replay: ./node_modules/.bin/vitest run test/regressions/hotstuff-block-ring-overwrite.test.ts
 */
import { describe, expect, it } from 'vitest'
import { encodeKvCommand } from '../../core/kv.ts'
import { createSimCluster } from '../../net/sim/cluster.ts'
import { hotstuff } from '../../protocols/hotstuff/descriptor.ts'
import type { HotStuffReplica } from '../../protocols/hotstuff/replica.ts'

describe('regression: hotstuff durable block ring overwrites committed blocks not covered by a snapshot', () => {
  it('keeps every acknowledged write and stays live across a restart of the whole cluster after > 1024 heights', () => {
    const cluster = createSimCluster({ protocol: hotstuff, n: 4, seed: 1, clients: 1 })
    cluster.sim.run(200)
    const client = cluster.clients[0]!
    const put = (key: string, value: string): boolean => {
      let ok = false
      client.submit(encodeKvCommand({ type: 'put', key, value }), false, 10_000, o => { ok = o.status === 'ok' })
      return cluster.sim.runUntil(() => ok, 10_000)
    }
    const commands = 270
    for (let i = 0; i < commands; i++) expect(put(`k${i % 5}`, `v${i}`)).toBe(true)
    cluster.sim.run(cluster.sim.now() + 1000)
    // The precondition: more than 1024 heights committed and no snapshot yet (root still genesis).
    const before = cluster.replica<HotStuffReplica>(0).debugState()
    expect(before.committedHeight).toBeGreaterThan(1024)
    expect(before.rootHeight).toBe(0)
    const stateBefore = cluster.host(0).stateMachine.snapshot()

    for (const id of [0, 1, 2, 3]) cluster.crash(id)
    cluster.sim.run(cluster.sim.now() + 500)
    for (const id of [0, 1, 2, 3]) expect(cluster.restart(id)).toBe(true)
    cluster.sim.run(cluster.sim.now() + 2000)

    // Durability: what was applied (and acknowledged) before the outage is applied again after it.
    for (const id of [0, 1, 2, 3]) expect(cluster.host(id).status().appliedIndex, `replica ${id} applied index`).toBeGreaterThanOrEqual(commands)
    expect(cluster.host(0).stateMachine.snapshot()).toEqual(stateBefore)
    // Liveness: a new command commits.
    expect(put('after', 'x')).toBe(true)
    expect(cluster.safetyViolations).toEqual([])
  }, 20_000)
})
