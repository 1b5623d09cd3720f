/**
 * quorum-kv against the rules of Dynamo (DeCandia et al., SOSP 2007) and Cassandra it implements, and against what it
 * deliberately gives up: each anomaly a store without consensus allows is shown here by a hand-built history that the
 * linearizability checker rejects (last-writer-wins under clock skew, non-atomic compare-and-set, weak quorums), and
 * by a seeded simulation with partitions and concurrent writers whose history fails the checker while the run passes
 * (live, converged), as an eventually consistent run should.
 */
import { describe, expect, it } from 'vitest'
import { checkHistory } from '../../core/checker/index.ts'
import { ConfigError } from '../../core/errors.ts'
import { HistoryRecorder } from '../../core/history.ts'
import { decodeKvResult, encodeKvCommand, type KvCommand, type KvResult } from '../../core/kv.ts'
import { recordInvoke } from '../../core/kv-workload.ts'
import type { ClientRequest, NodeId } from '../../core/types.ts'
import { replayCommand, runPassed, runSimulation } from '../../net/sim/run.ts'
import { measureMessagesPerCommand } from '../../bench/message-complexity.ts'
import { quorumKv } from '../../protocols/quorum-kv/descriptor.ts'
import { parseQuorumKvOptions, weakQuorumWarning } from '../../protocols/quorum-kv/options.ts'
import type { QuorumKvMessage } from '../../protocols/quorum-kv/messages.ts'
import type { QuorumKvReplica } from '../../protocols/quorum-kv/replica.ts'
import { FIRST_CLIENT_ID, ReplicaNetwork } from '../support/replica-network.ts'

/** A cluster driven by hand: requests handed to a chosen coordinator, messages delivered when the test says. */
class Harness {
  readonly net: ReplicaNetwork<QuorumKvMessage, QuorumKvReplica>
  private readonly seqs = new Map<NodeId, number>()
  readonly recorder = new HistoryRecorder()
  private time = 0

  constructor(n: number, options: Record<string, unknown> = {}) {
    this.net = new ReplicaNetwork<QuorumKvMessage, QuorumKvReplica>({ protocol: quorumKv, n, seed: 1, clients: 4, workload: false, options })
  }

  /** Client `client` sends `command` to replica `coordinator`; returns the request (its answer comes later). */
  send(coordinator: NodeId, client: NodeId, command: KvCommand): ClientRequest {
    const seq = (this.seqs.get(client) ?? 0) + 1
    this.seqs.set(client, seq)
    const request: ClientRequest = {
      clientId: client, seq, readOnly: command.type === 'get', op: encodeKvCommand(command), signature: new Uint8Array(0),
    }
    this.net.propose(coordinator, request)
    return request
  }

  /** The answer `coordinator` gave to `request`, if any. */
  answer(coordinator: NodeId, request: ClientRequest): KvResult | null {
    const r = this.net.node(coordinator).replies.find(x => x.reply.clientId === request.clientId && x.reply.seq === request.seq)
    return r === undefined ? null : decodeKvResult(r.reply.result)
  }

  /** One operation start to end (everything in flight delivered), recorded in the history; returns its answer. */
  run(coordinator: NodeId, client: NodeId, command: KvCommand): KvResult | null {
    const op = recordInvoke(this.recorder, client, command, this.time++)
    const request = this.send(coordinator, client, command)
    this.net.deliverAll()
    const result = this.answer(coordinator, request)
    if (result === null) op.info(this.time++)
    else if (result.type === 'value') op.ok(this.time++, result.value)
    else if (result.type === 'cas' && !result.ok) op.fail(this.time++)
    else op.ok(this.time++)
    return result
  }

  digest(id: NodeId): string {
    return this.net.replica(id).stateDigest()
  }

  count(type: string): number {
    return this.net.sentByType.get(type) ?? 0
  }
}

const A = FIRST_CLIENT_ID
const B = FIRST_CLIENT_ID + 1

describe('options: R and W (Dynamo §4.5)', () => {
  it('defaults to majorities and refuses R + W <= N unless weak quorums are asked for, naming the field', () => {
    const o = parseQuorumKvOptions({}, 5)
    expect([o.readQuorum, o.writeQuorum, o.readRepair, o.weakQuorums]).toEqual([3, 3, 'blocking', false])
    expect(() => parseQuorumKvOptions({ readQuorum: 1 }, 3)).toThrow(ConfigError)
    expect(() => parseQuorumKvOptions({ readQuorum: 1 }, 3)).toThrow(/readQuorum.*R \+ W must exceed N.*allowWeakQuorums/)
    expect(() => parseQuorumKvOptions({ writeQuorum: 4 }, 3)).toThrow(/writeQuorum/)
    expect(() => parseQuorumKvOptions({ readRepair: 'sometimes' }, 3)).toThrow(/readRepair/)
    const weak = parseQuorumKvOptions({ readQuorum: 1, writeQuorum: 1, allowWeakQuorums: true }, 3)
    expect(weak.weakQuorums).toBe(true)
    expect(weakQuorumWarning(weak, 3)).toMatch(/R = 1 \+ W = 1 <= N = 3/)
    expect(weakQuorumWarning(o, 5)).toBeNull()
  })
})

