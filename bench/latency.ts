/**
 * Latency recording with HdrHistogram: values in virtual microseconds (integers, 3 significant digits), reported in
 * milliseconds.
 */
import * as hdr from 'hdr-histogram-js'

export interface LatencySummary {
  readonly count: number
  readonly meanMs: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly p999: number
  readonly max: number
}

export const PERCENTILES = ['p50', 'p90', 'p99', 'p999'] as const

export class LatencyRecorder {
  private readonly h = hdr.build({
    bitBucketSize: 64, autoResize: true, lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3, useWebAssembly: false,
  })

  recordMs(ms: number): void {
    this.h.recordValue(Math.max(1, Math.round(ms * 1000)))
  }

  /** The histogram in HdrHistogram's compressed base64 form, to carry it to another process. */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.h)
  }

  /**
   * Add the samples of an encoded histogram (another load generator's): percentiles of the merged histogram are the
   * percentiles of all samples together, which averaging each process's percentiles would not give.
   */
  addEncoded(encoded: string): void {
    this.h.add(hdr.decodeFromCompressedBase64(encoded, 64, false))
  }

  summary(): LatencySummary {
    const h = this.h
    // HdrHistogram answers a percentile with its bucket's highest equivalent value, which can exceed the largest
    // value recorded: clamp so p99.9 <= max always holds.
    const ms = (us: number) => round3(Math.min(us, h.maxValue) / 1000)
    if (h.totalCount === 0) return { count: 0, meanMs: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 }
    return {
      count: h.totalCount,
      meanMs: ms(h.mean),
      p50: ms(h.getValueAtPercentile(50)),
      p90: ms(h.getValueAtPercentile(90)),
      p99: ms(h.getValueAtPercentile(99)),
      p999: ms(h.getValueAtPercentile(99.9)),
      max: ms(h.maxValue),
    }
  }
}

/** Round to 3 decimals so figures print and compare stably. */
export function round3(x: number): number {
  return Math.round(x * 1000) / 1000
}
