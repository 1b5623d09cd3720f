/**
 * The processing-time model: a node is a single server, messages wait while it is busy, what it sends leaves when the
 * work is done, and throughput saturates at the busiest node.
 */
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../core/errors.ts'
import { createRng } from '../../core/random.ts'
import { parseCpuModel, REFERENCE_CPU, referenceCpuFor, type CpuModel } from '../../net/sim/cpu.ts'
import { SimNetwork } from '../../net/sim/network.ts'
import { runSimulation } from '../../net/sim/run.ts'
import { Simulator } from '../../net/sim/simulator.ts'
import { unreplicated } from '../../protocols/unreplicated/descriptor.ts'

const slow: CpuModel = { receiveUs: 100, sendUs: 50, perByteNs: 0, signUs: 0, verifyUs: 0 }

function setup(cpu: CpuModel) {
  const sim = new Simulator()
  const net = new SimNetwork(sim, createRng(1), { latency: { kind: 'constant', ms: 1 }, cpu })
  const handled: { node: number; at: number; n: number }[] = []
  const frame = (n: number) => ({ channel: 'protocol' as const, type: 'T', bytes: new Uint8Array([n]) })
  net.endpoint(0).onFrame((_from, f) => handled.push({ node: 0, at: sim.now(), n: f.bytes[0]! }))
  net.endpoint(2).onFrame((_from, f) => handled.push({ node: 2, at: sim.now(), n: f.bytes[0]! }))
  // Node 1 relays everything it gets to node 2.
  net.endpoint(1).onFrame((_from, f) => {
    handled.push({ node: 1, at: sim.now(), n: f.bytes[0]! })
    net.endpoint(1).send(2, frame(f.bytes[0]! + 100))
  })
  return { sim, net, handled, frame }
}

describe('simulated processing time', () => {
  it('queues messages at a busy node and handles them one after another', () => {
    const { sim, net, handled, frame } = setup(slow)
    net.endpoint(0).send(1, frame(1))
    net.endpoint(0).send(1, frame(2))
    net.endpoint(0).send(1, frame(3))
    sim.run(100)
    const atRelay = handled.filter(h => h.node === 1).map(h => h.at)
    // They arrive 50 us apart (each send costs the sender 50 us), but the relay needs 100 us to handle one and 50 us
    // to forward it, so each waits for the one before.
    expect(atRelay.length).toBe(3)
    for (let i = 1; i < atRelay.length; i++) expect(atRelay[i]! - atRelay[i - 1]!).toBeGreaterThanOrEqual(0.1 + 0.05 - 1e-9)
  })

  it('sends what a handler produced only after the handling (and the send) is done', () => {
    const { sim, net, handled, frame } = setup(slow)
    net.endpoint(0).send(1, frame(7))
    sim.run(100)
    const relayAt = handled.find(h => h.node === 1)!.at
    const arrivedAt = handled.find(h => h.node === 2)!.at
    // receive 0.1 ms + send 0.05 ms of work at the relay, then 1 ms on the wire.
    expect(arrivedAt - relayAt).toBeCloseTo(0.1 + 0.05 + 1, 9)
  })

  it('loses the inbox of a node that crashes', () => {
    const { sim, net, handled, frame } = setup(slow)
    for (let i = 0; i < 5; i++) net.endpoint(0).send(1, frame(i))
    sim.run(1.2) // the first has arrived and is being handled; the rest wait or are on the wire
    net.setDown(1, true)
    sim.run(100)
    expect(handled.filter(h => h.node === 1).length).toBeLessThan(5)
  })

  it('caps throughput at what the busiest node can process', () => {
    const cpu: CpuModel = { receiveUs: 1000, sendUs: 0, perByteNs: 0, signUs: 0, verifyUs: 0 }
    const few = runSimulation({ protocol: unreplicated, n: 1, seed: 1, ops: 400, clients: 4, cpu })
    const many = runSimulation({ protocol: unreplicated, n: 1, seed: 1, ops: 400, clients: 64, cpu })
    // The replica spends 1 ms per request; clients spend 1 ms per reply, in parallel with each other.
    for (const r of [few, many]) {
      expect(r.check.verdict).toBe('linearizable')
      expect(r.ops.requested / (r.virtualMs / 1000)).toBeLessThanOrEqual(1000 + 1e-6)
    }
    expect(many.ops.requested / (many.virtualMs / 1000)).toBeGreaterThan(900)
  })

  it('is deterministic and parses models from text, rejecting unknown keys', () => {
    const a = runSimulation({ protocol: unreplicated, n: 1, seed: 3, ops: 200, clients: 8, cpu: REFERENCE_CPU })
    const b = runSimulation({ protocol: unreplicated, n: 1, seed: 3, ops: 200, clients: 8, cpu: REFERENCE_CPU })
    expect(b.traceHash).toBe(a.traceHash)
    expect(parseCpuModel('reference')).toEqual(REFERENCE_CPU)
    expect(parseCpuModel('reference', '--cpu', 'tweetnacl')).toEqual(referenceCpuFor('tweetnacl'))
    expect(parseCpuModel('receiveUs=9').receiveUs).toBe(9)
    expect(() => parseCpuModel('cyclesPerOp=3')).toThrow(ConfigError)
    expect(() => parseCpuModel('receiveUs=-1')).toThrow(/receiveUs/)
  })
})
