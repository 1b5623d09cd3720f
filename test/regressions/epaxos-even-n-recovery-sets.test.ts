/**
 * Regression (soak, n = 6 seed 62, nemesis): two interfering commands executed in different orders.
 *
 * With n = 6 the fast quorum was 2f = 4, so a recoverer took a command as possibly fast-committed when 4 + 4 - 6 = 2
 * replicas other than its leader had pre-accepted it unchanged. On the two sides of a 3 | 3 partition, each leader's
 * command reached the two others of its side and the leaders crashed; after the heal each command was recovered by a
 * majority of its own side plus one replica of the other that had never heard of it, each took its leader's
 * attributes (which could not name the other command), and neither command depended on the other. The leader plus
 * those 2 replicas are 3 of 6: two such sets need not meet. The fast quorum for even n is now n - 1, which makes them
 * meet (core/quorum.ts epaxosFastQuorum, checked against brute force in test/core/quorum.test.ts).
 */
import { describe, expect, it } from 'vitest'
import { encodeKvCommand } from '../../core/kv.ts'
import { epaxosFastQuorum, epaxosRecoveryThreshold } from '../../core/quorum.ts'
import type { ClientRequest } from '../../core/types.ts'
import { epaxos } from '../../protocols/epaxos/descriptor.ts'
import type { EpaxosReplica } from '../../protocols/epaxos/replica.ts'
import { ReplicaNetwork } from '../support/replica-network.ts'

function put(clientId: number, key: string, value: string): ClientRequest {
  return { clientId, seq: 1, readOnly: false, op: encodeKvCommand({ type: 'put', key, value }), signature: new Uint8Array(0) }
}

describe('epaxos: recovery on both sides of an even partition', () => {
  it('sizes for n = 6: a fast quorum of 5, and recovery needs 3 unchanged pre-accepts besides the leader', () => {
    expect(epaxosFastQuorum(6)).toBe(5)
    expect(epaxosRecoveryThreshold(6)).toBe(3)
  })

  it('two interfering commands whose leaders crashed in a 3 | 3 split end up ordered the same everywhere', () => {
    const net = new ReplicaNetwork<unknown, EpaxosReplica>({ protocol: epaxos, n: 6, seed: 'even-split', clients: 0, workload: false })
    net.partition([0, 3, 5], [1, 2, 4])
    net.propose(0, put(1000, 'a', 'left'))
    net.propose(2, put(1001, 'a', 'right'))
    // Each leader reaches its own side (the fast quorum does not answer in time: it widens to everyone it can reach).
    net.run(8)
    net.crash(0)
    net.crash(2)
    net.heal()
    const done = () => [1, 3, 4, 5].every(id => net.replica(id).instance(0, 1)?.executed === true &&
      net.replica(id).instance(2, 1)?.executed === true)
    expect(net.stepUntil(done, 2000), net.describe()).toBe(true)
    // The network's per-key order check threw above if any two replicas executed them in different orders; and each
    // of the two now names the other or is named by it.
    const left = net.replica(1).instance(0, 1)!
    const right = net.replica(1).instance(2, 1)!
    expect(left.deps[2]! >= 1 || right.deps[0]! >= 1).toBe(true)
    const orders = [1, 3, 4, 5].map(id => net.historyOf(id).join(' '))
    expect(new Set(orders).size).toBe(1)
  })
})
