/**
 * Paper section 4.3: checkpoints, watermarks and garbage collection, and state transfer for replicas left behind; plus
 * recovery from storage after crashes.
 */
import { describe, expect, it } from 'vitest'
import { bytesEqual } from '../../core/codec/client-messages.ts'
import { PbftHarness } from './harness.ts'

const K = 4

describe('PBFT checkpoints and watermarks (section 4.3)', () => {
  it('a checkpoint becomes stable every K and moves both watermarks (L = 2K)', () => {
    const h = new PbftHarness({ n: 4, seed: 'cp-stable', clients: 2, options: { checkpointInterval: K } })
    expect(h.stepUntil(() => h.minAppliedHonest() >= 10 * K, 1000)).toBe(true)
    h.workloadOn = false
    h.run(20)
    for (const id of h.ids) {
      const s = h.replica(id).debugState()
      expect(s.lowWatermark).toBe(Math.floor(s.lastExecuted / K) * K)
      expect(s.highWatermark).toBe(s.lowWatermark + 2 * K)
      expect(h.replica(id).status().logSize).toBeLessThan(K)
    }
  })

  it('the primary stops at the high watermark while no checkpoint can become stable, and resumes after', () => {
    const h = new PbftHarness({ n: 4, seed: 'cp-blocked', clients: 3, options: { checkpointInterval: K, retransmitTicks: 5 } })
    h.blockedTypes.add('Checkpoint')
    h.run(300)
    for (const id of h.ids) {
      expect(h.appliedOf(id)).toBe(2 * K)
      expect(h.replica(id).debugState().lowWatermark).toBe(0)
      expect(h.replica(id).status().logSize).toBe(2 * K)
    }
    h.blockedTypes.delete('Checkpoint')
    expect(h.stepUntil(() => h.minAppliedHonest() >= 6 * K, 300)).toBe(true)
    expect(h.violations).toEqual([])
  })

  it('garbage collection keeps the log, checkpoint votes and storage bounded in a long run', () => {
    const L = 2 * K
    const h = new PbftHarness({
      n: 4, seed: 'cp-gc', clients: 3, options: { checkpointInterval: K, maxBatchCount: 2 },
      network: { loss: 0.01, jitter: 2 },
    })
    let maxLog = 0
    let maxDurable = 0
    let maxVotes = 0
    for (let t = 0; t < 1500; t++) {
      h.step()
      for (const id of h.ids) {
        maxLog = Math.max(maxLog, h.replica(id).status().logSize)
        maxDurable = Math.max(maxDurable, h.durableLogSize(id))
        maxVotes = Math.max(maxVotes, h.replica(id).debugState().checkpointVotes)
      }
    }
    expect(h.minAppliedHonest()).toBeGreaterThan(40 * K)
    expect(maxLog).toBeLessThanOrEqual(L)
    // Storage drops records when the stable checkpoint's snapshot is written, which a replica that reached the
    // checkpoint late (its own snapshot still to come) does up to one window later.
    expect(maxDurable).toBeLessThanOrEqual(2 * L)
    expect(maxVotes).toBeLessThanOrEqual(4 * (L / K + 2))
    expect(h.violations).toEqual([])
  })
})

describe('PBFT checkpoint interval vs the host snapshot interval', () => {
  it('checkpoints on every host snapshot, even when the host interval differs from K but fits the window', () => {
    const h = new PbftHarness({ n: 4, seed: 'cp-other-interval', clients: 2, options: { checkpointInterval: K }, snapshotInterval: K - 1 })
    expect(h.stepUntil(() => h.minAppliedHonest() >= 10 * K, 1000)).toBe(true)
    h.workloadOn = false
    h.run(20)
    for (const id of h.ids) {
      const s = h.replica(id).debugState()
      expect(s.lowWatermark).toBeGreaterThan(0)
      expect(s.lowWatermark % (K - 1)).toBe(0)
    }
    expect(h.violations).toEqual([])
  })

  it('a host snapshotting less often than the watermark window allows is a configuration error, not a silent stall', () => {
    const h = new PbftHarness({ n: 4, seed: 'cp-sparse', clients: 1, options: { checkpointInterval: K, requestTimeoutTicks: 20 }, snapshotInterval: 4 * K })
    expect(() => h.run(300)).toThrow(/checkpointInterval: .*took none from index 1 to 8, the whole watermark window \(8\): set the host's snapshotInterval to the checkpointInterval \(4\)/)
  })
})

describe('PBFT state transfer', () => {
  it('a replica cut off while the others moved several checkpoints on installs a verified snapshot and catches up', () => {
    const h = new PbftHarness({ n: 4, seed: 'st-partition', clients: 2, options: { checkpointInterval: K, retransmitTicks: 5 } })
    h.run(20)
    const others = [0, 1, 2]
    h.partition([3], [...others, ...h.clients.map(c => c.id)])
    const cutAt = h.appliedOf(3)
    expect(h.stepUntil(() => h.appliedOf(0) >= cutAt + 5 * K, 1000)).toBe(true)
    expect(h.appliedOf(3)).toBe(cutAt)
    h.heal()
    expect(h.stepUntil(() => h.appliedOf(3) >= h.appliedOf(0) - 1 && h.installsOf(3) > 0, 300)).toBe(true)
    h.workloadOn = false
    h.run(50)
    expect(h.installsOf(3)).toBeGreaterThan(0)
    for (const id of h.ids) {
      expect(h.appliedOf(id)).toBe(h.appliedOf(0))
      expect(bytesEqual(h.stateOf(id), h.stateOf(0))).toBe(true)
    }
    expect(h.violations).toEqual([])
  })
})

describe('PBFT crash recovery', () => {
  it('a crashed backup restarts from storage and catches up', () => {
    const h = new PbftHarness({ n: 4, seed: 'restart-backup', clients: 2, options: { checkpointInterval: K, retransmitTicks: 5 } })
    h.run(50)
    h.crash(2)
    h.run(100)
    h.restart(2)
    h.run(100)
    h.workloadOn = false
    h.run(60)
    for (const id of h.ids) expect(h.appliedOf(id)).toBe(h.appliedOf(0))
    expect(bytesEqual(h.stateOf(2), h.stateOf(0))).toBe(true)
    expect(h.violations).toEqual([])
  })

  it('the whole cluster crashes and restarts, repeatedly, without losing or changing a decision', () => {
    const h = new PbftHarness({ n: 4, seed: 'restart-all', clients: 3, options: { checkpointInterval: K, retransmitTicks: 5 }, network: { jitter: 2 } })
    for (let round = 0; round < 5; round++) {
      h.run(37 + round * 11)
      for (const id of h.ids) h.crash(id)
      h.run(5)
      for (const id of h.ids) h.restart(id)
    }
    const before = h.completedRequests
    h.run(300)
    expect(h.completedRequests).toBeGreaterThan(before)
    expect(h.violations).toEqual([])
  })

  it('the view survives a restart: a replica that restarts after a view change stays in the new view', () => {
    const h = new PbftHarness({ n: 4, seed: 'restart-view', clients: 1, options: { requestTimeoutTicks: 30, clientRetryTicks: 10 } })
    h.crash(0)
    expect(h.stepUntil(() => h.completedRequests > 0, 200)).toBe(true)
    expect(h.replica(1).status().epoch).toBe(1)
    h.crash(1)
    h.restart(1)
    expect(h.replica(1).status().epoch).toBe(1)
    expect(h.replica(1).status().role).toBe('primary')
    const before = h.completedRequests
    h.run(100)
    expect(h.completedRequests).toBeGreaterThan(before)
  })
})
