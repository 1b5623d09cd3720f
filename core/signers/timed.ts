/**
 * A signer and verifier that count their calls and estimate the CPU time spent in them, so a live replica can report
 * which share of its CPU went to signatures (the simulator charges them in its CPU model; a real process measures).
 *
 * The clock is this thread's CPU time (`process.threadCpuUsage()`), not wall time: on a loaded machine the OS
 * deschedules the thread in the middle of a call, and wall time would then count other processes' work. Reading that
 * clock costs a few microseconds, a tenth of a verification, so only every SAMPLE_EVERY-th call of each kind is timed
 * and the total is estimated as the mean of the timed calls times the number of calls (sign calls are alike, and so
 * are verify calls: the messages are small and Ed25519's cost hardly depends on their length).
 */
import type { Signer, Verifier } from '../signer.ts'

const SAMPLE_EVERY = 8

export interface SignatureTime {
  readonly signs: number
  readonly verifies: number
  /** Estimated CPU milliseconds spent inside sign() and verify() together. */
  readonly ms: number
}

export interface TimedSignatures {
  readonly signer: Signer
  readonly verifier: Verifier
  /** Totals since creation (monotonic up to the estimate: a benchmark subtracts two readings). */
  time(): SignatureTime
}

/** Calls of one kind: how many, and the CPU time of the sampled ones. */
class CallTimer {
  calls = 0
  private timed = 0
  private timedUs = 0

  run<T>(call: () => T): T {
    if (this.calls++ % SAMPLE_EVERY !== 0) return call()
    const start = process.threadCpuUsage()
    try {
      return call()
    } finally {
      const used = process.threadCpuUsage(start)
      this.timed++
      this.timedUs += used.user + used.system
    }
  }

  estimatedMs(): number {
    return this.timed === 0 ? 0 : this.timedUs / this.timed * this.calls / 1000
  }
}

export function timedSignatures(signer: Signer, verifier: Verifier): TimedSignatures {
  const signs = new CallTimer()
  const verifies = new CallTimer()
  return {
    signer: { publicKey: signer.publicKey, sign: message => signs.run(() => signer.sign(message)) },
    verifier: { verify: (publicKey, message, signature) => verifies.run(() => verifier.verify(publicKey, message, signature)) },
    time: () => ({ signs: signs.calls, verifies: verifies.calls, ms: signs.estimatedMs() + verifies.estimatedMs() }),
  }
}
