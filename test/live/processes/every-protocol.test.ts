/**
 * The replica-process suite runs one file per protocol (so vitest's two workers share it out); this keeps a newly
 * registered protocol from going without one.
 */
import { readdirSync } from 'node:fs'
import { expect, it } from 'vitest'
import { protocols } from '../../../protocols/index.ts'

it('every registered protocol has its replica-process test file here', () => {
  const files = new Set(readdirSync(import.meta.dirname))
  const missing = [...protocols.keys()].filter(name => !files.has(`${name}.test.ts`))
  expect(missing, `add test/live/processes/<name>.test.ts calling describeReplicaProcesses for: ${missing.join(', ')}`).toEqual([])
})
