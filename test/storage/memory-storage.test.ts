import { createMemoryStorage } from '../../core/storage/memory-storage.ts'
import { storageConformance } from './conformance.ts'

storageConformance('memory storage', () => {
  const storage = createMemoryStorage()
  return { open: () => storage, crash: () => storage.crash() }
})

storageConformance('memory storage with deferred fsync', () => {
  const storage = createMemoryStorage({ defer: fn => setTimeout(fn, 1) })
  return { open: () => storage, crash: () => storage.crash() }
})
