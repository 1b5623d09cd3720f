/**
 * A deliberately broken key-value store for tests of the checker's reports and views: every `every`-th read of a key
 * that has been overwritten answers with the value before the last write (a stale read), deterministically, so the
 * run has a real linearizability violation that every replica agrees on (no safety violation, only a wrong answer).
 */
import { decodeKvCommand, encodeKvResult, KvStore } from '../../core/kv.ts'
import type { StateMachine, StateMachineFactory } from '../../core/state-machine.ts'

export function staleReadKv(every = 7): StateMachineFactory {
  return (): StateMachine => {
    const store = new KvStore()
    const previous = new Map<string, string | null>()
    let reads = 0
    const answer = (command: Uint8Array, mutate: boolean): Uint8Array => {
      const c = decodeKvCommand(command)
      if (c.type === 'get' && previous.has(c.key) && ++reads % every === 0) {
        return encodeKvResult({ type: 'value', value: previous.get(c.key)! })
      }
      if (c.type === 'put' || c.type === 'cas' || c.type === 'delete') previous.set(c.key, store.get(c.key) ?? null)
      return mutate ? store.apply(command) : store.query(command)
    }
    return {
      apply: command => answer(command, true),
      query: command => answer(command, false),
      snapshot: () => store.snapshot(),
      restore: snapshot => store.restore(snapshot),
    }
  }
}
