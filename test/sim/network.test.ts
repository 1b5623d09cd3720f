/**
 * Each simulated network fault does what it says, observed at the receiving endpoint.
 */
import { describe, expect, it } from 'vitest'
import { createRng } from '../../core/random.ts'
import { SimNetwork } from '../../net/sim/network.ts'
import { Simulator } from '../../net/sim/simulator.ts'
import type { OutboundFrame } from '../../core/transport.ts'

function setup(latency = { kind: 'constant' as const, ms: 5 }) {
  const sim = new Simulator()
  const net = new SimNetwork(sim, createRng(1), { latency })
  const received: { from: number; to: number; at: number; n: number }[] = []
  for (const id of [0, 1, 2]) {
    net.endpoint(id).onFrame((from, frame) => received.push({ from, to: id, at: sim.now(), n: frame.bytes[0]! }))
  }
  const frame = (n: number): OutboundFrame => ({ channel: 'protocol', type: 'Test', bytes: new Uint8Array([n]) })
  return { sim, net, received, frame }
}

describe('simulated network', () => {
  it('delivers after the link latency, in FIFO order per link', () => {
    const { sim, net, received, frame } = setup()
    for (let i = 0; i < 5; i++) net.endpoint(0).send(1, frame(i))
    sim.run(4)
    expect(received).toEqual([])
    sim.run(10)
    expect(received.map(r => r.n)).toEqual([0, 1, 2, 3, 4])
    expect(received.every(r => r.at === 5 && r.from === 0 && r.to === 1)).toBe(true)
  })

  it('never delivers a message on a cut link, in either direction of a partition, until healed', () => {
    const { sim, net, received, frame } = setup()
    net.partition([[0], [1, 2]])
    net.endpoint(0).send(1, frame(1))
    net.endpoint(2).send(0, frame(2))
    net.endpoint(1).send(2, frame(3)) // same side: delivered
    sim.run(100)
    expect(received.map(r => r.n)).toEqual([3])
    net.heal()
    net.endpoint(0).send(1, frame(4))
    sim.run(200)
    expect(received.map(r => r.n)).toEqual([3, 4])
  })

  it('cuts one direction only with a one-way block', () => {
    const { sim, net, received, frame } = setup()
    net.block(0, 1)
    net.endpoint(0).send(1, frame(1))
    net.endpoint(1).send(0, frame(2))
    sim.run(100)
    expect(received.map(r => `${r.from}->${r.to}`)).toEqual(['1->0'])
  })

  it('drops a message in flight when its link is cut before it arrives', () => {
    const { sim, net, received, frame } = setup()
    net.endpoint(0).send(1, frame(1))
    sim.run(2)
    net.block(0, 1)
    sim.run(100)
    expect(received).toEqual([])
    expect(net.lost).toBe(1)
  })

  it('delivers every message twice with duplication probability 1', () => {
    const { sim, net, received, frame } = setup()
    net.faults.duplicate = 1
    net.endpoint(0).send(1, frame(7))
    sim.run(100)
    expect(received.map(r => r.n)).toEqual([7, 7])
  })

  it('loses every message with loss probability 1, and about the given share otherwise', () => {
    const { sim, net, received, frame } = setup()
    net.faults.loss = 1
    net.endpoint(0).send(1, frame(1))
    sim.run(100)
    expect(received).toEqual([])
    net.faults.loss = 0.3
    for (let i = 0; i < 1000; i++) net.endpoint(0).send(1, frame(i % 256))
    sim.run(200)
    expect(received.length).toBeGreaterThan(600)
    expect(received.length).toBeLessThan(800)
  })

  it('lets later messages overtake a reordered one', () => {
    const { sim, net, received, frame } = setup()
    net.faults.reorder = 1
    for (let i = 0; i < 50; i++) net.endpoint(0).send(1, frame(i))
    sim.run(1000)
    const order = received.map(r => r.n)
    expect(order.length).toBe(50)
    expect(order).not.toEqual([...order].sort((a, b) => a - b))
  })

  it('drops messages to a node that is down, and counts every send at the sender', () => {
    const { sim, net, received, frame } = setup()
    net.setDown(1, true)
    net.endpoint(0).send(1, frame(1))
    sim.run(100)
    expect(received).toEqual([])
    expect(net.endpoint(0).stats.total('protocol')).toEqual({ messages: 1, bytes: 1 })
  })

  it('adds half the region RTT to links between regions', () => {
    const sim = new Simulator()
    const net = new SimNetwork(sim, createRng(1), {
      latency: { kind: 'constant', ms: 0 },
      regions: { names: ['a', 'b'], rttMs: [[2, 100], [100, 2]] },
      placement: new Map([[0, 0], [1, 1], [2, 0]]),
    })
    const at: Record<number, number> = {}
    for (const id of [1, 2]) net.endpoint(id).onFrame(() => { at[id] = sim.now() })
    net.endpoint(0).send(1, { channel: 'protocol', type: 'T', bytes: new Uint8Array(1) })
    net.endpoint(0).send(2, { channel: 'protocol', type: 'T', bytes: new Uint8Array(1) })
    sim.run(1000)
    expect(at).toEqual({ 1: 50, 2: 1 })
  })
})
