/**
 * EPaxos execution (Moraru et al. §4.3.2 "Execution algorithm", Figure 3): a committed instance runs once every
 * instance it transitively depends on is committed; the dependency graph is split into strongly connected components
 * (Tarjan), components run in reverse topological order (dependencies first), and inside a component in increasing
 * seq, ties broken by (replica, number). Every replica holds the same committed graph, so every replica runs
 * interfering commands in the same order.
 *
 * Edges: instance v depends on instance (q, j) when j <= v.deps[q] and the two interfere (the compact deps vector of
 * the reference implementation names "every interfering instance of q up to deps[q]"). An instance known here only as
 * pre-accepted or accepted with a non-empty batch has its command fixed (recovery commits that batch or a no-op), so
 * when that batch does not interfere with v it can be passed over before it commits. Anything else uncommitted blocks.
 */
import type { Instance } from './instance.ts'
import { interferes } from './instance.ts'

export interface ExecutionGraph {
  readonly n: number
  /** The instance, or undefined when this replica does not hold it. */
  get(position: number, num: number): Instance | undefined
  /** Every instance of `position` up to this number is executed here. */
  executedUpTo(position: number): number
}

export interface ExecutionPlan {
  /** Components ready to run, dependencies first, each in its execution order. */
  readonly components: Instance[][]
  /** The first instance found undecided on the way (the search stopped there), or null. */
  readonly blockedOn: { readonly position: number; readonly num: number } | null
}

/** Deterministic order inside a strongly connected component: seq, then the instance's name. */
export function compareInComponent(a: Instance, b: Instance): number {
  return a.seq - b.seq || a.replica - b.replica || a.num - b.num
}

interface Frame {
  readonly v: Instance
  readonly edges: Instance[]
  next: number
}

/**
 * Tarjan's algorithm from `root` over committed, unexecuted instances, iterative (dependency chains can be long).
 * Returns the components it completed before the first undecided dependency, if any: each of those is final, since
 * Tarjan completes a component only after everything it reaches.
 */
export function planExecution(root: Instance, graph: ExecutionGraph): ExecutionPlan {
  const components: Instance[][] = []
  const index = new Map<Instance, number>()
  const low = new Map<Instance, number>()
  const onStack = new Set<Instance>()
  const stack: Instance[] = []
  const frames: Frame[] = []
  let counter = 0
  let blockedOn: { position: number; num: number } | null = null

  const edgesOf = (v: Instance): Instance[] | null => {
    const out: Instance[] = []
    for (let q = 0; q < graph.n; q++) {
      const upTo = v.deps[q] ?? 0
      for (let j = graph.executedUpTo(q) + 1; j <= upTo; j++) {
        if (q === v.replica && j === v.num) continue
        const w = graph.get(q, j)
        if (w !== undefined && w.executed) continue
        if (w === undefined || w.status !== 'committed') {
          if (w !== undefined && w.requests.length > 0 && !interferes(v.keys, w.keys)) continue
          blockedOn = { position: q, num: j }
          return null
        }
        if (interferes(v.keys, w.keys)) out.push(w)
      }
    }
    return out
  }

  const visit = (v: Instance): boolean => {
    const edges = edgesOf(v)
    if (edges === null) return false
    index.set(v, counter)
    low.set(v, counter)
    counter++
    stack.push(v)
    onStack.add(v)
    frames.push({ v, edges, next: 0 })
    return true
  }

  if (!visit(root)) return { components, blockedOn }
  while (frames.length > 0) {
    const frame = frames[frames.length - 1]!
    if (frame.next < frame.edges.length) {
      const w = frame.edges[frame.next++]!
      if (!index.has(w)) {
        if (!visit(w)) return { components, blockedOn }
      } else if (onStack.has(w)) {
        low.set(frame.v, Math.min(low.get(frame.v)!, index.get(w)!))
      }
      continue
    }
    frames.pop()
    const v = frame.v
    if (frames.length > 0) {
      const parent = frames[frames.length - 1]!.v
      low.set(parent, Math.min(low.get(parent)!, low.get(v)!))
    }
    if (low.get(v) === index.get(v)) {
      const component: Instance[] = []
      let w: Instance
      do {
        w = stack.pop()!
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      component.sort(compareInComponent)
      components.push(component)
    }
  }
  return { components, blockedOn }
}
