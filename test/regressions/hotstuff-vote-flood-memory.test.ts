/**
 * Red-team finding, fixed in protocols/hotstuff (this test failed before the fix).
 *
 * Bug: one faulty replica can grow a correct leader's memory without bound. onVote (protocols/hotstuff/replica.ts)
 * bounds the VIEW of a vote it keeps (above highQC, at most MAX_VOTE_VIEWS_AHEAD ahead, and we must lead view + 1)
 * but not how many different blocks one voter may vote for in a view: countVote creates a `votes` entry (and a
 * QuorumTally entry) per (view, hash), each validly signed by the faulty voter for invented hashes. Nothing removes
 * them until a QC above that view forms, and a faulty voter can keep ~64/n views ahead of it. The other maps are
 * capped (MAX_WANTED, MAX_ORPHANS, MAX_PENDING_PROPOSALS, MAX_VERIFIED_QCS, MAX_MEMPOOL); this one is not. A voter
 * should be kept to one vote per view (a second is equivocation: drop it, or keep one per voter and view).
 *
 * Seed: none needed (hand-built signed votes, fixture keys of test/hotstuff/fixtures.ts, n = 4). Looks at the
 * private `votes` map (there is no public accessor for it).
 * Replay: ./node_modules/.bin/vitest run test/regressions/hotstuff-vote-flood-memory.test.ts
 */
import { describe, expect, it } from 'vitest'
import { signVote, sha256 } from '../../protocols/hotstuff/signing.ts'
import { Fixture } from '../hotstuff/fixtures.ts'

describe('regression: hotstuff keeps every vote a faulty replica invents', () => {
  it('votes for invented blocks from one voter in one view do not accumulate', () => {
    const fx = new Fixture(4)
    const leader = fx.replica(2) // leader of view 2: takes votes for view 1
    const evil = fx.signer(3)
    for (let i = 0; i < 300; i++) {
      leader.receive(3, signVote(evil, 1, sha256(new Uint8Array([i & 0xff, i >> 8])), 3))
    }
    const kept = (leader as unknown as { votes: Map<string, unknown> }).votes.size
    expect(kept, 'vote entries kept for one faulty voter in one view').toBeLessThanOrEqual(1)
  })
})
