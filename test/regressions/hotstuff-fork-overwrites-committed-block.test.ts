/**
 * Red-team finding, fixed in protocols/hotstuff (this test failed before the fix).
 *
 * Bug: a block's durable record lives in the log slot of its HEIGHT (protocols/hotstuff/replica.ts, insertBlock:
 * `index: BLOCK_RECORD_BASE + (b.height % BLOCK_RECORD_SLOTS)`, "replacing any record there"), and onProposal /
 * acceptProposal insert (and persist) any validly signed block whose parent is held, before safeNode is consulted and
 * without checking that it extends the committed chain (only `b.view <= root.view` is refused, the snapshot root, not
 * the committed tip). So a fork block at height h (a Byzantine leader's, or an honest one arriving late, relayed,
 * reordered, or a Twins/equivocation sibling) overwrites the durable record of the COMMITTED block at height h. After
 * a restart recoverBlocks() cannot link anything above h (BlockTree.insert refuses orphans), the COMMITTED_KEY tip is
 * not in the tree, and the replica comes back having forgotten committed blocks it acknowledged (applied index 0).
 * When every replica is hit (crash-all, a nemesis fault) the committed chain is gone cluster-wide: acknowledged writes
 * are lost and the cluster never commits again. Found by the soak: seed 107, n = 7 (chain on disk of replica 0 breaks
 * at height 166; after the crash-all at 7.25 s every replica has committedHeight 0 and nothing commits again):
 *   npm run sim -- --protocol hotstuff --n 7 --seed 107 --ops 200 --clients 5 --faults 'nemesis' --fault-window 8000 --byzantine 1=equivocate,3=twins
 * This test is the minimal deterministic form (hand-built signed proposals, one replica, one restart).
 * Replay: ./node_modules/.bin/vitest run test/regressions/hotstuff-fork-overwrites-committed-block.test.ts
 */
import { describe, expect, it } from 'vitest'
import { EMPTY_DURABLE_STATE, type DurableState } from '../../core/storage.ts'
import { GENESIS_QC } from '../../protocols/hotstuff/replica.ts'
import { blockHash, hashKey } from '../../protocols/hotstuff/signing.ts'
import { applyPersist, Fixture } from '../hotstuff/fixtures.ts'

describe('regression: hotstuff fork block overwrites the durable record of a committed block', () => {
  it('a restarted replica still holds (and has applied) the blocks it committed before a fork proposal arrived', () => {
    const fx = new Fixture(4)
    const a = fx.block(1, null, [fx.request(1)])
    const c = fx.block(2, a)
    const d = fx.block(3, c)
    const e = fx.block(4, d) // carries QC(d): three-chain a <- c <- d with views 1, 2, 3 commits a
    let durable: DurableState = EMPTY_DURABLE_STATE
    const r = fx.replica(3)
    for (const b of [a, c, d, e]) {
      r.receive(b.proposer === 3 ? 0 : b.proposer, fx.propose(b))
      durable = applyPersist(durable, r.ready().persist)
    }
    expect(r.committedChain().map(x => x.hash)).toContain(hashKey(blockHash(a)))
    expect(r.debugState().executedIndex).toBe(1)

    // The leader of view 5 (replica 1) proposes a fork at height 1, extending genesis with the genesis QC. It is
    // validly signed and its QC is valid; safeNode refuses the vote, but the block is stored first.
    const fork = { ...fx.block(5, null, [], GENESIS_QC) }
    r.receive(1, fx.propose(fork))
    durable = applyPersist(durable, r.ready().persist)

    const restarted = fx.replica(3, durable)
    expect(restarted.debugState().committedHeight, 'committed height after restart').toBeGreaterThanOrEqual(1)
    expect(restarted.debugState().executedIndex, 'applied index after restart').toBe(1)
    expect(restarted.committedChain().map(x => x.hash)).toContain(hashKey(blockHash(a)))
  })
})
