/**
 * Chained HotStuff by paper section (Yin et al., PODC 2019): the safety rule and liveness rule of safeNode (section 4,
 * Algorithm 1), the two-chain lock and three-chain commit of chained HotStuff (section 5, Algorithm 3), voting once
 * per view, durable before the vote leaves.
 */
import { describe, expect, it } from 'vitest'
import { BlockTree } from '../../protocols/hotstuff/block-tree.ts'
import type { Block } from '../../protocols/hotstuff/messages.ts'
import { GENESIS_BLOCK, GENESIS_HASH, GENESIS_QC } from '../../protocols/hotstuff/replica.ts'
import { SafetyRules } from '../../protocols/hotstuff/safety.ts'
import { blockHash, hashKey } from '../../protocols/hotstuff/signing.ts'
import { applyPersist, Fixture, messagesOfType } from './fixtures.ts'

const fx = new Fixture(4)

function treeWith(...blocks: Block[]): BlockTree {
  const tree = new BlockTree(GENESIS_BLOCK, GENESIS_HASH)
  for (const b of blocks) expect(tree.insert(b, blockHash(b))).toBe(true)
  return tree
}

function entry(tree: BlockTree, b: Block) {
  return tree.get(hashKey(blockHash(b)))!
}

describe('section 4: safeNode', () => {
  const a = fx.block(1, null)
  const b = fx.block(2, a)
  const fork = fx.block(3, null) // extends genesis, justify = genesis QC (view 0)

  it('safety rule: a block extending the locked block is safe', () => {
    const tree = treeWith(a, b, fx.block(3, b))
    const rules = new SafetyRules(GENESIS_QC)
    rules.updateLock(fx.qc(1, blockHash(a)))
    expect(rules.safeNode(tree, entry(tree, fx.block(3, b)))).toBe(true)
  })

  it('a conflicting block whose justify is not newer than the lock is refused', () => {
    const tree = treeWith(a, b, fork)
    const rules = new SafetyRules(GENESIS_QC)
    rules.updateLock(fx.qc(1, blockHash(a)))
    expect(rules.safeNode(tree, entry(tree, fork))).toBe(false)
  })

  it('liveness rule: a conflicting block with justify.view > locked.view unlocks', () => {
    const side = fx.block(2, null)
    const sideChild = fx.block(4, side, [], fx.qc(2, blockHash(side)))
    const tree = treeWith(a, side, sideChild)
    const rules = new SafetyRules(GENESIS_QC)
    rules.updateLock(fx.qc(1, blockHash(a)))
    expect(tree.extends(entry(tree, sideChild), entry(tree, a))).toBe(false)
    expect(rules.safeNode(tree, entry(tree, sideChild))).toBe(true)
  })

  it('votes at most once per view, and lastVotedView only grows', () => {
    const rules = new SafetyRules(GENESIS_QC)
    expect(rules.mayVoteIn(1)).toBe(true)
    rules.recordVote(3)
    expect(rules.mayVoteIn(3)).toBe(false)
    expect(rules.mayVoteIn(2)).toBe(false)
    expect(() => rules.recordVote(3)).toThrow(/after voting/)
    expect(rules.mayVoteIn(4)).toBe(true)
  })

  it('the lock and highQC only move to newer views', () => {
    const rules = new SafetyRules(GENESIS_QC)
    expect(rules.updateLock(fx.qc(2, blockHash(b)))).toBe(true)
    expect(rules.updateLock(fx.qc(1, blockHash(a)))).toBe(false)
    expect(rules.lockedQC.view).toBe(2)
    expect(rules.updateHighQC(fx.qc(2, blockHash(b)))).toBe(true)
    expect(rules.updateHighQC(fx.qc(2, blockHash(b)))).toBe(false)
  })
})

