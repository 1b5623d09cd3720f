/**
 * The simulator's shared log for a multi-group node: one MemoryStorage per group (so every disk fault of
 * memory-storage.ts works per group), all behind one modelled disk that does group commit: a sync asked for while an
 * fsync runs waits for the next one, and that next one covers every group that asked meanwhile, as one fdatasync of a
 * shared WAL covers every record before it. A crash loses the unsynced writes of every group at once.
 */
import type { GroupedStorage } from '../storage.ts'
import { MemoryStorage } from './memory-storage.ts'

export interface GroupedMemoryStorageOptions {
  /** Start one fsync of the shared log; call `done` later (never synchronously) when it finishes. */
  readonly fsync: (done: () => void) => void
}

export class GroupedMemoryStorage implements GroupedStorage {
  private readonly o: GroupedMemoryStorageOptions
  private readonly views = new Map<number, MemoryStorage>()
  /** Completions waiting for the fsync in flight, and for the one after it. */
  private inFlight: Array<() => void> | null = null
  private next: Array<() => void> = []
  /** Bumped by crash(): an fsync in flight when the node died never completes. */
  private epoch = 0
  /** fsyncs of the shared log (what group commit saves is the sum of the groups' syncs minus this). */
  fsyncs = 0

  constructor(options: GroupedMemoryStorageOptions) {
    this.o = options
  }

  group(group: number): MemoryStorage {
    let view = this.views.get(group)
    if (view === undefined) {
      view = new MemoryStorage({ defer: fn => this.join(fn) })
      this.views.set(group, view)
    }
    return view
  }

  groups(): number[] {
    return [...this.views.keys()].sort((a, b) => a - b)
  }

  close(): void { /* nothing to release in memory */ }

  /** Power loss of the node: every group's unsynced writes are gone. */
  crash(): void {
    for (const view of this.views.values()) view.crash()
    this.epoch++
    this.inFlight = null
    this.next = []
  }

  private join(fn: () => void): void {
    if (this.inFlight === null) this.start([fn])
    else this.next.push(fn)
  }

  private start(batch: Array<() => void>): void {
    this.inFlight = batch
    this.fsyncs++
    const epoch = this.epoch
    this.o.fsync(() => {
      if (epoch !== this.epoch) return
      const done = this.inFlight ?? []
      this.inFlight = null
      // The next fsync starts before these completions run, so a sync they ask for queues behind the ones already
      // waiting: each group's completions stay in call order.
      if (this.next.length > 0) {
        const waiting = this.next
        this.next = []
        this.start(waiting)
      }
      for (const fn of done) fn()
    })
  }
}
