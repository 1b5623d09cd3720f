import { describe, expect, it } from 'vitest'
import { createRng } from '../../core/random.ts'
import type { SignatureScheme } from '../../core/signer.ts'
import { ED25519_SIGNER_NAMES, generatePrivateKey, signatureScheme, SIGNER_NAMES } from '../../core/signers/index.ts'
import { createNodeVerifier } from '../../core/signers/node-crypto.ts'

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

// RFC 8032 section 7.1 (Ed25519).
const RFC8032 = [
  {
    name: 'TEST 1',
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155'
      + '5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da'
      + '085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3',
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac'
      + '18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'TEST 1024',
    secret: 'f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5',
    public: '278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e',
    message: [
      '08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1',
      'e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d',
      '658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a',
      '7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e',
      '06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10',
      '3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1',
      '85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d',
      '502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270',
      '88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b',
      'eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba',
      'b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b',
      'e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7',
      '51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d',
      'cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df',
      'f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7',
      '984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4',
      '88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09',
      '43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f',
      'b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161',
      '0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d',
      'b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca',
      'c60c905c15fc910840b94c00a0b9d0',
    ].join(''),
    signature: '0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350'
      + 'aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03',
  },
  {
    name: 'TEST SHA(abc)',
    secret: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    public: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message: 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a'
      + '2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    signature: 'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589'
      + '09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
]

/** The RFC's vectors hold for the real Ed25519 implementations; the modelled signer keeps only the contract. */
const ed25519: SignatureScheme[] = ED25519_SIGNER_NAMES.map((name) => signatureScheme(name))
const schemes: SignatureScheme[] = SIGNER_NAMES.map((name) => signatureScheme(name))

describe('RFC 8032 section 7.1 test vectors', () => {
  it('TEST 1024 carries the 1023-byte message of the RFC', () => {
    expect(hex(RFC8032[3]!.message).length).toBe(1023)
  })

  for (const scheme of ed25519) {
    for (const v of RFC8032) {
      it(`${scheme.name}: ${v.name}`, () => {
        const secret = hex(v.secret)
        const message = hex(v.message)
        const signer = scheme.signer(secret)
        expect(toHex(scheme.publicKeyOf(secret))).toBe(v.public)
        expect(toHex(signer.publicKey)).toBe(v.public)
        expect(toHex(signer.sign(message))).toBe(v.signature)
        expect(scheme.verifier.verify(hex(v.public), message, hex(v.signature))).toBe(true)
      })
    }
  }
})

describe('tweetnacl and node:crypto interoperate', () => {
  const [nacl, node] = [signatureScheme('tweetnacl'), signatureScheme('node')]
  const seed = 'signers-cross-verify'

  it('produce identical signatures that each verifies, over random keys and messages', () => {
    const rng = createRng(seed)
    for (let i = 0; i < 60; i++) {
      const key = generatePrivateKey(rng)
      const message = new Uint8Array(rng.int(300))
      for (let j = 0; j < message.length; j++) message[j] = rng.int(256)
      const a = nacl.signer(key)
      const b = node.signer(key)
      const replay = `replay: seed "${seed}", iteration ${i}`
      expect(toHex(a.publicKey), replay).toBe(toHex(b.publicKey))
      const sigA = a.sign(message)
      const sigB = b.sign(message)
      expect(toHex(sigA), replay).toBe(toHex(sigB))
      expect(node.verifier.verify(a.publicKey, message, sigA), replay).toBe(true)
      expect(nacl.verifier.verify(b.publicKey, message, sigB), replay).toBe(true)
    }
  })

  it('both reject a tampered message, signature or key', () => {
    const rng = createRng(`${seed}/tamper`)
    for (let i = 0; i < 30; i++) {
      const key = generatePrivateKey(rng)
      const other = generatePrivateKey(rng)
      const message = new Uint8Array(1 + rng.int(100))
      for (let j = 0; j < message.length; j++) message[j] = rng.int(256)
      const signer = nacl.signer(key)
      const signature = signer.sign(message)
      const flip = (bytes: Uint8Array): Uint8Array => {
        const copy = bytes.slice()
        const at = rng.int(copy.length)
        copy[at] = copy[at]! ^ (1 << rng.int(8))
        return copy
      }
      const otherPublic = nacl.publicKeyOf(other)
      for (const scheme of ed25519) {
        const replay = `replay: seed "${seed}/tamper", iteration ${i}, ${scheme.name}`
        expect(scheme.verifier.verify(signer.publicKey, message, signature), replay).toBe(true)
        expect(scheme.verifier.verify(signer.publicKey, flip(message), signature), replay).toBe(false)
        expect(scheme.verifier.verify(signer.publicKey, message, flip(signature)), replay).toBe(false)
        expect(scheme.verifier.verify(flip(signer.publicKey), message, signature), replay).toBe(false)
        expect(scheme.verifier.verify(otherPublic, message, signature), replay).toBe(false)
        expect(scheme.verifier.verify(signer.publicKey, message.subarray(1), signature), replay).toBe(false)
      }
    }
  })
})

describe('every scheme rejects forgeries of its own signatures', () => {
  for (const scheme of schemes) {
    it(`${scheme.name}: a tampered message, signature or key, another key, a truncated message, a stranger's key`, () => {
      const rng = createRng(`signers-forgery/${scheme.name}`)
      const flip = (bytes: Uint8Array): Uint8Array => {
        const copy = bytes.slice()
        const at = rng.int(copy.length)
        copy[at] = copy[at]! ^ (1 << rng.int(8))
        return copy
      }
      // tweetnacl is pure JS and slow; the cross-implementation test above tampers with its signatures at length.
      for (let i = 0; i < (scheme.name === 'tweetnacl' ? 3 : 30); i++) {
        const replay = `replay: seed "signers-forgery/${scheme.name}", iteration ${i}`
        const signer = scheme.signer(generatePrivateKey(rng))
        const other = scheme.signer(generatePrivateKey(rng))
        const message = new Uint8Array(1 + rng.int(100))
        for (let j = 0; j < message.length; j++) message[j] = rng.int(256)
        const signature = signer.sign(message)
        expect(signature.length, replay).toBe(64)
        expect(signer.publicKey.length, replay).toBe(32)
        expect(toHex(signer.sign(message)), replay).toBe(toHex(signature))
        expect(scheme.verifier.verify(signer.publicKey, message, signature), replay).toBe(true)
        expect(scheme.verifier.verify(signer.publicKey, flip(message), signature), replay).toBe(false)
        expect(scheme.verifier.verify(signer.publicKey, message, flip(signature)), replay).toBe(false)
        expect(scheme.verifier.verify(flip(signer.publicKey), message, signature), replay).toBe(false)
        expect(scheme.verifier.verify(other.publicKey, message, signature), replay).toBe(false)
        expect(scheme.verifier.verify(signer.publicKey, message.subarray(1), signature), replay).toBe(false)
        expect(scheme.verifier.verify(signer.publicKey, message, other.sign(message)), replay).toBe(false)
        // A key no signer was made for: only its public half is known, so nothing verifies against it.
        const stranger = scheme.publicKeyOf(generatePrivateKey(rng))
        expect(scheme.verifier.verify(stranger, message, signature), replay).toBe(false)
      }
    })
  }
})

describe('the modelled signer (sim)', () => {
  const sim = signatureScheme('sim')

  it('is deterministic: the same key and message give the same public key and signature', () => {
    const key = generatePrivateKey(createRng('sim-deterministic'))
    expect(toHex(sim.signer(key).publicKey)).toBe(toHex(sim.publicKeyOf(key)))
    expect(toHex(sim.signer(key).sign(new Uint8Array([1, 2, 3])))).toBe(toHex(sim.signer(key).sign(new Uint8Array([1, 2, 3]))))
  })

  it('neither interoperates with Ed25519 nor accepts its signatures', () => {
    const key = hex(RFC8032[1]!.secret)
    const message = hex(RFC8032[1]!.message)
    expect(toHex(sim.publicKeyOf(key))).not.toBe(RFC8032[1]!.public)
    sim.signer(key)
    expect(sim.verifier.verify(sim.publicKeyOf(key), message, hex(RFC8032[1]!.signature))).toBe(false)
    expect(signatureScheme('node').verifier.verify(hex(RFC8032[1]!.public), message, sim.signer(key).sign(message))).toBe(false)
  })

  it('a signature says nothing about the key: two messages, two unrelated signatures', () => {
    const signer = sim.signer(generatePrivateKey(createRng('sim-unrelated')))
    const a = signer.sign(new Uint8Array([0]))
    const b = signer.sign(new Uint8Array([1]))
    let same = 0
    for (let i = 0; i < 64; i++) if (a[i] === b[i]) same++
    expect(same).toBeLessThan(8)
  })
})

describe('malformed input', () => {
  const key = hex(RFC8032[1]!.secret)
  const message = hex(RFC8032[1]!.message)

  for (const scheme of schemes) {
    it(`${scheme.name}: verify returns false for wrong key or signature lengths`, () => {
      const publicKey = scheme.publicKeyOf(key)
      const signature = scheme.signer(key).sign(message)
      expect(scheme.verifier.verify(publicKey.subarray(0, 31), message, signature)).toBe(false)
      expect(scheme.verifier.verify(new Uint8Array(33), message, signature)).toBe(false)
      expect(scheme.verifier.verify(new Uint8Array(0), message, signature)).toBe(false)
      expect(scheme.verifier.verify(publicKey, message, signature.subarray(0, 63))).toBe(false)
      expect(scheme.verifier.verify(publicKey, message, new Uint8Array(65))).toBe(false)
      expect(scheme.verifier.verify(publicKey, message, new Uint8Array(0))).toBe(false)
      // all-zero and all-0xff "public keys" are not valid curve points / not canonical
      expect(scheme.verifier.verify(new Uint8Array(32), message, signature)).toBe(false)
      expect(scheme.verifier.verify(new Uint8Array(32).fill(0xff), message, signature)).toBe(false)
    })

    it(`${scheme.name}: creating a signer with a wrong-length key throws a clear error`, () => {
      expect(() => scheme.signer(new Uint8Array(31))).toThrow(/private key must be 32 bytes.*got 31/)
      expect(() => scheme.signer(new Uint8Array(64))).toThrow(/private key must be 32 bytes.*got 64/)
      expect(() => scheme.publicKeyOf(new Uint8Array(0))).toThrow(/private key must be 32 bytes.*got 0/)
    })
  }

  it('rejects an unknown signer name', () => {
    expect(() => signatureScheme('openssl' as never)).toThrow(/unknown signer "openssl".*tweetnacl, node, sim/)
  })
})

describe('node:crypto verifier key cache', () => {
  it('stays correct when more keys are used than it holds', () => {
    const verifier = createNodeVerifier(2)
    const rng = createRng('signers-cache')
    const node = signatureScheme('node')
    const signed = Array.from({ length: 5 }, (_, i) => {
      const s = node.signer(generatePrivateKey(rng))
      const message = new Uint8Array([i])
      return { publicKey: s.publicKey, message, signature: s.sign(message) }
    })
    for (let round = 0; round < 3; round++) {
      for (const s of signed) expect(verifier.verify(s.publicKey, s.message, s.signature)).toBe(true)
      expect(verifier.verify(signed[0]!.publicKey, signed[1]!.message, signed[1]!.signature)).toBe(false)
    }
  })

  it('rejects a non-positive cache size', () => {
    expect(() => createNodeVerifier(0)).toThrow(/cache size/)
  })
})

describe('generatePrivateKey', () => {
  it('is deterministic with an Rng and random without one', () => {
    expect(generatePrivateKey(createRng(7))).toEqual(generatePrivateKey(createRng(7)))
    expect(generatePrivateKey(createRng(7))).not.toEqual(generatePrivateKey(createRng(8)))
    const a = generatePrivateKey()
    expect(a.length).toBe(32)
    expect(a).not.toEqual(generatePrivateKey())
  })
})
