/** bench live --groups: the flag's checks (the measurement itself is shown by `npm run bench -- live --groups 1,16,64`). */
import { describe, expect, it } from 'vitest'
import { buildLiveBenchConfig, LiveBenchConfigError } from '../../bench/live/config.ts'
import { protocols } from '../../protocols/index.ts'

function problemsOf(flags: Record<string, string | boolean>): readonly string[] {
  try {
    buildLiveBenchConfig(flags, protocols)
  } catch (e) {
    if (e instanceof LiveBenchConfigError) return e.problems
    throw e
  }
  throw new Error('expected the flags to be rejected')
}

describe('bench live --groups', () => {
  it('takes a list of group counts, one group by default', () => {
    expect(buildLiveBenchConfig({}, protocols).groups).toEqual([1])
    expect(buildLiveBenchConfig({ groups: '1,16,64' }, protocols).groups).toEqual([1, 16, 64])
  })

  it('names what is wrong with it', () => {
    expect(problemsOf({ groups: '0,x' })).toEqual([
      '--groups[0]: expected an integer from 1 to 1024, got "0"', '--groups[1]: expected an integer from 1 to 1024, got "x"',
    ])
    expect(problemsOf({ groups: '16', inProcess: true })).toEqual([expect.stringMatching(/^--groups: more than one group needs the multi-process form/)])
    expect(problemsOf({ groups: '16', baseline: 'etcd' })).toEqual([expect.stringMatching(/^--groups: the etcd baseline is measured for one group only/)])
    expect(problemsOf({ groups: '64', keys: '32' })).toEqual(['--groups: 64 groups need at least as many --keys to split, got 32'])
  })
})