describe('section 5: the chained commit rule (Algorithm 3)', () => {
  const cmd = fx.request(1)

  /** Feed replica 0 the proposals in order; return the commands it committed and its debug state. */
  function feed(blocks: Block[]) {
    const r = fx.replica(0)
    const committed: number[] = []
    for (const b of blocks) {
      r.receive(b.proposer === 0 ? 1 : b.proposer, fx.propose(b))
      for (const e of r.ready().committed) committed.push(...e.requests.map(q => q.seq))
    }
    return { committed, state: r.debugState(), drops: r.dropCounts() }
  }

  it('a three-chain of direct parents in consecutive views commits its head (and so its command)', () => {
    const b1 = fx.block(1, null, [cmd])
    const b2 = fx.block(2, b1)
    const b3 = fx.block(3, b2)
    const b4 = fx.block(5, b3) // carries QC(b3): b3 <- b2 <- b1, views 3, 2, 1
    const { committed, state } = feed([b1, b2, b3, b4])
    expect(committed).toEqual([1])
    expect(state.committedHeight).toBe(1)
    expect(state.lockedQCView).toBe(2)
  })

  it('a two-chain locks but does not commit', () => {
    const b1 = fx.block(1, null, [cmd])
    const b2 = fx.block(2, b1)
    const b3 = fx.block(3, b2) // carries QC(b2): two-chain b2 <- b1
    const { committed, state } = feed([b1, b2, b3])
    expect(committed).toEqual([])
    expect(state.lockedQCView).toBe(1)
    expect(state.committedHeight).toBe(0)
  })

  it('a three-chain whose views are not consecutive does not commit', () => {
    const b1 = fx.block(1, null, [cmd])
    const b2 = fx.block(2, b1)
    const b3 = fx.block(4, b2) // view 3 timed out: b3 extends b2 directly, but views 4, 2, 1 are not consecutive
    const b4 = fx.block(5, b3)
    const { committed, state } = feed([b1, b2, b3, b4])
    expect(committed).toEqual([])
    expect(state.committedHeight).toBe(0)
    // The next consecutive three-chain (b3, b4, b5 in views 4, 5, 6) commits b3 and with it b1.
    const b5 = fx.block(6, b4)
    const b6 = fx.block(7, b5)
    expect(feed([b1, b2, b3, b4, b5, b6]).committed).toEqual([1])
  })

  it('a command included twice is handed to the host at two indexes, in height order (the session table applies it once)', () => {
    const b1 = fx.block(1, null, [cmd])
    const b2 = fx.block(2, b1, [cmd, fx.request(2)])
    const b3 = fx.block(3, b2)
    const b4 = fx.block(4, b3)
    const b5 = fx.block(5, b4)
    expect(feed([b1, b2, b3, b4, b5]).committed).toEqual([1, 1, 2])
  })
})

describe('voting and persistence', () => {
  it('a vote goes to the next view\'s leader only after lastVotedView and the block are in the same Ready\'s persist', () => {
    const r = fx.replica(0)
    const b1 = fx.block(1, null, [fx.request(1)])
    r.receive(1, fx.propose(b1))
    const ready = r.ready()
    const votes = messagesOfType(ready.messages, 'Vote')
    expect(votes.map(v => v.to)).toEqual([2])
    expect(ready.persist.some(p => p.kind === 'put' && p.key === 'hotstuff/safety')).toBe(true)
    expect(ready.persist.some(p => p.kind === 'entry')).toBe(true)
  })

  it('a restarted replica never votes twice in one view', () => {
    const r = fx.replica(0)
    const b1 = fx.block(1, null, [fx.request(1)])
    r.receive(1, fx.propose(b1))
    const durable = applyPersist({ hard: new Map(), log: [], snapshot: null }, r.ready().persist)
    const restarted = fx.replica(0, durable)
    expect(restarted.debugState().lastVotedView).toBe(1)
    // The same proposal again, and an equivocating one for the same view: no vote for either.
    restarted.receive(1, fx.propose(b1))
    restarted.receive(1, fx.propose(fx.block(1, null, [fx.request(7)])))
    expect(messagesOfType(restarted.ready().messages, 'Vote')).toEqual([])
  })

  it('recovers committed commands from its blocks after a crash and hands them to the host again', () => {
    const r = fx.replica(0)
    const cmd = fx.request(1)
    const b1 = fx.block(1, null, [cmd])
    const b2 = fx.block(2, b1)
    const b3 = fx.block(3, b2)
    const b4 = fx.block(5, b3) // view 4 is replica 0's own
    let durable = applyPersist({ hard: new Map(), log: [], snapshot: null }, [])
    for (const b of [b1, b2, b3, b4]) {
      r.receive(b.proposer, fx.propose(b))
      durable = applyPersist(durable, r.ready().persist)
    }
    const restarted = fx.replica(0, durable)
    expect(restarted.ready().committed.flatMap(e => e.requests.map(q => q.seq))).toEqual([1])
    expect(restarted.debugState().committedHeight).toBe(1)
  })
})