describe('writes (§4.5: the coordinator waits for W durable acknowledgements)', () => {
  it('answers once W replicas (the coordinator included) hold the write, and not before', () => {
    const h = new Harness(3)
    h.net.partition([0], [1, 2], [A])
    const put = h.send(0, A, { type: 'put', key: 'k', value: 'v1' })
    h.net.deliverAll()
    expect(h.answer(0, put), 'only the coordinator holds it: 1 < W = 2').toBeNull()
    h.net.heal()
    // The client's retry resends the write to the replicas that have not acknowledged it.
    h.net.propose(0, put)
    h.net.deliverAll()
    expect(h.answer(0, put)).toEqual({ type: 'ok' })
    expect(h.digest(1)).toBe(h.digest(0))
    expect(h.digest(2)).toBe(h.digest(0))
  })

  it('writes a tombstone for a delete, which an older write cannot undo', () => {
    const h = new Harness(3)
    h.run(0, A, { type: 'put', key: 'k', value: 'v1' })
    expect(h.run(1, A, { type: 'delete', key: 'k' })).toEqual({ type: 'deleted', existed: true })
    expect(h.run(2, B, { type: 'get', key: 'k' })).toEqual({ type: 'value', value: null })
    expect(h.digest(0)).toMatch(/^1 keys /) // the tombstone is kept
  })
})

describe('reads and read repair (§4.5, Cassandra 4.0 blocking read repair)', () => {
  /** n = 5, R = W = 3: a write that reached replicas 0, 1, 2 only; then a read at 4 that hears from 3 and 0. */
  function staleRead(readRepair: 'blocking' | 'async', dropRepairAcks: boolean) {
    const h = new Harness(5, { readRepair })
    h.net.partition([0, 1, 2, A], [3, 4])
    expect(h.run(0, A, { type: 'put', key: 'k', value: 'v1' })).toEqual({ type: 'ok' })
    h.net.partition([0, 3, 4, B], [1, 2])
    if (dropRepairAcks) h.net.intercept(m => (m.kind === 'protocol' && (m.message as QuorumKvMessage).type === 'ReadRepairAck' ? null : m))
    const read = h.send(4, B, { type: 'get', key: 'k' })
    h.net.deliverAll()
    return { h, answer: h.answer(4, read) }
  }

  it('blocking: answers only once the value read is on a W-quorum (here: after replica 3 acknowledged its repair)', () => {
    const { h, answer } = staleRead('blocking', false)
    expect(answer).toEqual({ type: 'value', value: 'v1' })
    expect(h.count('ReadRepair')).toBe(1) // to 3; the coordinator (4) repaired itself
    expect(h.digest(3)).toBe(h.digest(0))
    expect(h.digest(4)).toBe(h.digest(0))
    const stuck = staleRead('blocking', true)
    expect(stuck.answer, 'the value is on 0 and 4 only: 2 < W = 3').toBeNull()
  })

  it('blocking: replies after the first R that already hold the value count toward the W-quorum', () => {
    const h = new Harness(5)
    h.net.partition([2, 3, 4, A], [0, 1])
    expect(h.run(2, A, { type: 'put', key: 'k', value: 'v1' })).toEqual({ type: 'ok' })
    h.net.heal()
    // Repairs of 0 and 1 are never acknowledged: only 2 and 3, answering after them, can complete the quorum.
    h.net.intercept(m => (m.kind === 'protocol' && (m.message as QuorumKvMessage).type === 'ReadRepairAck' ? null : m))
    const read = h.send(4, B, { type: 'get', key: 'k' })
    h.net.deliverAll()
    expect(h.answer(4, read)).toEqual({ type: 'value', value: 'v1' })
    expect(h.count('ReadRepair')).toBe(2)
  })

  it('async (Dynamo): answers at once and repairs in the background', () => {
    const { answer } = staleRead('async', true)
    expect(answer).toEqual({ type: 'value', value: 'v1' })
  })

  it('sends exactly N-1 Read and N-1 ReadReply per read, and no repair when no replica is stale', () => {
    const h = new Harness(5)
    h.run(0, A, { type: 'put', key: 'k', value: 'v1' })
    const before = { read: h.count('Read'), reply: h.count('ReadReply') }
    h.run(3, B, { type: 'get', key: 'k' })
    expect([h.count('Read') - before.read, h.count('ReadReply') - before.reply, h.count('ReadRepair')]).toEqual([4, 4, 0])
  })

  it('sends exactly N-1 Write and N-1 WriteAck per write at batch size 1 (the descriptor\'s theory)', () => {
    for (const n of [3, 5]) {
      const m = measureMessagesPerCommand(quorumKv, n, { commands: 20 })
      expect(m.measured).toEqual({ Write: n - 1, WriteAck: n - 1 })
    }
  })
})

