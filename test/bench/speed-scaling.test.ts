/** `bench speed --scaling`: one measured row per n, and the simulated work per operation growing as the protocol's messages do. */
import { describe, expect, it } from 'vitest'
import { protocols } from '../../protocols/index.ts'
import { measureScaling, scalingSizes } from '../../bench/speed.ts'

describe('bench speed --scaling', () => {
  it('measures each n and fits the growth of wall time per operation', () => {
    const s = measureScaling(protocols.get('raft')!, [3, 7], { clients: 4, virtualMs: 200 })
    expect(s.rows.map(r => r.n)).toEqual([3, 7])
    for (const r of s.rows) {
      expect(r.ops).toBeGreaterThan(0)
      expect(r.wallUsPerOp).toBeGreaterThan(0)
    }
    // Deliveries per operation are simulated figures (not timings): Raft's grow with n.
    const perOp = s.rows.map(r => r.deliveries / r.ops)
    expect(perOp[1]!).toBeGreaterThan(perOp[0]!)
    expect(typeof s.exponent).toBe('number')
  })

  it('defaults to a doubling ladder of sizes each protocol accepts', () => {
    for (const p of protocols.values()) {
      if (p.name === 'unreplicated') continue
      for (const n of scalingSizes(p)) expect(p.checkClusterSize(n), `${p.name} n=${n}`).toBeNull()
    }
  })
})
