/**
 * The modelled signer accepts a signature it made, or bytes it verified lately, by comparison instead of recomputing
 * the MAC (core/signers/sim.ts). Those shortcuts must give exactly the verdicts of an unforgeable scheme: true for the
 * unchanged key, message and signature, false once any of them changed, whichever array is presented.
 */
import { describe, expect, it } from 'vitest'
import { createRng } from '../../core/random.ts'
import { generatePrivateKey, signatureScheme } from '../../core/signers/index.ts'

const sim = signatureScheme('sim')
const verify = sim.verifier.verify.bind(sim.verifier)

describe('sim signer: accepting signatures without recomputing the MAC', () => {
  it('accepts exactly the unchanged key, message and signature, for its own arrays and for copies of them', () => {
    const seed = 'sim-fast-path'
    const rng = createRng(seed)
    for (let i = 0; i < 300; i++) {
      const replay = `replay: seed "${seed}", iteration ${i}`
      const signer = sim.signer(generatePrivateKey(rng))
      const other = sim.signer(generatePrivateKey(rng))
      const message = new Uint8Array(rng.int(600))
      for (let j = 0; j < message.length; j++) message[j] = rng.int(256)
      const original = message.slice()
      const signature = signer.sign(message)
      // A copy verified before anything changes: later copies of these bytes may be accepted from memory.
      expect(verify(signer.publicKey, message, signature.slice()), replay).toBe(true)
      // What is presented: the message, key and signature, each possibly changed (in place, or another one).
      const change = rng.int(7)
      let key = signer.publicKey
      let presented = message
      let valid = true
      if (change === 1 && message.length > 0) { message[rng.int(message.length)]! ^= 1 << rng.int(8); valid = false } // caller reuses its array
      if (change === 2) { signature[rng.int(64)]! ^= 1 << rng.int(8); valid = false } // someone writes to the signature it holds
      if (change === 3) { key = other.publicKey; valid = false }
      if (change === 4) { presented = new Uint8Array([...message, rng.int(256)]); valid = false }
      if (change === 5 && message.length > 0) { presented = message.subarray(1); valid = false }
      if (change === 6) { signer.publicKey[rng.int(32)]! ^= 1 << rng.int(8); valid = false } // the key's holder writes to it
      const what = `${replay} (change ${change})`
      expect(verify(key, presented, signature), what).toBe(valid)
      expect(verify(key, presented, signature.slice()), what).toBe(valid)
      expect(verify(key, presented, signature.slice()), what).toBe(valid)
      // However the caller's message array changed since, the bytes that were signed still verify.
      if (change === 1) expect(verify(key, original, signature), what).toBe(true)
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

  it('arrays made from a signature are plain copies that verify like it', () => {
    const signer = sim.signer(generatePrivateKey(createRng('sim-fast-path-copies')))
    const message = new Uint8Array([5, 6, 7])
    const signature = signer.sign(message)
    for (const copy of [signature.slice(), signature.subarray(0), signature.map(b => b), new Uint8Array(signature)]) {
      expect(Object.getPrototypeOf(copy)).toBe(Uint8Array.prototype)
      expect(verify(signer.publicKey, message, copy)).toBe(true)
      expect(verify(signer.publicKey, new Uint8Array([5, 6]), copy)).toBe(false)
    }
  })

  it('copies verified long ago still verify, and still only for their own message, once many others were verified', () => {
    const signer = sim.signer(generatePrivateKey(createRng('sim-fast-path-many')))
    const messages = Array.from({ length: 20_000 }, (_, i) => new Uint8Array([i & 0xff, i >> 8]))
    const copies = messages.map(m => signer.sign(m).slice())
    for (const [i, copy] of copies.entries()) expect(verify(signer.publicKey, messages[i]!, copy)).toBe(true)
    for (const i of [0, 1, 9999, 19_999]) {
      expect(verify(signer.publicKey, messages[i]!, copies[i]!)).toBe(true)
      expect(verify(signer.publicKey, messages[(i + 1) % messages.length]!, copies[i]!)).toBe(false)
    }
  })

  it('is a plain Uint8Array whose value is its bytes; its record cannot be made elsewhere nor vouch for other bytes', () => {
    const signer = sim.signer(generatePrivateKey(createRng('sim-fast-path-record')))
    const signature = signer.sign(new Uint8Array([1]))
    expect(Object.getPrototypeOf(signature)).toBe(Uint8Array.prototype)
    expect(signature).toStrictEqual(new Uint8Array(signature))
    const [key] = Object.getOwnPropertySymbols(signature)
    const record = (signature as unknown as Record<symbol, object>)[key!]!
    const Record = record.constructor as new (...args: unknown[]) => object
    expect(() => new Record(Symbol('sim-signature'), signer.publicKey, new Uint8Array([2]), signature)).toThrow(/sim signer only/)
    // Moved onto other bytes it vouches for nothing; onto a copy of the same bytes, only for what they sign anyway.
    const other = signer.sign(new Uint8Array([2])).slice()
    Object.defineProperty(other, key!, { value: record })
    expect(verify(signer.publicKey, new Uint8Array([1]), other)).toBe(false)
    expect(verify(signer.publicKey, new Uint8Array([2]), other)).toBe(true)
    const forged = { [key!]: record }
    const copy = Object.assign(signature.slice(), forged)
    expect(verify(signer.publicKey, new Uint8Array([2]), copy)).toBe(false)
    expect(verify(signer.publicKey, new Uint8Array([1]), copy)).toBe(true)
  })
})
