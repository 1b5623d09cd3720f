/**
 * The key-value store's sequential specification, per key: the state is the key's value, null when absent.
 * Keys are independent, so the checker searches each key's operations separately.
 */
import type { CasValue } from '../history.ts'
import type { Model } from './model.ts'

export type KvKeyState = string | null

const show = (v: string | null): string => (v === null ? 'absent' : JSON.stringify(v))

export const kvKeyModel: Model<KvKeyState> = {
  init: null,

  step(state, op) {
    switch (op.f) {
      case 'read': return op.output === state ? state : undefined
      case 'write': return op.input as string
      case 'delete': return null
      case 'cas': {
        const [expected, next] = op.input as CasValue
        return expected === state ? next : undefined
      }
    }
  },

  readOnly: (op) => op.f === 'read',

  // null and "null" differ: one is bare, the other quoted.
  key: (state) => JSON.stringify(state),

  whyNot(state, op) {
    if (op.f === 'read') return `reads ${show(op.output)} but the value is ${show(state)}`
    if (op.f === 'cas') return `expects ${show((op.input as CasValue)[0])} but the value is ${show(state)}`
    return 'cannot fail'
  },

  /**
   * An unknown-outcome write or cas whose new value nothing observes (no read returns it, no cas expects it) can
   * be left out: in a linearization that includes it, the next operation to look at the state would have to
   * observe its value, so only blind writes and deletes follow it before its value is overwritten, and those do
   * the same without it.
   */
  prune(operations) {
    const observed = new Set<string | null>()
    for (const op of operations) {
      if (op.f === 'read' && op.status === 'ok') observed.add(op.output)
      if (op.f === 'cas') observed.add((op.input as CasValue)[0])
    }
    return operations.filter((op) => {
      if (op.status === 'ok') return true
      if (op.f === 'write') return observed.has(op.input as string)
      if (op.f === 'cas') return observed.has((op.input as CasValue)[1])
      return true
    })
  },

  show,
}
