#!/usr/bin/env node
/**
 * `npm run soak -- --protocol <name> --seeds <N>`: many seeded simulations with random faults, across cluster sizes.
 * Prints one line per failure with the seed and a one-line replay command; exit code 1 if any seed failed.
 */
import { Command } from 'commander'
import { ConfigError } from '../core/errors.ts'
import { protocols } from '../protocols/index.ts'
import { replayCommand, runSimulation } from '../net/sim/run.ts'
import { writeFailingSeedHtml } from '../viz/soak.ts'
import { keyValue, list, nonNegativeNumber, parseOrExit, positiveInt, protocolOrExit } from './cli-args.ts'

const program = new Command('soak')
  .description('Run many seeded simulations with random faults and report every failing seed with its replay command.')
  .requiredOption('--protocol <name>', `protocol: ${[...protocols.keys()].join(', ')}`)
  .option('--seeds <N>', 'number of seeds per cluster size', positiveInt('--seeds'), 100)
  .option('--first-seed <s>', 'first seed', positiveInt('--first-seed', 0), 1)
  .option('--n <sizes>', 'cluster sizes, comma-separated (default: the sizes tolerating 0..3 faults)', list)
  .option('--ops <count>', 'operations per run', positiveInt('--ops'), 500)
  .option('--clients <c>', 'clients per run', positiveInt('--clients'), 5)
  .option('--fault-window <ms>', 'virtual ms of random faults per run', positiveInt('--fault-window'), 8000)
  .option('--snapshot-interval <k>', 'snapshot every k applied entries (small values exercise compaction and snapshot transfer)', positiveInt('--snapshot-interval'))
  .option('--fsync-ms <ms>', 'virtual time an fsync takes (crashes then lose unsynced writes)', nonNegativeNumber('--fsync-ms'))
  .option('--keys <k>', 'distinct keys in the workload (fewer keys, more contention)', positiveInt('--keys'))
  .option('--option <key=value>', 'protocol option (repeatable)', keyValue, {})
  .option('--byzantine-count <k>', 'Byzantine replicas per run (default f; fewer leaves room for crashes)', positiveInt('--byzantine-count', 0))
  .option('--byzantine <strategies>', 'Byzantine strategies, cycled over seeds (protocols with an adversary)', list)
  .option('--html <dir>', 'write an HTML view of each failing seed into <dir> (the seed is rerun with recording on)')
  .exitOverride()

function main(): void {
  const a = parseOrExit(program)
  const protocol = protocolOrExit('soak', a.protocol as string)
  const sizes = a.n !== undefined
    ? (a.n as string[]).map(Number)
    : protocol.name === 'unreplicated' ? [1] : [0, 1, 2, 3].map(f => protocol.replicasFor(f)).filter(n => protocol.checkClusterSize(n) === null)
  for (const n of sizes) {
    const err = Number.isInteger(n) ? protocol.checkClusterSize(n) : `"${n}" is not a number`
    if (err !== null) { process.stderr.write(`soak: --n ${n}: ${err}\n`); process.exit(2) }
  }
  const strategies = (a.byzantine as string[] | undefined) ?? []
  const started = performance.now()
  let runs = 0
  let failures = 0
  for (const n of sizes) {
    for (let i = 0; i < (a.seeds as number); i++) {
      const seed = (a.firstSeed as number) + i
      const byz = strategies.length > 0 && protocol.faultsTolerated(n) > 0 ? [strategies[i % strategies.length]!] : []
      const options = {
        protocol, n, seed, ops: a.ops as number, clients: a.clients as number, faults: 'random',
        faultWindowMs: a.faultWindow as number, ...(byz.length > 0 ? { byzantine: byz } : {}),
        ...(a.snapshotInterval !== undefined ? { snapshotInterval: a.snapshotInterval as number } : {}),
        ...(a.fsyncMs !== undefined ? { fsyncMs: a.fsyncMs as number } : {}),
        ...(a.keys !== undefined ? { workload: { keys: a.keys as number } } : {}),
        ...(Object.keys(a.option as object).length > 0 ? { protocolOptions: a.option as Record<string, unknown> } : {}),
        ...(byz.length > 0 && a.byzantineCount !== undefined ? { byzantineCount: Math.min(a.byzantineCount as number, protocol.faultsTolerated(n)) } : {}),
      }
      runs++
      let problem: string | null = null
      try {
        const r = runSimulation(options)
        if (r.safetyViolations.length > 0) problem = `safety: ${r.safetyViolations[0]}`
        else if (!r.check.ok) problem = `checker: ${r.check.verdict}: ${r.check.explanation.split('\n')[0]}`
        else if (!r.finished) problem = `liveness: ${r.ops.ok + r.ops.fail + r.ops.info} of ${r.ops.requested} operations completed in the time bound`
      } catch (e) {
        if (e instanceof ConfigError) { process.stderr.write(`soak: ${e.message}\n`); process.exit(2) }
        problem = `crash: ${(e as Error).stack?.split('\n').slice(0, 3).join(' | ')}`
      }
      if (problem !== null) {
        failures++
        process.stdout.write(`FAIL n=${n} seed=${seed}: ${problem}\n  replay: ${replayCommand(options)}\n`)
        if (a.html !== undefined) process.stdout.write(`  view: ${writeFailingSeedHtml(a.html as string, options)}\n`)
      }
      if (process.stderr.isTTY) process.stderr.write(`\r${runs} runs, ${failures} failed`)
    }
  }
  if (process.stderr.isTTY) process.stderr.write('\n')
  process.stdout.write(`${protocol.name}: ${runs} runs over n = ${sizes.join(', ')}, ${failures} failed, ` +
    `${((performance.now() - started) / 1000).toFixed(1)} s\n`)
  process.exit(failures > 0 ? 1 : 0)
}

main()
