/**
 * A signer and verifier that count their calls and the wall time spent in them, so a live replica can report which
 * share of its CPU went to signatures (the simulator charges them in its CPU model; a real process has to measure).
 * The clock is `performance.now()` around each call: the calls are synchronous CPU work on this thread, so their wall
 * time is their CPU time unless the OS deschedules the thread in the middle of one (on a loaded machine the share is
 * then an upper bound).
 */
import type { Signer, Verifier } from '../signer.ts'

export interface SignatureTime {
  readonly signs: number
  readonly verifies: number
  /** Milliseconds spent inside sign() and verify() together. */
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
  let ms = 0
  return {
    signer: {
      publicKey: signer.publicKey,
      sign(message) {
        const start = performance.now()
        try {
          return signer.sign(message)
        } finally {
          ms += performance.now() - start
          signs++
        }
      },
    },
    verifier: {
      verify(publicKey, message, signature) {
        const start = performance.now()
        try {
          return verifier.verify(publicKey, message, signature)
        } finally {
          ms += performance.now() - start
          verifies++
        }
      },
    },
    time: () => ({ signs, verifies, ms }),
  }
}