describe('what last-writer-wins without consensus gives up', () => {
  it('clock skew: a write acknowledged after another is ordered before it, and a quorum read returns the earlier one', () => {
    const h = new Harness(3)
    for (let i = 0; i < 500; i++) h.net.tick(0) // replica 0's clock runs 500 ticks ahead of replica 1's
    h.net.deliverAll()
    h.net.partition([0, 2, A], [1])
    expect(h.run(0, A, { type: 'put', key: 'k', value: 'early' })).toEqual({ type: 'ok' })
    h.net.partition([1, 2, B], [0])
    // Replica 1 never saw "early": its version (its own clock) is older, so replica 2 keeps "early" yet acknowledges.
    expect(h.run(1, B, { type: 'put', key: 'k', value: 'late' })).toEqual({ type: 'ok' })
    expect(h.run(1, B, { type: 'get', key: 'k' })).toEqual({ type: 'value', value: 'early' })
    const check = checkHistory(h.recorder.events)
    expect(check.verdict, check.explanation).toBe('not-linearizable')
  })

  it('compare-and-set is a read then a write: two concurrent ones both succeed', () => {
    const h = new Harness(3)
    const opA = recordInvoke(h.recorder, A, { type: 'cas', key: 'k', expected: null, value: 'a' }, 0)
    const opB = recordInvoke(h.recorder, B, { type: 'cas', key: 'k', expected: null, value: 'b' }, 1)
    const ra = h.send(0, A, { type: 'cas', key: 'k', expected: null, value: 'a' })
    const rb = h.send(1, B, { type: 'cas', key: 'k', expected: null, value: 'b' })
    h.net.deliverAll()
    expect(h.answer(0, ra)).toEqual({ type: 'cas', ok: true, current: 'a' })
    expect(h.answer(1, rb)).toEqual({ type: 'cas', ok: true, current: 'b' })
    opA.ok(2)
    opB.ok(3)
    const check = checkHistory(h.recorder.events)
    expect(check.verdict, check.explanation).toBe('not-linearizable')
  })

  it('weak quorums (R + W <= N, allowed on request): a read misses an acknowledged write', () => {
    const h = new Harness(3, { readQuorum: 1, writeQuorum: 1, allowWeakQuorums: true })
    h.net.partition([0, A], [1, 2, B])
    expect(h.run(0, A, { type: 'put', key: 'k', value: 'v1' })).toEqual({ type: 'ok' })
    expect(h.run(1, B, { type: 'get', key: 'k' })).toEqual({ type: 'value', value: null })
    const check = checkHistory(h.recorder.events)
    expect(check.verdict, check.explanation).toBe('not-linearizable')
  })

  it('partitions and concurrent writers (seeded random faults): the history fails the checker, yet the run passes (live, converged)', () => {
    const options = { protocol: quorumKv, n: 3, seed: 2, ops: 400, clients: 5, faults: 'random', faultWindowMs: 4000 }
    const report = runSimulation(options)
    const replay = replayCommand(options)
    expect(report.check.verdict, `expected the checker to find a violation; replay: ${replay}`).toBe('not-linearizable')
    expect(report.convergence?.ok, `${report.convergence?.reason}; replay: ${replay}`).toBe(true)
    expect(report.liveness.ok, `${report.liveness.problems.join('; ')}; replay: ${replay}`).toBe(true)
    expect(runPassed(report), `replay: ${replay}`).toBe(true)
  })
})

describe('convergence and durability', () => {
  it('anti-entropy (§4.7) brings a replica that missed writes up to date with no read of those keys', () => {
    const h = new Harness(3)
    h.net.partition([0, 1, A], [2])
    for (let i = 0; i < 10; i++) h.run(0, A, { type: 'put', key: `k${i}`, value: `v${i}` })
    expect(h.digest(2)).not.toBe(h.digest(0))
    h.net.heal()
    h.net.runUntil(() => h.digest(2) === h.digest(0), 200, 'replica 2 to converge through anti-entropy')
    expect(h.count('ReadRepair')).toBe(0)
  })

  it('restarts with its store from the last snapshot and the log after it; the log stays below compactEvery', () => {
    const h = new Harness(3, { compactEvery: 4 })
    for (let i = 0; i < 11; i++) h.run(i % 3, A, { type: 'put', key: `k${i % 5}`, value: `v${i}` })
    h.run(0, A, { type: 'delete', key: 'k1' })
    const before = h.digest(1)
    const durable = h.net.durable(1)
    expect(durable.snapshot).not.toBeNull()
    expect(durable.log.length).toBeLessThan(4)
    h.net.crash(1)
    h.net.restart(1)
    expect(h.digest(1)).toBe(before)
    // Its coordinator starts a new incarnation: old replies cannot be taken for new operations.
    expect(h.net.replica(1).status().epoch).toBe(2)
    expect(h.run(1, B, { type: 'get', key: 'k2' })).toEqual({ type: 'value', value: 'v7' })
  })
})
