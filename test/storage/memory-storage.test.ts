import { describe, expect, it } from 'vitest'
import { createRng } from '../../core/random.ts'
import { createMemoryStorage } from '../../core/storage/memory-storage.ts'
import type { MemoryStorage } from '../../core/storage/memory-storage.ts'
import { StorageCorruptionError } from '../../core/storage/record-framing.ts'
import type { PersistOp } from '../../core/storage.ts'
import { plain, storageConformance, syncOf } from './conformance.ts'

storageConformance('memory storage', () => {
  const storage = createMemoryStorage()
  return { open: () => storage, crash: () => storage.crash() }
})

storageConformance('memory storage with deferred fsync', () => {
  const storage = createMemoryStorage({ defer: fn => setTimeout(fn, 1) })
  return { open: () => storage, crash: () => storage.crash() }
})

describe('memory storage: disk faults for the simulator', () => {
  const entry = (index: number, fill = index): PersistOp => ({ kind: 'entry', index, value: new Uint8Array(8).fill(fill) })

  async function filled(): Promise<MemoryStorage> {
    const s = createMemoryStorage()
    s.write([{ kind: 'put', key: 'term', value: new Uint8Array([3]) }, entry(1), entry(2)])
    s.write([{ kind: 'snapshot', index: 1, meta: new Uint8Array([9]), data: new Uint8Array([1, 2, 3]) }, entry(3)])
    await syncOf(s)
    return s
  }

  it('corrupt() flips one bit of a durable record and the next load() refuses, naming it; it never hands out the bytes', async () => {
    const seen = new Set<string>()
    for (let seed = 0; seed < 40; seed++) {
      const s = await filled()
      const before = plain(s.load())
      const description = s.corrupt(createRng(`corrupt-${seed}`))
      expect(description).toMatch(/^flipped bit [0-7] of byte \d+ of (hard state "term"|log entry [23]|snapshot at index 1)$/)
      seen.add(description!.replace(/.* of (hard|log|snapshot).*/, '$1'))
      s.crash()
      let error: unknown
      try { s.load() } catch (e) { error = e }
      expect(error).toBeInstanceOf(StorageCorruptionError)
      const where = description!.replace(/^flipped bit \d of byte \d+ of /, '')
      expect((error as Error).message).toContain(`memory storage (${where}) at byte offset`)
      expect((error as Error).message).toContain(description)
      expect((error as Error).message).toContain('refusing to start')
      // A snapshot (the file storage compacts its log then, from its undamaged memory) clears the damage.
      s.write([{ kind: 'snapshot', index: 1, meta: new Uint8Array([9]), data: new Uint8Array([1, 2, 3]) }])
      await syncOf(s)
      expect(plain(s.load())).toEqual(before)
    }
    expect([...seen].sort()).toEqual(['hard', 'log', 'snapshot'])
    expect(createMemoryStorage().corrupt(createRng('empty'))).toBeNull()
  })

  it('a corrupted record replaced before the next load still refuses, until a snapshot compacts it away', async () => {
    const s = createMemoryStorage()
    s.write([entry(1)])
    await syncOf(s)
    expect(s.corrupt(createRng('x'))).toContain('log entry 1')
    s.write([entry(1, 0x55)])
    await syncOf(s)
    expect(() => s.load()).toThrow(/memory storage \(log entry 1\)/)
    s.write([{ kind: 'snapshot', index: 0, meta: new Uint8Array(0), data: new Uint8Array(0) }])
    await syncOf(s)
    expect(plain(s.load())).toMatchObject({ log: [[1, '55'.repeat(8)]] })
  })

  it('loseNextSync(): a lost batch followed by a durable one is refused as a lost write', async () => {
    const s = createMemoryStorage({ defer: fn => setTimeout(fn, 1) })
    s.write([entry(1)])
    await syncOf(s)
    s.loseNextSync()
    await syncOf(s) // nothing written: nothing to lose, the lie waits for a sync that writes
    s.write([entry(2)])
    await syncOf(s) // acknowledged, never durable
    s.write([entry(3)])
    await syncOf(s)
    s.crash()
    expect(() => s.load()).toThrow(StorageCorruptionError)
    expect(() => s.load()).toThrow(/lost write: batch 2 \(1 ops\) was acknowledged but never became durable, yet batch 3 after it did/)
    expect(s.undetectedLoss).toBeNull()
  })

  it('loseNextSync(): a lost last batch before a crash leaves the older state, and undetectedLoss says so', async () => {
    const s = createMemoryStorage()
    s.write([entry(1)])
    await syncOf(s)
    s.loseNextSync()
    s.write([entry(2), { kind: 'put', key: 'term', value: new Uint8Array([2]) }])
    await syncOf(s)
    s.crash()
    expect(plain(s.load())).toEqual({ hard: {}, log: [[1, '01'.repeat(8)]], snapshot: null })
    expect(s.undetectedLoss).toBe('batch 2 acknowledged by a lying fsync and lost in a crash before any later batch became durable')
    // The restarted replica writes on; nothing will ever reveal the loss.
    s.write([entry(2, 0x22)])
    await syncOf(s)
    expect(plain(s.load())).toMatchObject({ log: [[1, '01'.repeat(8)], [2, '22'.repeat(8)]] })
    expect(s.undetectedLoss).not.toBeNull()
  })

  it('wipe() leaves a fresh storage: no state, no damage, no pending loss', async () => {
    const s = await filled()
    s.corrupt(createRng('w'))
    s.loseNextSync()
    s.wipe()
    expect(plain(s.load())).toEqual({ hard: {}, log: [], snapshot: null })
    s.write([entry(1)])
    await syncOf(s)
    s.crash()
    expect(plain(s.load())).toMatchObject({ log: [[1, '01'.repeat(8)]] })
    expect(s.undetectedLoss).toBeNull()
  })
})
