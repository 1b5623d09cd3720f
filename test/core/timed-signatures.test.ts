import { describe, expect, it } from 'vitest'
import { generatePrivateKey, signatureScheme } from '../../core/signers/index.ts'
import { timedSignatures } from '../../core/signers/timed.ts'

describe('timed signatures (the live replicas\' signature CPU share)', () => {
  it('signs and verifies exactly as the wrapped scheme, counting every call and estimating the CPU time spent in them', () => {
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
    const t = timed.time()
    expect({ signs: t.signs, verifies: t.verifies }).toEqual({ signs: 1, verifies: 2 })
    // The first call of each kind is timed (then every 8th), so even one call gives an estimate.
    expect(t.ms).toBeGreaterThan(0)
    // 64 more verifications cost more CPU than the first two, and the estimate scales with the count.
    for (let i = 0; i < 64; i++) timed.verifier.verify(inner.publicKey, message, signature)
    expect(timed.time().verifies).toBe(66)
    expect(timed.time().ms).toBeGreaterThan(t.ms)
  })

  it('counts a call that throws, and lets the error through', () => {
    const timed = timedSignatures({ publicKey: new Uint8Array(32), sign: () => { throw new Error('no key') } },
      { verify: () => true })
    expect(() => timed.signer.sign(new Uint8Array(1))).toThrow('no key')
    expect(timed.time().signs).toBe(1)
  })
})
