import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two test files at a time even on 2 cores (vitest's default is cores - 1): the live-process files spend most of
    // their time waiting on processes and timers, so the suite takes far less wall time; every bound in the tests is
    // meant to hold on a busy machine.
    maxWorkers: 2,
  },
})
