/**
 * A signer and verifier that count their calls and the CPU time spent in them, so a live replica can report which
 * share of its CPU went to signatures (the simulator charges them in its CPU model; a real process measures).
 *
 * The clock is this thread's CPU time (`process.threadCpuUsage()`), not wall time: on a loaded machine the OS
 * deschedules the thread in the middle of a call, and wall time then counts other processes' work (it read 100%).
 * Linux advances that clock in scheduler ticks (4 ms here), so one call reads 0 or a whole tick: like a sampling
 * profiler, the sum over many calls is an unbiased estimate, good to a few percent over a window of a second of CPU
 * time. Reading the clock costs about 2 us, twice per call (a few percent of a verification).
 */
import type { Signer, Verifier } from '../signer.ts'

export interface SignatureTime {
  readonly signs: number
  readonly verifies: number
  /** CPU milliseconds spent inside sign() and verify() together (an estimate, see above). */
  readonly ms: number
}

export interface TimedSignatures {
  readonly signer: Signer
  readonly verifier: Verifier
  /** Totals since creation (monotonic: a benchmark subtracts two readings). */
  time(): SignatureTime
}

export function timedSignatures(signer: Signer, verifier: Verifier): TimedSignatures {
  let signs = 0
  let verifies = 0
  let us = 0
  const timed = <T>(call: () => T): T => {
    const start = process.threadCpuUsage()
    try {
      return call()
    } finally {
      const used = process.threadCpuUsage(start)
      us += used.user + used.system
    }
  }
  return {
    signer: {
      publicKey: signer.publicKey,
      sign(message) {
        signs++
        return timed(() => signer.sign(message))
      },
    },
    verifier: {
      verify(publicKey, message, signature) {
        verifies++
        return timed(() => verifier.verify(publicKey, message, signature))
      },
    },
    time: () => ({ signs, verifies, ms: us / 1000 }),
  }
}
