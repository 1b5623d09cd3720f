/**
 * The runtime one simulated node sees: the simulator's clock and timers, except that the node can be paused. A pause
 * is a process that stops running for a while and keeps its state (a long GC, SIGSTOP, a VM migration): timers that
 * come due meanwhile, fsyncs that finish and messages that arrive all wait, and run in order once it resumes, as a
 * stopped process finds them queued when it is scheduled again. Nothing is lost, everything is late.
 */
import type { HostRuntime } from '../../core/runtime.ts'
import type { Simulator } from './simulator.ts'

export class NodeRuntime implements HostRuntime {
  private readonly sim: Simulator
  private paused = false
  /** Work that came due while paused, in the order it came due. */
  private held: Array<() => void> = []

  constructor(sim: Simulator) {
    this.sim = sim
  }

  now(): number {
    return this.sim.now()
  }

  setTimer(delayMs: number, fn: () => void): () => void {
    let cancelled = false
    const cancel = this.sim.setTimer(delayMs, () => this.run(() => { if (!cancelled) fn() }))
    return () => { cancelled = true; cancel() }
  }

  /** Run `fn` after `delayMs` (late if the node is paused then), for callers that never cancel: no closures to allocate. */
  after(delayMs: number, fn: () => void): void {
    this.sim.post(this.sim.now() + Math.max(0, delayMs), this.runTask, fn)
  }

  private readonly runTask = (fn: () => void): void => this.run(fn)

  /** Run `fn` now, or when the node resumes if it is paused. */
  run(fn: () => void): void {
    if (this.paused) this.held.push(fn)
    else fn()
  }

  get isPaused(): boolean {
    return this.paused
  }

  pause(): void {
    this.paused = true
  }

  /** Carry out what waited, each as its own event, then run normally again. */
  resume(): void {
    if (!this.paused) return
    this.paused = false
    const held = this.held
    this.held = []
    for (const fn of held) this.sim.setTimer(0, () => this.run(fn))
  }

  /** A crash: what waited belonged to the dead process. */
  discard(): void {
    this.paused = false
    this.held = []
  }
}
