import { describe, expect, it } from 'vitest'
import { generatePrivateKey, signatureScheme } from '../../core/signers/index.ts'
import { timedSignatures } from '../../core/signers/timed.ts'

describe('timed signatures (the live replicas\' signature CPU share)', () => {
  it('signs and verifies exactly as the wrapped scheme, counting every call and the CPU time spent in them', () => {
    const scheme = signatureScheme('node')
    const key = generatePrivateKey()
    const inner = scheme.signer(key)
    const timed = timedSignatures(inner, scheme.verifier)
    expect(timed.time()).toEqual({ signs: 0, verifies: 0, ms: 0 })
    const message = new TextEncoder().encode('prepare v0 s1')
    const signature = timed.signer.sign(message)
    expect(signature).toEqual(inner.sign(message))
    expect(timed.signer.publicKey).toEqual(inner.publicKey)
    expect(timed.verifier.verify(inner.publicKey, message, signature)).toBe(true)
    const forged = signature.slice()
    forged[0]! ^= 1
    expect(timed.verifier.verify(inner.publicKey, message, forged)).toBe(false)
    expect(timed.time()).toMatchObject({ signs: 1, verifies: 2 })
    // The thread's CPU clock moves in scheduler ticks, so a few calls may read 0; a thousand verifications (tens of ms
    // of CPU) are seen, and not as more CPU than the whole loop used.
    const before = process.threadCpuUsage()
    for (let i = 0; i < 1000; i++) timed.verifier.verify(inner.publicKey, message, signature)
    const loop = process.threadCpuUsage(before)
    const t = timed.time()
    expect(t.verifies).toBe(1002)
    expect(t.ms).toBeGreaterThan(0)
    expect(t.ms).toBeLessThanOrEqual((loop.user + loop.system) / 1000 + 10)
  })

  it('counts a call that throws, and lets the error through', () => {
    const timed = timedSignatures({ publicKey: new Uint8Array(32), sign: () => { throw new Error('no key') } },
      { verify: () => true })
    expect(() => timed.signer.sign(new Uint8Array(1))).toThrow('no key')
    expect(timed.time().signs).toBe(1)
  })
})
