/**
 * Measurements of this machine during one run (wall time, CPU time, peak memory), shared by simulated and live runs.
 * These are host figures: noisy, and kept apart from the simulated ones.
 */
import type { HostFigures } from './figures.ts'

export class HostMeter {
  private readonly wallStart = performance.now()
  private readonly cpuStart = process.cpuUsage()
  private peakRss = process.memoryUsage.rss()
  private peakHeap = process.memoryUsage().heapUsed

  /** Record current memory use (call periodically: peaks between samples are missed). */
  sample(): void {
    this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss())
    this.peakHeap = Math.max(this.peakHeap, process.memoryUsage().heapUsed)
  }

  /** The figures for the run so far, given its network deliveries and measured operations. */
  finish(deliveries: number, ops: number): HostFigures {
    const cpu = process.cpuUsage(this.cpuStart)
    this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss())
    const wallMs = performance.now() - this.wallStart
    return {
      wallMs: Math.round(wallMs),
      cpuUserMs: Math.round(cpu.user / 1000),
      cpuSystemMs: Math.round(cpu.system / 1000),
      peakRssBytes: this.peakRss,
      peakHeapBytes: this.peakHeap,
      deliveriesPerSec: Math.round(deliveries / (wallMs / 1000)),
      opsPerSec: Math.round(ops / (wallMs / 1000)),
      cpuUsPerOp: ops > 0 ? Math.round((cpu.user + cpu.system) / ops) : 0,
    }
  }
}
