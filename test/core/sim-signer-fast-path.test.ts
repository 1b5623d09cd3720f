/**
 * The modelled signer accepts a signature it made by comparison instead of recomputing the MAC (core/signers/sim.ts).
 * That shortcut must give exactly the verdict the recomputation gives: a plain copy of the signature (slice) always
 * takes the recomputing path, so the two are compared over random keys, messages and tampering.
 */
import { describe, expect, it } from 'vitest'
import { createRng } from '../../core/random.ts'
import { generatePrivateKey, signatureScheme } from '../../core/signers/index.ts'

const sim = signatureScheme('sim')
const verify = sim.verifier.verify.bind(sim.verifier)

describe('sim signer: accepting its own signatures without recomputing', () => {
  it('gives the verdict of the recomputed MAC, whatever is changed after signing', () => {
    const seed = 'sim-fast-path'
    const rng = createRng(seed)
    for (let i = 0; i < 200; i++) {
      const replay = `replay: seed "${seed}", iteration ${i}`
      const signer = sim.signer(generatePrivateKey(rng))
      const other = sim.signer(generatePrivateKey(rng))
      const message = new Uint8Array(rng.int(600))
      for (let j = 0; j < message.length; j++) message[j] = rng.int(256)
      const original = message.slice()
      const signature = signer.sign(message)
      // What is presented: the message, key and signature, each possibly changed (in place, or another one).
      const kind = rng.int(7)
      let key = signer.publicKey
      let presented = message
      if (kind === 1 && message.length > 0) message[rng.int(message.length)]! ^= 1 << rng.int(8) // caller reuses its array
      if (kind === 2) signature[rng.int(64)]! ^= 1 << rng.int(8) // someone writes to the signature it holds
      if (kind === 3) key = other.publicKey
      if (kind === 4) presented = new Uint8Array([...message, rng.int(256)])
      if (kind === 5 && message.length > 0) presented = message.subarray(1)
      if (kind === 6) signer.publicKey[rng.int(32)]! ^= 1 << rng.int(8) // the key's holder writes to it
      const fast = verify(key, presented, signature)
      const recomputed = verify(key, presented, signature.slice())
      expect(fast, `${replay} (change ${kind})`).toBe(recomputed)
      // Unchanged inputs verify; the original bytes still verify however the caller's array changed since.
      if (kind === 0) expect(fast, replay).toBe(true)
      if (kind === 1 && message.length > 0) {
        expect(fast, replay).toBe(false)
        expect(verify(key, original, signature), replay).toBe(true)
      }
      if (kind === 2 || kind === 3 || kind === 4 || (kind === 5 && message.length > 0)) expect(fast, replay).toBe(false)
    }
  })

  it('a signature changed in place and changed back verifies again; its original message still verifies', () => {
    const signer = sim.signer(generatePrivateKey(createRng('sim-fast-path-restore')))
    const message = new Uint8Array([1, 2, 3, 4])
    const signature = signer.sign(message)
    signature[0]! ^= 0xff
    expect(verify(signer.publicKey, message, signature)).toBe(false)
    signature[0]! ^= 0xff
    expect(verify(signer.publicKey, message, signature)).toBe(true)
    message[0] = 9
    expect(verify(signer.publicKey, message, signature)).toBe(false)
    expect(verify(signer.publicKey, new Uint8Array([1, 2, 3, 4]), signature)).toBe(true)
  })

  it('arrays made from a signature are plain copies that verify by recomputation', () => {
    const signer = sim.signer(generatePrivateKey(createRng('sim-fast-path-copies')))
    const message = new Uint8Array([5, 6, 7])
    const signature = signer.sign(message)
    for (const copy of [signature.slice(), signature.subarray(0), signature.map(b => b), new Uint8Array(signature)]) {
      expect(Object.getPrototypeOf(copy)).toBe(Uint8Array.prototype)
      expect(verify(signer.publicKey, message, copy)).toBe(true)
      expect(verify(signer.publicKey, new Uint8Array([5, 6]), copy)).toBe(false)
    }
  })

  it('no other code can make one: its constructor refuses, and a borrowed prototype proves nothing', () => {
    const signer = sim.signer(generatePrivateKey(createRng('sim-fast-path-mint')))
    const signature = signer.sign(new Uint8Array([1]))
    const Made = signature.constructor as new (...args: unknown[]) => Uint8Array
    expect(() => new Made(Symbol('sim-signature'), signer.publicKey, new Uint8Array([2]), signature)).toThrow(/sim signer only/)
    const fake = Object.setPrototypeOf(signature.slice(), Object.getPrototypeOf(signature) as object) as Uint8Array
    expect(verify(signer.publicKey, new Uint8Array([2]), fake)).toBe(false)
    expect(verify(signer.publicKey, new Uint8Array([1]), fake)).toBe(true) // its bytes are the real signature's
  })
})
