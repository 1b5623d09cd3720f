/**
 * The simulator's shared log (group commit across groups): syncs asked for while an fsync runs share the next one,
 * each group's completions come in call order, and a crash loses every group's unsynced writes, nothing synced.
 */
import { describe, expect, it } from 'vitest'
import { GroupedMemoryStorage } from '../../core/storage/grouped-memory-storage.ts'

const entry = (index: number) => ({ kind: 'entry' as const, index, value: new Uint8Array([index]) })

/** A disk whose fsyncs finish when the test says so. */
function disk() {
  const running: Array<() => void> = []
  const storage = new GroupedMemoryStorage({ fsync: done => { running.push(done) } })
  return { storage, finishOne: () => running.shift()!(), running }
}

describe('GroupedMemoryStorage', () => {
  it('one fsync covers the syncs of many groups; those asked for meanwhile share the next one', () => {
    const { storage, finishOne, running } = disk()
    const done: string[] = []
    for (let g = 0; g < 8; g++) { storage.group(g).write([entry(1)]); storage.group(g).sync(() => done.push(`${g}:1`)) }
    // The first sync started an fsync; the other seven wait for the next, together.
    expect(running).toHaveLength(1)
    finishOne()
    expect(done).toEqual(['0:1'])
    expect(running).toHaveLength(1)
    finishOne()
    expect(done).toHaveLength(8)
    expect(storage.fsyncs).toBe(2)
    for (let g = 0; g < 8; g++) expect(storage.group(g).load().log.map(e => e.index)).toEqual([1])
  })

  it("keeps each group's completions in call order when a completion asks for another sync", () => {
    const { storage, finishOne, running } = disk()
    const order: number[] = []
    const a = storage.group(0)
    a.write([entry(1)]); a.sync(() => { order.push(1); a.write([entry(3)]); a.sync(() => order.push(3)) })
    a.write([entry(2)]); a.sync(() => order.push(2))
    while (running.length > 0) finishOne()
    expect(order).toEqual([1, 2, 3])
  })

  it('a crash loses the unsynced writes of every group and never a synced one', () => {
    const { storage, finishOne } = disk()
    for (let g = 0; g < 3; g++) { storage.group(g).write([entry(1)]); storage.group(g).sync(() => {}) }
    finishOne()
    finishOne()
    for (let g = 0; g < 3; g++) { storage.group(g).write([entry(2)]); storage.group(g).sync(() => { throw new Error('must not complete') }) }
    storage.crash()
    for (let g = 0; g < 3; g++) expect(storage.group(g).load().log.map(e => e.index), `group ${g}`).toEqual([1])
    expect(storage.groups()).toEqual([0, 1, 2])
  })
})
