#!/usr/bin/env node
/**
 * `npm run soak -- --protocol <name> --seeds <N>`: many seeded simulations with random faults, across cluster sizes.
 * A run fails when it is unsafe (not linearizable, replicas disagree), not live (see LivenessVerdict: progress after
 * the final heal within the bound, few timeouts) or when the simulation itself throws. Prints one line per failure
 * with the seed and a one-line replay command, then the counts (runs, faults injected by kind, failures by kind);
 * exit code 1 if any seed failed.
 */
import { Command, Option } from 'commander'
import type { SignerName } from '../core/signer.ts'
import { SIGNER_NAMES } from '../core/signers/index.ts'
import { protocols } from '../protocols/index.ts'
import { replayCommand, type SimulationOptions } from '../net/sim/run.ts'
import { defaultJobs, parseJobs, runTasks } from '../bench/parallel.ts'
import { createRng } from '../core/random.ts'
import { DEFAULT_WORKLOAD_KEYS } from '../core/kv-workload.ts'
import { writeFailingSeedHtml } from '../viz/soak.ts'
import { keyValue, list, nonNegativeNumber, parseOrExit, positiveInt, protocolOrExit } from './cli-args.ts'

/** Runs ending with a replica behind that the summary lists (with their replay commands). */
const SHOWN_BEHIND = 5

const program = new Command('soak')
  .description('Run many seeded simulations with random faults and report every failing seed with its replay command.')
  .requiredOption('--protocol <name>', `protocol: ${[...protocols.keys()].join(', ')}`)
  .option('--seeds <N>', 'number of seeds per cluster size', positiveInt('--seeds'), 100)
  .option('--first-seed <s>', 'first seed', positiveInt('--first-seed', 0), 1)
  .option('--n <sizes>', 'cluster sizes, comma-separated (default 3..7; 4..10 for Byzantine protocols; 1 for unreplicated)', list)
  .option('--faults <kind>', "'nemesis' (the whole fault menu) or 'random' (crashes, partitions, link faults)", 'nemesis')
  .option('--ops <count>', 'operations per run', positiveInt('--ops'), 500)
  .option('--clients <c>', 'clients per run', positiveInt('--clients'), 5)
  .option('--fault-window <ms>', 'virtual ms of random faults per run', positiveInt('--fault-window'), 8000)
  .option('--snapshot-interval <k>', 'snapshot every k applied entries (small values exercise compaction and snapshot transfer)', positiveInt('--snapshot-interval'))
  .option('--fsync-ms <ms>', 'virtual time an fsync takes (crashes then lose unsynced writes)', nonNegativeNumber('--fsync-ms'))
  .option('--keys <k>', 'distinct keys in the workload (fewer keys, more contention)', positiveInt('--keys'))
  .option('--option <key=value>', 'protocol option (repeatable)', keyValue, {})
  .option('--byzantine-count <k>', 'Byzantine replicas per run (default f; fewer leaves room for crashes)', positiveInt('--byzantine-count', 0))
  .option('--byzantine <strategies>', "Byzantine strategies, cycled over seeds; 'random' (the default for protocols with " +
    "an adversary): up to f replicas at ids and with strategies drawn from the seed; 'none'", list)
  .addOption(new Option('--signer <name>', 'signatures: sim (modelled, the default), node, tweetnacl').choices(SIGNER_NAMES).default('sim'))
  .option('--clock-drift <d>', 'clock drift of every run (rates in [1-d, 1+d])', nonNegativeNumber('--clock-drift'))
  .option('--groups <g>', 'multi-group: each run\'s n nodes host g groups, the keys split over them (no Byzantine replicas)', positiveInt('--groups'))
  .option('--jobs <n>', 'seeds run at once, each on a worker thread (default: the number of cores); outcomes are the same with any number')
  .option('--html <dir>', 'write an HTML view of each failing seed into <dir> (the seed is rerun with recording on)')
  .exitOverride()

