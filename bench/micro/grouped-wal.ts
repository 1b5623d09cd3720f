#!/usr/bin/env node
/**
 * Group commit across consensus groups, on this disk: G groups sharing one grouped file storage each write one entry
 * (`--value-bytes`, default 100) and sync in the same turn, round after round (the next round starts when every sync
 * of the last completed). Prints, per fsync policy and group count, ops/s (one op = one group's write+sync) and
 * fdatasyncs per op: 'batch' shares one fdatasync among the G syncs of a round, 'always' pays one per sync call.
 *
 *   ./node_modules/.bin/node bench/micro/grouped-wal.ts [--groups 1,16,64] [--policies batch,always]
 *       [--rounds 200] [--seconds 2] [--value-bytes 100] [--dir <parent directory>] [--json]
 *
 * Each case stops after `--rounds` rounds or `--seconds`, whichever comes first. The data directory is a fresh temp
 * directory under `--dir` (default the OS temp directory: put it on the disk you want to measure), deleted after.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createGroupedFileStorage, type GroupedFileStorage } from '../../core/storage/grouped-file-storage.ts'
import type { FsyncPolicy } from '../../core/storage/file-storage.ts'
import { formatTable } from '../output/table.ts'

const { values: args } = parseArgs({
  options: {
    groups: { type: 'string', default: '1,16,64' },
    policies: { type: 'string', default: 'batch,always' },
    rounds: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '2' },
    'value-bytes': { type: 'string', default: '100' },
    dir: { type: 'string', default: tmpdir() },
    json: { type: 'boolean', default: false },
  },
})

function fail(message: string): never {
  process.stderr.write(`grouped-wal: ${message}\n`)
  process.exit(2)
}

function positiveInteger(name: string, text: string, max: number): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1 || n > max) fail(`--${name} expects an integer from 1 to ${max}, got "${text}"`)
  return n
}

const groupCounts = args.groups.split(',').map(g => positiveInteger('groups', g, 4096))
const policies = args.policies.split(',').map(p => {
  if (p !== 'batch' && p !== 'always' && p !== 'none') fail(`--policies expects batch, always or none, got "${p}"`)
  return p as FsyncPolicy
})
const rounds = positiveInteger('rounds', args.rounds, 1_000_000)
const seconds = Number(args.seconds)
if (!(seconds > 0 && seconds <= 600)) fail(`--seconds expects a number of seconds from 0 to 600, got "${args.seconds}"`)
const valueBytes = positiveInteger('value-bytes', args['value-bytes'], 1 << 20)

interface CaseResult {
  policy: FsyncPolicy
  groups: number
  rounds: number
  ops: number
  seconds: number
  opsPerSec: number
  fsyncsPerOp: number
  fsyncsPerRound: number
}

/** One round: every group writes one entry and syncs, all in this turn; resolves when every sync completed. */
function round(storage: GroupedFileStorage, groups: number, index: number, value: Uint8Array): Promise<void> {
  const all: Promise<void>[] = []
  for (let g = 0; g < groups; g++) {
    const view = storage.group(g)
    view.write([{ kind: 'entry', index, value }])
    all.push(new Promise(resolve => view.sync(resolve)))
  }
  return Promise.all(all).then(() => undefined)
}

async function runCase(policy: FsyncPolicy, groups: number): Promise<CaseResult> {
  const dir = mkdtempSync(join(args.dir, 'grouped-wal-bench-'))
  const storage = createGroupedFileStorage({ dir, fsync: policy })
  const value = new Uint8Array(valueBytes).fill(0x5a)
  try {
    await round(storage, groups, 1, value) // warm-up: creates the views
    const fsyncsBefore = storage.stats.fsyncs
    const started = performance.now()
    const deadline = started + seconds * 1000
    let done = 0
    while (done < rounds && performance.now() < deadline) await round(storage, groups, 2 + done++, value)
    const elapsed = (performance.now() - started) / 1000
    const fsyncs = storage.stats.fsyncs - fsyncsBefore
    const ops = done * groups
    return {
      policy, groups, rounds: done, ops, seconds: elapsed, opsPerSec: ops / elapsed,
      fsyncsPerOp: fsyncs / ops, fsyncsPerRound: fsyncs / done,
    }
  } finally {
    storage.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

const results: CaseResult[] = []
for (const policy of policies) for (const groups of groupCounts) results.push(await runCase(policy, groups))

if (args.json) {
  process.stdout.write(JSON.stringify({ node: process.version, dir: args.dir, valueBytes, results }, null, 2) + '\n')
} else {
  process.stdout.write(`write+sync of one ${valueBytes} B entry per group per round, data under ${args.dir}\n`)
  process.stdout.write(formatTable(['policy', 'groups', 'rounds', 'ops/s', 'fsyncs/op', 'fsyncs/round'], results.map(r => [
    r.policy, String(r.groups), String(r.rounds), Math.round(r.opsPerSec).toLocaleString('en-US'),
    r.fsyncsPerOp.toFixed(3), r.fsyncsPerRound.toFixed(2),
  ])) + '\n')
}
