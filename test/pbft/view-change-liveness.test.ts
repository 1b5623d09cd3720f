/**
 * Paper 4.5.2 (liveness) and Castro's thesis 2.3.5: when a replica starts its view-change timer, when it joins a
 * higher view, what it keeps for (and tells) replicas left behind in a view change, and the cap on the backoff. One
 * replica is driven by hand; the others are played by signed messages.
 */
import { describe, expect, it } from 'vitest'
import { EMPTY_DURABLE_STATE } from '../../core/storage.ts'
import { createMemoryStorage } from '../../core/storage/memory-storage.ts'
import type { NodeId, Outbound } from '../../core/types.ts'
import type { PbftMessage, ViewChange } from '../../protocols/pbft/messages.ts'
import { parsePbftOptions } from '../../protocols/pbft/options.ts'
import { PbftReplica } from '../../protocols/pbft/replica.ts'
import { sign } from '../../protocols/pbft/signing.ts'
import { backoffTicks } from '../../protocols/pbft/view-change.ts'
import { PbftHarness } from './harness.ts'

const E = new Uint8Array(0)
const TIMING = { requestTimeoutTicks: 40, viewChangeTicks: 40, retransmitTicks: 5, checkpointInterval: 16 }

/** Replica 0 of n = 4 on its own; peers' VIEW-CHANGEs are signed with their keys. */
function setup() {
  const h = new PbftHarness({ n: 4, seed: 'vc-liveness', options: TIMING })
  const r = new PbftReplica(h.context(0, EMPTY_DURABLE_STATE))
  const viewChange = (from: NodeId, newView: number): ViewChange => sign(h.signerOf(from), {
    type: 'ViewChange', newView, stableSeq: 0, checkpointProof: [], prepared: [], replica: from, signature: E,
  })
  const sent: Outbound<PbftMessage>[] = []
  const take = () => { const out = r.ready().messages; sent.push(...out); return out }
  const tick = (n: number) => { for (let i = 0; i < n; i++) { r.tick(); take() } }
  return { h, r, viewChange, take, tick, sent }
}

const viewChangesTo = (out: readonly Outbound<PbftMessage>[], to: NodeId) =>
  out.filter(o => o.to === to && o.message.type === 'ViewChange').map(o => (o.message as ViewChange).newView)

describe('PBFT view-change liveness (paper 4.5.2)', () => {
  it('joins the smallest view f+1 others asked for, and starts its timer only with 2f+1 VIEW-CHANGEs for it', () => {
    const { r, viewChange, take, tick } = setup()
    r.receive(2, viewChange(2, 1))
    take()
    expect(r.status()).toMatchObject({ role: 'primary', epoch: 0 }) // one replica alone cannot move anyone
    r.receive(3, viewChange(3, 2))
    take()
    expect(r.status()).toMatchObject({ role: 'view-change', epoch: 1 }) // 2 = f+1 senders: the smallest of 1 and 2
    // Only 2 of the 2f+1 = 3 VIEW-CHANGEs for view 1 (ours and 2's; 3 asked for 2): no timer, no move however long.
    tick(200)
    expect(r.status().epoch).toBe(1)
    r.receive(1, viewChange(1, 1)) // the quorum for view 1 is in: the timer runs (view 1's primary, 1, stays silent)
    tick(TIMING.viewChangeTicks * 2 + 1)
    expect(r.status().epoch).toBeGreaterThanOrEqual(2)
  })

  it('a faulty replica asking for a far-future view drags nobody there', () => {
    const { r, viewChange, take } = setup()
    r.receive(3, viewChange(3, 1000))
    take()
    expect(r.status()).toMatchObject({ role: 'primary', epoch: 0 })
    r.receive(2, viewChange(2, 1)) // one correct replica really wants view 1: f+1 senders, the smallest view is 1
    take()
    expect(r.status()).toMatchObject({ role: 'view-change', epoch: 1 })
    for (let v = 1001; v < 1010; v++) r.receive(3, viewChange(3, v)) // kept per sender: only the lowest few
    expect(r.dropCounts()['view-change-bound']).toBeGreaterThan(0)
  })

  it('a replica that moved on answers a laggard with its VIEW-CHANGE for the laggard\'s view and its latest one', () => {
    const { r, viewChange, take, tick } = setup()
    r.receive(2, viewChange(2, 1))
    r.receive(3, viewChange(3, 1))
    take()
    expect(r.status()).toMatchObject({ role: 'view-change', epoch: 1 })
    tick(TIMING.viewChangeTicks + 1) // quorum for 1 (0, 2, 3) but view 1's primary is silent: on to view 2
    expect(r.status()).toMatchObject({ role: 'view-change', epoch: 2 })
    // Replica 1 missed all of it and still asks for view 1: without 0's VIEW-CHANGE for 1 it has no quorum there.
    r.receive(1, viewChange(1, 1))
    expect(viewChangesTo(take(), 1)).toEqual([1, 2])
    // Rate-limited per peer.
    r.receive(1, viewChange(1, 1))
    expect(viewChangesTo(take(), 1)).toEqual([])
  })

  it('after a restart it still answers a laggard with a VIEW-CHANGE for the laggard\'s view, made afresh', () => {
    const { h, r, viewChange } = setup()
    const storage = createMemoryStorage()
    const persistTake = (replica: PbftReplica) => {
      const ready = replica.ready()
      storage.write(ready.persist)
      storage.sync(() => {})
      return ready.messages
    }
    r.receive(2, viewChange(2, 1))
    r.receive(3, viewChange(3, 1))
    persistTake(r)
    for (let i = 0; i < TIMING.viewChangeTicks + 1; i++) { r.tick(); persistTake(r) }
    expect(r.status()).toMatchObject({ role: 'view-change', epoch: 2 })
    // The restart forgets the VIEW-CHANGEs 0 sent (they are not stored); the view and the last view it worked in are.
    const restarted = new PbftReplica(h.context(0, storage.load()))
    persistTake(restarted)
    expect(restarted.status()).toMatchObject({ role: 'view-change', epoch: 2 })
    restarted.receive(1, viewChange(1, 1))
    const out = persistTake(restarted).filter(o => o.to === 1 && o.message.type === 'ViewChange').map(o => o.message as ViewChange)
    expect(out.map(vc => vc.newView)).toEqual([1, 2])
    expect(out[0]!.replica).toBe(0)
  })

  it('never makes a VIEW-CHANGE for a view at or below the last one it worked in', () => {
    const { r, viewChange, take } = setup()
    // Replica 0 worked in view 0 and asks for view 1; a peer asking for view 0 gets nothing for view 0.
    r.receive(2, viewChange(2, 1))
    r.receive(3, viewChange(3, 1))
    take()
    expect(r.status()).toMatchObject({ role: 'view-change', epoch: 1 })
    r.receive(1, viewChange(1, 0))
    expect(viewChangesTo(take(), 1)).toEqual([1])
  })

  it('timeouts double per successive view change, at most maxTimeoutDoublings times', () => {
    expect(backoffTicks(100, 0, 3)).toBe(100)
    expect(backoffTicks(100, 2, 3)).toBe(400)
    expect(backoffTicks(100, 10, 3)).toBe(800)
    expect(backoffTicks(100, 10, 0)).toBe(100)
    expect(parsePbftOptions({}).maxTimeoutDoublings).toBe(3)
  })
})
