/**
 * A seeded randomized driver for EPaxos on the shared replica test network: seeded loss, duplication and reordering,
 * crashes and restarts (within f), isolated replicas, small snapshot intervals (compaction, restart from snapshots),
 * a KV workload on few keys (many conflicts), then a full heal and one more write that must commit. Checked after
 * every step (EPaxos §4.2 and the tech report's proofs):
 *
 * - stability: a committed instance's batch, seq and deps never change, at any replica, across restarts;
 * - consistency: of two interfering committed instances, one has the other in its deps (what makes every replica
 *   execute them in the same order; the network itself also checks, per conflict key, that they are executed in the
 *   same order everywhere);
 * - nontriviality: every committed request was submitted by a client.
 */
import { epaxos } from '../../protocols/epaxos/descriptor.ts'
import { interferes, type Instance } from '../../protocols/epaxos/instance.ts'
import type { EpaxosMessage, PreAccept } from '../../protocols/epaxos/messages.ts'
import type { EpaxosReplica } from '../../protocols/epaxos/replica.ts'
import { healAndProbe, ReplicaNetwork, type RandomRunResult } from '../support/replica-network.ts'

export interface RandomRun {
  readonly n: number
  readonly seed: number
  /** Keys in the workload (fewer: more interfering commands). */
  readonly keys?: number
  /**
   * Negative control: this replica answers every PreAccept as if it had seen nothing that interferes (the dependency
   * tracking EPaxos rests on, broken): the consistency invariant must catch it.
   */
  readonly liar?: number
  readonly ticks?: number
}

export type { RandomRunResult }

export const RECOVERY_BOUND_TICKS = 600

export function replayLine(r: RandomRun): string {
  return `EPAXOS_REPLAY='${JSON.stringify(r)}' npx vitest run test/epaxos/randomized.test.ts`
}

const name = (i: Instance) => `${i.replica}.${i.num}`
const signature = (i: Instance) => `${i.requests.map(r => `${r.clientId}:${r.seq}`).join(',')}|${i.seq}|${i.deps.join(',')}`
const dependsOn = (a: Instance, b: Instance) => b.num <= (a.deps[b.replica] ?? 0) && !(a.replica === b.replica && a.num === b.num)

export function runRandomized(r: RandomRun): RandomRunResult {
  const ticks = r.ticks ?? 500
  const f = epaxos.faultsTolerated(r.n)
  const net = new ReplicaNetwork<EpaxosMessage, EpaxosReplica>({
    protocol: epaxos, n: r.n, seed: r.seed, clients: 3, workload: { keys: r.keys ?? 2 },
    snapshotInterval: 10, onViolation: 'record', replay: replayLine(r), trace: process.env['EPAXOS_TRACE'] === '1',
  })
  const rng = net.rng.fork('epaxos-randomized')
  net.faults = { loss: rng.next() * 0.05, duplicate: rng.next() * 0.05, jitter: rng.int(4) }

  if (r.liar !== undefined) {
    const proposals = new Map<string, PreAccept>()
    net.intercept(m => {
      if (m.kind !== 'protocol') return undefined
      const msg = m.message as EpaxosMessage
      if (msg.type === 'PreAccept') proposals.set(`${msg.replica}.${msg.num}.${msg.ballot}`, msg)
      if (msg.type === 'PreAcceptOK' && m.from === r.liar) {
        const p = proposals.get(`${msg.replica}.${msg.num}.${msg.ballot}`)
        if (p !== undefined) return { ...m, message: { ...msg, seq: p.seq, deps: p.deps, unchanged: msg.ballot === 0 } }
      }
      return undefined
    })
  }

  // The first committed version of every instance, and the committed instances by conflict key.
  const committed = new Map<string, { signature: string; inst: Instance }>()
  const byKey = new Map<string, Instance[]>()
  const checkNewlyCommitted = (inst: Instance): void => {
    const copy: Instance = { ...inst, deps: inst.deps.slice() }
    committed.set(name(inst), { signature: signature(inst), inst: copy })
    for (const req of inst.requests) {
      const client = net.clients.find(c => c.id === req.clientId)
      if (client === undefined || req.seq > client.seq) net.fail(`nontriviality: ${name(inst)} commits ${req.clientId}:${req.seq}, never submitted`)
    }
    const others = new Set<Instance>()
    for (const k of copy.keys) for (const other of byKey.get(k) ?? []) others.add(other)
    for (const other of others) {
      if (interferes(copy.keys, other.keys) && !dependsOn(copy, other) && !dependsOn(other, copy)) {
        net.fail(`consistency: interfering ${name(copy)} (deps ${copy.deps.join(',')}) and ${name(other)} ` +
          `(deps ${other.deps.join(',')}) are committed and neither depends on the other`)
      }
    }
    for (const k of copy.keys) {
      let list = byKey.get(k)
      if (list === undefined) byKey.set(k, list = [])
      list.push(copy)
    }
  }
  net.onStep(() => {
    for (const node of net.up) {
      if (node.replica === null) continue
      for (const inst of node.replica.heldInstances()) {
        if (inst.status !== 'committed') continue
        const known = committed.get(name(inst))
        if (known === undefined) checkNewlyCommitted(inst)
        else if (known.signature !== signature(inst)) {
          net.fail(`stability: ${name(inst)} at replica ${node.id} is ${signature(inst)}, committed as ${known.signature}`)
        }
      }
    }
  })

  const faulty = new Set<number>()
  for (let t = 0; t < ticks && net.violations.length === 0; t++) {
    if (rng.chance(0.03)) {
      const roll = rng.int(3)
      const candidates = net.ids.filter(id => !faulty.has(id) && id !== r.liar)
      if (roll === 0 && faulty.size < f && candidates.length > 0) {
        const id = candidates[rng.int(candidates.length)]!
        if (process.env['EPAXOS_TRACE'] === '1') console.log(`t=${net.now} CRASH ${id}`)
        net.crash(id)
        faulty.add(id)
      } else if (roll === 1 && faulty.size < f && candidates.length > 0) {
        const id = candidates[rng.int(candidates.length)]!
        net.isolate(id)
        faulty.add(id)
      } else {
        net.heal()
        for (const id of faulty) if (net.isDown(id)) { if (process.env['EPAXOS_TRACE'] === '1') console.log(`t=${net.now} RESTART ${id}`); net.restart(id) }
        faulty.clear()
      }
    }
    net.step()
  }
  const acknowledged = net.completedRequests
  let recoveryTicks: number | null = null
  if (net.violations.length === 0) recoveryTicks = healAndProbe(net, faulty, r.seed, RECOVERY_BOUND_TICKS)
  return { violations: [...net.violations], acknowledged, recoveryTicks, replay: replayLine(r) }
}