async function main(): Promise<void> {
  const a = parseOrExit(program)
  const protocol = protocolOrExit('soak', a.protocol as string)
  const sizes = a.n !== undefined
    ? (a.n as string[]).map(Number)
    : protocol.name === 'unreplicated' ? [1]
      : protocol.faultModel === 'byzantine' ? [4, 5, 6, 7, 8, 9, 10] : [3, 4, 5, 6, 7]
  const faults = a.faults as string
  if (faults !== 'nemesis' && faults !== 'random') { process.stderr.write(`soak: --faults: expected nemesis or random, got "${faults}"\n`); process.exit(2) }
  for (const n of sizes) {
    const err = Number.isInteger(n) ? protocol.checkClusterSize(n) : `"${n}" is not a number`
    if (err !== null) { process.stderr.write(`soak: --n ${n}: ${err}\n`); process.exit(2) }
  }
  const groups = a.groups as number | undefined
  const named = a.byzantine as string[] | undefined
  if (groups !== undefined && named !== undefined && !(named.length === 1 && named[0] === 'none')) {
    process.stderr.write('soak: --groups: multi-group runs have no Byzantine replicas yet (drop --byzantine)\n')
    process.exit(2)
  }
  const given = (a.byzantine as string[] | undefined) ?? (protocol.adversary !== undefined && groups === undefined ? ['random'] : [])
  const randomByzantine = given.length === 1 && given[0] === 'random'
  const strategies = randomByzantine || (given.length === 1 && given[0] === 'none') ? [] : given
  if (randomByzantine && protocol.adversary === undefined) { process.stderr.write(`soak: ${protocol.name} has no Byzantine strategies\n`); process.exit(2) }
  const started = performance.now()
  let jobs = defaultJobs()
  if (a.jobs !== undefined) {
    try { jobs = parseJobs(String(a.jobs)) } catch (e) { process.stderr.write(`soak: ${(e as Error).message}\n`); process.exit(2) }
  }
  const runsPlanned: { n: number; seed: number; options: SimulationOptions }[] = []
  for (const n of sizes) {
    for (let i = 0; i < (a.seeds as number); i++) {
      const seed = (a.firstSeed as number) + i
      const f = protocol.faultsTolerated(n)
      const byz = randomByzantine ? drawByzantine(protocol.adversary!.strategies, n, f, seed)
        : strategies.length > 0 && f > 0 ? [strategies[i % strategies.length]!] : []
      const options: SimulationOptions = {
        protocol, n, seed, ops: a.ops as number, clients: a.clients as number, faults,
        faultWindowMs: a.faultWindow as number, ...(byz.length > 0 ? { byzantine: byz } : {}),
        ...(a.signer !== 'sim' ? { signer: a.signer as SignerName } : {}),
        ...(a.clockDrift !== undefined ? { clockDrift: a.clockDrift as number } : {}),
        ...(a.snapshotInterval !== undefined ? { snapshotInterval: a.snapshotInterval as number } : {}),
        ...(a.fsyncMs !== undefined ? { fsyncMs: a.fsyncMs as number } : {}),
        ...(a.keys !== undefined || groups !== undefined
          ? { workload: { keys: (a.keys as number | undefined) ?? Math.max(DEFAULT_WORKLOAD_KEYS, 2 * (groups ?? 0)) } } : {}),
        ...(groups !== undefined ? { groups: { count: groups } } : {}),
        ...(Object.keys(a.option as object).length > 0 ? { protocolOptions: a.option as Record<string, unknown> } : {}),
        ...(byz.length > 0 && !randomByzantine && a.byzantineCount !== undefined ? { byzantineCount: Math.min(a.byzantineCount as number, f) } : {}),
      }
      runsPlanned.push({ n, seed, options })
    }
  }
  // Seeds run on worker threads (or here, with --jobs 1); outcomes are reported in seed order either way.
  const tasks = runsPlanned.map(({ options: { protocol: p, ...rest } }) => ({ kind: 'soak' as const, protocol: p.name, options: rest }))
  let finished = 0
  const outcomes = await runTasks(tasks, jobs, () => {
    finished++
    if (process.stderr.isTTY) process.stderr.write(`\r${finished} of ${tasks.length} runs`)
  })
  let runs = 0
  let failures = 0
  const failuresByKind = new Map<string, number>()
  const faultsByKind = new Map<string, number>()
  let byzantineReplicas = 0
  const behind: string[] = []
  for (const [i, outcome] of outcomes.entries()) {
    const { n, seed, options } = runsPlanned[i]!
    if (outcome.configError !== undefined) { process.stderr.write(`soak: ${outcome.configError}\n`); process.exit(2) }
    runs++
    byzantineReplicas += outcome.byzantineReplicas
    for (const name of outcome.faults) faultsByKind.set(name, (faultsByKind.get(name) ?? 0) + 1)
    if (outcome.behind !== null) behind.push(`n=${n} seed=${seed}: ${outcome.behind}\n    replay: ${replayCommand(options)}`)
    if (outcome.problem !== null && outcome.kind !== null) {
      failures++
      failuresByKind.set(outcome.kind, (failuresByKind.get(outcome.kind) ?? 0) + 1)
      process.stdout.write(`FAIL n=${n} seed=${seed}: ${outcome.problem}\n  replay: ${replayCommand(options)}\n`)
      if (a.html !== undefined) process.stdout.write(`  view: ${writeFailingSeedHtml(a.html as string, options)}\n`)
    }
  }
  if (process.stderr.isTTY) process.stderr.write('\n')
  process.stdout.write(`${protocol.name}: ${runs} runs over n = ${sizes.join(', ')}, ${failures} failed, ` +
    `${((performance.now() - started) / 1000).toFixed(1)} s\n`)
  const list = (m: Map<string, number>) => m.size === 0 ? 'none' : [...m].sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${v}`).join(', ')
  process.stdout.write(`  faults injected: ${list(faultsByKind)}; Byzantine replicas: ${byzantineReplicas}\n`)
  process.stdout.write(`  failures: ${list(failuresByKind)}\n`)
  // Reported, not failed: a protocol may leave a replica out for a while (PBFT: one that started a view change alone).
  process.stdout.write(`  runs ending with an up honest replica behind (reported, not a failure): ${behind.length}\n`)
  for (const line of behind.slice(0, SHOWN_BEHIND)) process.stdout.write(`    ${line}\n`)
  if (behind.length > SHOWN_BEHIND) process.stdout.write(`    ... and ${behind.length - SHOWN_BEHIND} more\n`)
  process.exit(failures > 0 ? 1 : 0)
}

await main()

/** Up to f Byzantine replicas, at ids and with strategies drawn from the seed (its own stream). */
function drawByzantine(strategies: readonly string[], n: number, f: number, seed: number): string[] {
  const rng = createRng(seed).fork('soak-byzantine')
  const count = rng.int(f + 1)
  const ids = [...Array(n).keys()]
  for (let i = ids.length - 1; i > 0; i--) { const j = rng.int(i + 1); [ids[i], ids[j]] = [ids[j]!, ids[i]!] }
  return ids.slice(0, count).sort((x, y) => x - y).map(id => `${id}=${strategies[rng.int(strategies.length)]!}`)
}
