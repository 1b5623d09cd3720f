/**
 * Red-team finding, fixed in protocols/hotstuff (this test failed before the fix).
 *
 * Bug: nothing bounds how far ahead a proposal's view may be. onProposal (protocols/hotstuff/replica.ts) accepts any
 * validly signed block whose proposer leads `b.view` (`leaderOf(b.view) === b.proposer`), acceptProposal enters that
 * view (`pacemaker.enter(b.view)`) and tryVote records it as lastVotedView and moves to view + 1. A single Byzantine
 * replica therefore drags every honest replica to a view of its choosing; with view = Number.MAX_SAFE_INTEGER (a view
 * it leads when MAX_SAFE_INTEGER % n is its index: replica 3 for n = 4) the next view 2^53 cannot be encoded
 * (BinaryWriter.uvarint refuses unsafe integers) and 2^53 + 1 === 2^53 in floating point, so the next leader's
 * blockHash/signProposal throws a CodecError (the host swallows it as a "malformed frame"), every view-change
 * NEW-VIEW throws from tick(), and no correct replica can ever vote or commit again: one faulty replica (f = 1) kills
 * liveness for good, and the durable lastVotedView keeps the cluster there across restarts. A view bound (e.g. at
 * most curView + a window, as onVote already has with MAX_VOTE_VIEWS_AHEAD) or a view-change certificate is missing.
 *
 * Seed: none needed (hand-built signed messages, fixture keys of test/hotstuff/fixtures.ts, n = 4).
 * Replay: ./node_modules/.bin/vitest run test/regressions/hotstuff-view-overflow.test.ts (the baseline case passes; the
 * attack case fails with `CodecError: cannot encode 9007199254740992 as an unsigned varint`)
 */
import { describe, expect, it } from 'vitest'
import type { NodeId } from '../../core/types.ts'
import type { HotStuffMessage } from '../../protocols/hotstuff/messages.ts'
import { GENESIS_QC, type HotStuffReplica } from '../../protocols/hotstuff/replica.ts'
import { Fixture } from '../hotstuff/fixtures.ts'

/** Run honest replicas 0..2 (replica 3 is faulty and silent apart from what the test injects) until idle. */
function drive(replicas: Map<NodeId, HotStuffReplica>, rounds: number): void {
  for (let round = 0; round < rounds; round++) {
    for (const r of replicas.values()) r.tick()
    let moved = true
    while (moved) {
      moved = false
      for (const [id, r] of replicas) {
        for (const { to, message } of r.ready().messages) {
          const dest = replicas.get(to)
          if (dest === undefined || to === id) continue
          dest.receive(id, message as HotStuffMessage)
          moved = true
        }
      }
    }
  }
}

describe('regression: hotstuff proposal for an unbounded view', () => {
  const fx = new Fixture(4)

  it('baseline: three correct replicas of four commit a command', () => {
    const replicas = new Map([0, 1, 2].map(id => [id, fx.replica(id)] as const))
    for (const r of replicas.values()) r.propose(fx.request(1), 1000)
    drive(replicas, 200)
    // Exactly once, with replica 3 down (see hotstuff-executed-command-reordered-forever.test.ts).
    for (const r of replicas.values()) expect(r.debugState().executedIndex).toBe(1)
  })

  it('a faulty leader proposing view MAX_SAFE_INTEGER does not stop the correct replicas from committing', () => {
    expect(Number.MAX_SAFE_INTEGER % 4).toBe(3) // replica 3 leads that view
    const replicas = new Map([0, 1, 2].map(id => [id, fx.replica(id)] as const))
    const evil = fx.block(Number.MAX_SAFE_INTEGER, null, [], GENESIS_QC)
    expect(evil.proposer).toBe(3)
    const p = fx.propose(evil)
    for (const r of replicas.values()) r.receive(3, p)
    for (const r of replicas.values()) r.propose(fx.request(1), 1000)
    let thrown: unknown = null
    try {
      drive(replicas, 200)
    } catch (e) {
      thrown = e
    }
    expect(thrown, 'a correct replica threw').toBeNull()
    for (const r of replicas.values()) expect(r.debugState().executedIndex, 'correct replicas commit').toBeGreaterThanOrEqual(1)
  })
})
