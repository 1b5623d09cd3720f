#!/usr/bin/env node
/**
 * `npm run bench [-- flags]`: sweep protocols x n x f x fault kind x network x workload in the deterministic
 * simulator, print a summary table, and write results/<timestamp>/ (results.json, results.csv, report.md,
 * report.html, charts as SVG). `bench compare a.json b.json` shows what changed between two runs and exits 1 on a
 * regression; `bench speed` measures the simulator itself; `bench live` measures real clusters over libp2p on
 * 127.0.0.1 in wall-clock time (results/<timestamp>-live/). Exit code 2 on bad arguments.
 * See bench/README.md for every flag and how to read the figures.
 */
import { join } from 'node:path'
import { Command, CommanderError, Option } from 'commander'
import type { SignerName } from '../core/signer.ts'
import { SIGNER_NAMES } from '../core/signers/index.ts'
import { ConfigError } from '../core/errors.ts'
import { protocols, getProtocol } from '../protocols/index.ts'
import { buildSweepConfig, type SweepFlags } from '../bench/cli-config.ts'
import { DEFAULT_SWEEP, PRESETS } from '../bench/config.ts'
import { compareResults, formatComparison, loadResults } from '../bench/compare.ts'
import { progressHooks } from '../bench/progress.ts'
import { measureFailover } from '../bench/failover.ts'
import { measureMessagesPerCommand } from '../bench/message-complexity.ts'
import { ExternalClusterError } from '../bench/live/external-cluster.ts'
import { measureScaling, measureSimulatorSpeed, measureWarmSimulatorSpeed, scalingSizes, type SpeedResult } from '../bench/speed.ts'
import { mergeShards, parseShard, runSweep, type Shard } from '../bench/sweep.ts'
import { defaultJobs, parseJobs } from '../bench/parallel.ts'
import { formatTable, terminalSummary } from '../bench/output/table.ts'
import { CAP_TITLE, capTable } from '../bench/output/cap-section.ts'
import { timestampedDir, writeResults } from '../bench/output/write.ts'
import { keyValue, positiveInt } from './cli-args.ts'
import { buildLiveBenchConfig, DEFAULT_LIVE_BENCH, type LiveBenchFlags } from '../bench/live/config.ts'
import { runLiveBench } from '../bench/live/live-bench.ts'
import { liveResultsDir, liveTerminalSummary, writeLiveResults } from '../bench/live/report.ts'
import { ETCD_MISSING, findEtcd } from '../bench/live/etcd-cluster.ts'
import { buildGroupsBenchOptions, DEFAULT_GROUPS_BENCH, runGroupsBench, type GroupsBenchFlags } from '../bench/groups.ts'
import { groupsTerminalSummary, writeGroupsResults } from '../bench/output/groups-report.ts'
import { parseCpuModel } from '../net/sim/cpu.ts'

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`)
  process.exit(2)
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

const d = DEFAULT_SWEEP
const program = new Command('bench')
  .description('Benchmark the registered protocols in the deterministic simulator and report latency, throughput, ' +
    'message complexity and failover (see bench/README.md).')
  .option('--protocols <list>', `protocols to compare (default: every registered one: ${[...protocols.keys()].join(', ')})`)
  .option('--n <list>', "cluster sizes, or 'auto' = per protocol the smallest n for f = 1, 2, 3", 'auto')
  .option('--f <list>', 'faulty replicas injected (0 = no fault)', d.f.join(','))
  .option('--faults <list>', 'fault kinds: none, crash-leader, transfer-leader, byzantine, byzantine:<strategy>', d.faults.join(','))
  .option('--network <list>', 'networks: lan, wan (3-region RTT matrix, clients in the first region), wan-spread (clients in every region): simulated; libp2p: real, on 127.0.0.1, wall-clock (fault-free, closed loop)', d.networks.join(','))
  .option('--read-ratio <list>', 'fraction of reads', d.readRatio.join(','))
  .option('--value-size <list>', 'bytes per written value', d.valueSize.join(','))
  .option('--key-dist <list>', 'key distribution: uniform, zipfian, or hot:<p> (a share p of commands on one shared key, the rest on keys of their own client: the conflict rate)', d.keyDistribution.join(','))
  .option('--keys <k>', 'distinct keys', String(d.keys))
  .option('--clients <list>', 'concurrent clients (closed loop: outstanding operations)', d.clients.join(','))
  .option('--batch <list>', "batch limit (protocol option maxBatchCount) or 'default'", d.batch.join(','))
  .option('--signer <list>', "signatures: sim (modelled: charged like node:crypto Ed25519, no curve arithmetic; over libp2p it means node), node, tweetnacl", d.signers.join(','))
  .option('--mode <mode>', 'closed (clients wait for each answer) or open (arrivals at --rate)', d.mode)
  .option('--rate <list>', 'open loop: target operations per virtual second', d.rates.join(','))
  .option('--warmup-ms <ms>', 'virtual warm-up excluded from the figures', String(d.warmupMs))
  .option('--duration-ms <ms>', 'virtual time measured', String(d.durationMs))
  .option('--max-ops <count>', 'a fault-free run stops after this many measured operations', String(d.maxOps))
  .option('--seed <s>', 'seed of every run', String(d.seed))
  .option('--tick-ms <ms>', 'virtual milliseconds per protocol tick', String(d.tickMs))
  .option('--snapshot-interval <k>', "host snapshot every k applied indexes, or 'auto' (the protocol's need, else 1000)", String(d.snapshotInterval))
  .option('--cpu <model>', "simulated processing time: 'reference', 'none', or key=value over the reference (receiveUs, sendUs, perByteNs, signUs, verifyUs)", d.cpu)
  .option('--timeline-bucket-ms <ms>', 'bucket of the throughput-over-time figure', String(d.timelineBucketMs))
  .option('--baseline <name>', "protocol run in every sweep as the baseline ('none' for no baseline)", String(d.baseline))
  .option('--option <protocol.key=value>', 'protocol option, e.g. raft.maxInflight=8 (repeatable)', collect)
  .option('--no-message-complexity', 'skip the batch-size-1 message count against theory')
  .option('--linearizability-cost', "also run the partition experiment 'What linearizability costs' (raft, epaxos, quorum-kv; on in --preset cap)")
  .option('--config <file>', 'sweep configuration as JSON (fields as in bench/config.ts; flags override it)')
  .option('--preset <name>', `preset: ${Object.keys(PRESETS).join(', ')}`)
  .option('--quick', 'the quick preset: about a minute')
  .option('--out <dir>', 'parent folder of the results folder', 'results')
  .option('--no-save', 'write no results folder')
  .option('--html-runs', 'also write an HTML view of every simulated run (history, messages, status) linked from report.html')
  .option('--json', 'print results as JSON on stdout (no table, no progress bar)')
  .option('--quiet', 'no progress bar')
  .option('--shard <i/k>', "run only shard i of k of the sweep (e.g. 3/16); 'bench merge' combines the k results folders")
  .option('--jobs <n>', `simulated runs at once, each on a worker thread (default: the number of cores, here ${defaultJobs()}); figures are the same with any number`)
  // Subcommands (compare, speed) parse their own flags: `speed --n 5` must not set the sweep's --n.
  .enablePositionalOptions()
  .exitOverride()
  .configureOutput({ writeErr: text => process.stderr.write(text) })
  .action(async (opts: Record<string, unknown>, cmd: Command) => {
    // Only flags the user typed count: defaults above are for --help; presets and the config file fill the rest.
    const given: Record<string, unknown> = {}
    for (const key of Object.keys(opts)) if (cmd.getOptionValueSource(key) === 'cli') given[key] = opts[key]
    if (opts.quick === true && opts.preset !== undefined && opts.preset !== 'quick') fail('--quick and --preset disagree')
    const preset = opts.quick === true ? 'quick' : (opts.preset as string | undefined)
    let config
    try {
      config = buildSweepConfig({
        flags: given as SweepFlags, registry: protocols,
        ...(opts.config !== undefined ? { configFile: opts.config as string } : {}),
        ...(preset !== undefined ? { preset } : {}),
      })
    } catch (e) {
      if (e instanceof ConfigError) fail(e.message)
      throw e
    }
    const json = opts.json === true
    const showProgress = process.stderr.isTTY === true && opts.quiet !== true && !json
    const progress = progressHooks(showProgress)
    let jobs = defaultJobs()
    let shard: Shard | undefined
    try {
      if (opts.jobs !== undefined) jobs = parseJobs(String(opts.jobs))
      if (opts.shard !== undefined) shard = parseShard(String(opts.shard))
    } catch (e) {
      if (e instanceof ConfigError) fail(e.message)
      throw e
    }
    let results
    try {
      results = await runSweep(config, protocols, progress, preset ?? null, { jobs, ...(shard !== undefined ? { shard } : {}) })
    } catch (e) {
      progress.stop()
      if (e instanceof ConfigError) fail(e.message)
      throw e
    }
    progress.stop()
    let dir: string | null = null
    if (opts.save !== false) {
      // Shards of one sweep may start in the same second on many machines: each gets its own folder.
      dir = timestampedDir(opts.out as string, results.startedAt) + (shard !== undefined ? `-shard-${shard.index}-of-${shard.count}` : '')
      const say = (id: string) => { if (!json && opts.quiet !== true) process.stderr.write(`bench: recording run view ${id}\n`) }
      await writeResults(results, dir, opts.htmlRuns === true ? { runViews: { registry: protocols, onRun: say } } : {})
    }
    if (json) process.stdout.write(JSON.stringify(results, null, 2) + '\n')
    else {
      if (results.linearizabilityCost !== undefined) {
        const t = capTable(results.linearizabilityCost)
        process.stdout.write(`${CAP_TITLE} (partition experiment; see report.md for what each column measures)\n` +
          `${formatTable(t.header, t.rows)}\n\n`)
      }
      process.stdout.write(terminalSummary(results, dir))
    }
    if (json && dir !== null) process.stderr.write(`bench: results in ${dir}\n`)
    // A run that broke safety or stopped making progress makes the sweep's figures untrustworthy: say so in the exit code.
    process.exitCode = results.runs.some(r => r.figures.safetyViolations > 0 || r.figures.liveness?.ok === false) ? 1 : 0
  })

program.command('merge')
  .description('Combine the results folders of every shard of one sweep (bench --shard i/k) into the results folder of the whole sweep.')
  .argument('<dirs...>', 'results folders (or results.json files) of the shards, in any order')
  .option('--out <dir>', 'parent folder of the merged results folder', 'results')
  .option('--json', 'print the merged results as JSON on stdout (no table)')
  .action(async (dirs: string[], opts: Record<string, unknown>) => {
    let merged
    try {
      const parts = dirs.map(d => loadResults(d.endsWith('.json') ? d : join(d, 'results.json')))
      merged = mergeShards(parts, protocols)
    } catch (e) {
      if (e instanceof ConfigError) fail(e.message)
      throw e
    }
    const dir = timestampedDir(opts.out as string, merged.startedAt) + '-merged'
    await writeResults(merged, dir)
    if (opts.json === true) process.stdout.write(JSON.stringify(merged, null, 2) + '\n')
    else process.stdout.write(terminalSummary(merged, dir))
    process.exitCode = merged.runs.some(r => r.figures.safetyViolations > 0 || r.figures.liveness?.ok === false) ? 1 : 0
  })

program.command('compare')
  .description('Change of every figure between two results.json files; exit code 1 on a regression beyond the threshold.')
  .argument('<a>', 'the earlier results.json')
  .argument('<b>', 'the later results.json')
  .option('--threshold <percent>', 'a figure worse by more than this is a regression', '10')
  .option('--host', 'also flag regressions of host measurements (CPU, memory, simulator speed)')
  .option('--all', 'list unchanged figures too')
  .option('--json', 'print the comparison as JSON')
  .action((a: string, b: string, opts: Record<string, unknown>) => {
    const text = String(opts.threshold).replace(/%$/, '')
    const percent = Number(text)
    if (text.trim() === '' || !Number.isFinite(percent) || percent < 0) fail(`--threshold expects a percentage >= 0, got "${String(opts.threshold)}"`)
    let comparison
    try {
      comparison = compareResults(loadResults(a), loadResults(b), { threshold: percent / 100, includeHost: opts.host === true })
    } catch (e) {
      if (e instanceof ConfigError) fail(e.message)
      throw e
    }
    if (opts.json === true) process.stdout.write(JSON.stringify(comparison, null, 2) + '\n')
    else process.stdout.write(formatComparison(comparison, percent / 100, opts.all === true))
    process.exitCode = comparison.regressions.length > 0 ? 1 : 0
  })

program.command('messages')
  .description('Replica-to-replica messages per committed command at batch size 1, measured at the transport, next to the theory.')
  .option('--protocols <list>', 'protocols (default: every registered replicated one)')
  .option('--n <list>', 'cluster sizes (default: per protocol the sizes tolerating f = 1, 2, 3)')
  .option('--commands <count>', 'commands measured after warm-up', positiveInt('--commands'), 200)
  .option('--json', 'print JSON')
  .action((opts: Record<string, unknown>) => {
    const names = opts.protocols === undefined ? [...protocols.keys()].filter(p => p !== 'unreplicated') : String(opts.protocols).split(',')
    const rows = []
    for (const name of names) {
      let protocol
      try { protocol = getProtocol(name.trim()) } catch (e) { fail((e as Error).message) }
      const sizes = opts.n === undefined ? [1, 2, 3].map(f => protocol.replicasFor(f)) : String(opts.n).split(',').map(Number)
      for (const n of sizes) {
        const sizeError = Number.isInteger(n) ? protocol.checkClusterSize(n) : `"${n}" is not an integer`
        if (sizeError !== null) fail(`--n ${n}: ${sizeError}`)
        rows.push(measureMessagesPerCommand(protocol, n, { commands: opts.commands as number }))
      }
    }
    if (opts.json === true) { process.stdout.write(JSON.stringify(rows, null, 2) + '\n'); return }
    for (const r of rows) {
      const types = Object.keys(r.theoretical).map(t => `${t} ${r.measured[t]} (theory ${r.theoretical[t]})`).join(', ')
      process.stdout.write(`${r.protocol.padEnd(12)} n=${String(r.n).padEnd(3)} measured ${r.measuredTotal} per command, theory ` +
        `${r.theoreticalTotal}${r.measuredTotal === r.theoreticalTotal ? '' : '  MISMATCH'}: ${types}\n`)
    }
  })

program.command('failover')
  .description('Leader/primary failover in the simulator over many seeds: median, p99 and max virtual time from the crash to service.')
  .requiredOption('--protocol <name>', `protocol: ${[...protocols.keys()].join(', ')}`)
  .option('--n <n>', 'replicas (default: the smallest cluster tolerating one fault)', positiveInt('--n'))
  .option('--seeds <count>', 'runs, one per seed', positiveInt('--seeds'), 50)
  .option('--first-seed <s>', 'first seed', positiveInt('--first-seed', 0), 1)
  .option('--clients <c>', 'closed-loop clients', positiveInt('--clients'), 16)
  .option('--json', 'print JSON')
  .action((opts: Record<string, unknown>) => {
    let protocol
    try { protocol = getProtocol(opts.protocol as string) } catch (e) { fail((e as Error).message) }
    const n = (opts.n as number | undefined) ?? protocol.replicasFor(1)
    const sizeError = protocol.checkClusterSize(n)
    if (sizeError !== null) fail(`--n: ${sizeError}`)
    if (protocol.faultsTolerated(n) < 1) fail(`--n: ${protocol.name} with n = ${n} tolerates no crash`)
    const r = measureFailover(protocol, n, { seeds: opts.seeds as number, firstSeed: opts.firstSeed as number, clients: opts.clients as number })
    if (opts.json === true) { process.stdout.write(JSON.stringify(r, null, 2) + '\n'); return }
    const fmt = (q: { median: number; p99: number; max: number }) => `median ${q.median} ms, p99 ${q.p99} ms, max ${q.max} ms`
    process.stdout.write(`${r.protocol} n=${r.n}: leader crashed in ${r.seeds} seeded runs, service resumed in ${r.recovered}\n` +
      `  crash -> first completed operation issued after it: ${fmt(r.failoverMs)}\n` +
      `  crash -> first commit of any operation:              ${fmt(r.firstCommitMs)}\n`)
  })

const dl = DEFAULT_LIVE_BENCH
program.command('live')
  .description('Real clusters over libp2p on 127.0.0.1 (TCP + Noise + Yamux, file storage; each replica its own OS process, ' +
    'load from separate processes), wall-clock: single-client ' +
    'commit latency next to a bare libp2p echo, and throughput per client count and fsync policy (see bench/README.md).')
  .option('--protocols <list>', `protocols (default: every registered one: ${[...protocols.keys()].join(', ')})`)
  .option('--clients <list>', 'outstanding operations; without --client-nodes each is its own libp2p node with one request outstanding', dl.clients.join(','))
  .option('--client-nodes <k>', 'carry the load on this many client nodes, each pipelining its share of --clients (default: one node per client)')
  .option('--transport-messages <count>', 'frames for the transport\'s per-message cost next to bare libp2p (0: skip)', String(dl.transportMessages))
  .option('--fsync <list>', 'storage fsync policies: always, batch, none', dl.fsync.join(','))
  .option('--warmup-ms <ms>', 'warm-up before each measurement, excluded', String(dl.warmupMs))
  .option('--duration-ms <ms>', 'measured window of each measurement', String(dl.durationMs))
  .option('--repeat <k>', 'measurements per combination; the figures are their medians', String(dl.repeat))
  .option('--echo-pings <count>', 'pings of the bare libp2p echo', String(dl.echoPings))
  .option('--signer <name>', 'Ed25519 implementation: node, tweetnacl', dl.signer)
  .option('--tick-ms <ms>', 'milliseconds per protocol tick', String(dl.tickMs))
  .option('--max-pending <k>', 'client requests each replica keeps pending at most; past it, it answers busy and clients back off (default 4096)')
  .option('--value-size <bytes>', 'bytes per written value', String(dl.valueSize))
  .option('--keys <k>', 'distinct keys written', String(dl.keys))
  .option('--timeout-ms <ms>', 'per-request deadline (a request past it counts as a timeout)', String(dl.timeoutMs))
  .option('--seed <s>', 'seed of the workload (keys); timing is the machine\'s', String(dl.seed))
  .option('--load-processes <k>', 'load-generator processes sharing the client nodes', String(dl.loadProcesses))
  .option('--groups <list>', 'consensus groups sharding the key space on the same replica processes (1: one group, as without it); multi-process form', dl.groups.join(','))
  .option('--in-process', 'run replicas and clients in this one process (for debugging; the default runs each replica ' +
    'as its own OS process and the load from separate processes); the same as --forms in-process')
  .option('--forms <list>', 'multi-process, in-process, or both (each protocol measured in each form, side by side)', dl.forms.join(','))
  .option('--baseline <name>', "etcd: also measure a local etcd cluster of each protocol's size (the etcd binary on the PATH) with the same workload, side by side with ratios; none: no baseline", 'none')
  .option('--stack <list>', 'libp2p stacks, each measured next to the bare echo on it: tcp+noise+yamux, tcp+tls+yamux, ' +
    'tcp+noise+mplex, websockets+noise+yamux, quic (QUIC brings its own encryption and muxing)', 'tcp+noise+yamux')
  .option('--dissemination <list>', "how replicas' broadcasts travel: direct (one stream write per peer), gossipsub (one publish on the cluster's topic), or both", 'direct')
  .option('--rates <list>', 'open loop: measure each client count at each offered rate (operations/s, Poisson arrivals, ' +
    'latency from the intended arrival); --clients then bounds what is in flight')
  .option('--curve', 'a throughput-latency curve per protocol and client count: open loop from --curve-start ops/s, the ' +
    'rate doubled until the cluster stops keeping up; reports the saturation point')
  .option('--curve-start <rate>', 'the curve\'s first offered rate, operations/s', String(dl.curveStart))
  .option('--cluster <file>', 'measure the running cluster of this cluster.json (replicas started with consensus node on ' +
    'their hosts) instead of starting clusters: protocol, size, fsync and stack are the file\'s; needs its client keys here ' +
    'and, per replica, its admin socket on this machine or a metricsPort (README, "Replicas on several hosts")')
  .option('--out <dir>', 'parent folder of the results folder', 'results')
  .option('--no-save', 'write no results folder')
  .option('--html-runs', 'also write an HTML view of every simulated run (history, messages, status) linked from report.html')
  .option('--json', 'print results as JSON on stdout (no table, no progress)')
  .option('--quiet', 'no progress lines')
  .action(async (opts: Record<string, unknown>, cmd: Command) => {
    const given: Record<string, unknown> = {}
    for (const key of Object.keys(opts)) if (cmd.getOptionValueSource(key) === 'cli') given[key] = opts[key]
    let config
    try {
      config = buildLiveBenchConfig(given as LiveBenchFlags, protocols)
    } catch (e) {
      if (e instanceof ConfigError) fail(e.message)
      throw e
    }
    const json = opts.json === true
    const progress = !json && opts.quiet !== true
    // Said up front, whatever --quiet or --json: the run goes on without the baseline.
    if (config.baseline === 'etcd' && findEtcd() === null) process.stderr.write(`bench live: ${ETCD_MISSING}\n`)
    const results = await runLiveBench(config, protocols, {
      onProgress: p => { if (progress) process.stderr.write(`bench live [${p.done}/${p.total}] ${p.label}\n`) },
    }).catch((e: unknown) => e instanceof ExternalClusterError ? fail(`live: ${e.message}`) : Promise.reject(e))
    let dir: string | null = null
    if (opts.save !== false) {
      dir = liveResultsDir(opts.out as string, results.startedAt)
      writeLiveResults(results, dir)
    }
    if (results.baseline?.status === 'failed') process.stderr.write(`bench live: ${results.baseline.message}\n`)
    if (json) process.stdout.write(JSON.stringify(results, null, 2) + '\n')
    else process.stdout.write(liveTerminalSummary(results, dir))
    if (json && dir !== null) process.stderr.write(`bench: results in ${dir}\n`)
    process.exitCode = results.runs.some(r => r.agreement === 'diverged') ? 1 : 0
  })

const dg = DEFAULT_GROUPS_BENCH
program.command('groups')
  .description('Multi-group deployments in the simulator with the CPU model: throughput, latency, messages, wire frames ' +
    'and fsyncs per op, idle cost and memory per group, and the failovers a node crash causes, against the number of groups.')
  .option('--protocols <list>', 'protocols (default raft,multipaxos)', 'raft,multipaxos')
  .option('--groups <list>', 'groups per deployment', dg.groups.join(','))
  .option('--nodes <n>', 'nodes hosting the groups', String(dg.nodes))
  .option('--replication <r>', 'replicas per group (default: every node)')
  .option('--clients <c>', 'closed-loop clients', String(dg.clients))
  .option('--keys <k>', 'keys, split evenly over the groups', String(dg.keys))
  .option('--read-ratio <r>', 'share of reads', String(dg.readRatio))
  .option('--warmup-ms <ms>', 'load before the measured window', String(dg.warmupMs))
  .option('--duration-ms <ms>', 'measured window (virtual time)', String(dg.durationMs))
  .option('--fsync-ms <ms>', "virtual time one fsync of a node's shared log takes", String(dg.fsyncMs))
  .option('--cpu <model>', "'reference' or key=value over it (receiveUs, sendUs, perByteNs, signUs, verifyUs)", 'reference')
  .option('--seed <s>', 'seed', String(dg.seed))
  .option('--no-coalesce', 'send every group frame as its own wire frame')
  .option('--no-crash', 'skip the node-crash run of each deployment')
  .option('--option <key=value>', 'protocol option for every group (repeatable), e.g. window=4 for Multi-Paxos', keyValue, {})
  .option('--out <dir>', 'parent folder of the results folder', 'results')
  .option('--no-save', 'write no results folder')
  .option('--json', 'print results as JSON')
  .action(async (opts: Record<string, unknown>) => {
    let options
    const list = String(opts.protocols).split(',').map(s => s.trim())
    const chosen = []
    try {
      for (const name of list) chosen.push(getProtocol(name))
      options = buildGroupsBenchOptions(opts as GroupsBenchFlags, parseCpuModel(String(opts.cpu), '--cpu'))
      for (const p of chosen) {
        const err = p.checkClusterSize(options.replication ?? options.nodes)
        if (err !== null) throw new ConfigError('--replication', `${p.name}: ${err}`)
      }
    } catch (e) {
      if (e instanceof ConfigError) fail(e.message)
      throw e
    }
    const startedAt = new Date().toISOString()
    const results = runGroupsBench(chosen, options, label => { if (opts.json !== true) process.stderr.write(`bench groups: ${label}\n`) })
    let dir: string | null = null
    if (opts.save !== false) {
      dir = timestampedDir(opts.out as string, startedAt) + '-groups'
      await writeGroupsResults(results, dir, `npm run bench -- groups ${process.argv.slice(3).join(' ')}`.trim())
    }
    if (opts.json === true) process.stdout.write(JSON.stringify(results, null, 2) + '\n')
    else process.stdout.write(groupsTerminalSummary(results, dir))
    process.exitCode = results.rows.some(r => r.safetyViolations > 0) ? 1 : 0
  })

program.command('speed')
  .description('Simulator speed: deliveries and committed operations per wall-clock second under saturating load.')
  .requiredOption('--protocol <name>', `protocol: ${[...protocols.keys()].join(', ')}`)
  .option('--n <n>', 'replicas (default: the smallest cluster tolerating one fault); with --scaling a list (default 3,5,9,17,33; PBFT 4,7,13,25)')
  .option('--scaling', 'wall time per committed operation against n: what a bigger sweep will cost')
  .option('--clients <c>', 'closed-loop clients', positiveInt('--clients'), 64)
  .option('--virtual-ms <ms>', 'virtual time simulated after a 500 ms warm-up (default 3000; 1000 with --scaling)', positiveInt('--virtual-ms'))
  .option('--seed <s>', 'seed', positiveInt('--seed', 0), 1)
  .addOption(new Option('--signer <name>', 'signatures: sim (modelled), node, tweetnacl').choices(SIGNER_NAMES).default('sim'))
  .option('--cold', 'one run in a fresh process (no second run once the JIT has compiled the simulator)')
  .option('--json', 'print JSON')
  .action((opts: Record<string, unknown>) => {
    let protocol
    try { protocol = getProtocol(opts.protocol as string) } catch (e) { fail((e as Error).message) }
    const sizes = opts.n === undefined ? undefined : String(opts.n).split(',').map(s => Number(s.trim()))
    for (const size of sizes ?? []) {
      const sizeError = Number.isInteger(size) && size >= 1 ? protocol.checkClusterSize(size) : `expected a positive integer, got "${String(opts.n)}"`
      if (sizeError !== null) fail(`--n: ${sizeError}`)
    }
    const speedOptions = { clients: opts.clients as number, seed: opts.seed as number, signer: opts.signer as SignerName }
    if (opts.scaling === true) {
      const s = measureScaling(protocol, sizes ?? scalingSizes(protocol), { ...speedOptions, virtualMs: (opts.virtualMs as number | undefined) ?? 1000 })
      if (opts.json === true) { process.stdout.write(JSON.stringify(s, null, 2) + '\n'); return }
      process.stdout.write(`${s.protocol}: wall time per committed operation against n (${speedOptions.clients} clients, ${speedOptions.signer} signer)\n`)
      process.stdout.write('  n     wall us/op   deliveries/s   ops measured   deliveries per op\n')
      for (const r of s.rows) {
        process.stdout.write(`  ${String(r.n).padEnd(5)} ${String(r.wallUsPerOp).padStart(10)}   ${r.deliveriesPerSec.toLocaleString('en-US').padStart(12)}   ` +
          `${r.ops.toLocaleString('en-US').padStart(12)}   ${(r.deliveries / Math.max(1, r.ops)).toFixed(1).padStart(17)}\n`)
      }
      if (s.exponent !== null) process.stdout.write(`  wall time per operation grows about as n^${s.exponent}\n`)
      return
    }
    if (sizes !== undefined && sizes.length > 1) fail('--n: one cluster size (a list needs --scaling)')
    let n = sizes?.[0]
    if (n === undefined) {
      try { n = protocol.replicasFor(1) } catch { n = protocol.replicasFor(0) }
    }
    const runOptions = { ...speedOptions, virtualMs: (opts.virtualMs as number | undefined) ?? 3000 }
    const r: SpeedResult & { cold?: SpeedResult } = opts.cold === true
      ? measureSimulatorSpeed(protocol, n, runOptions) : measureWarmSimulatorSpeed(protocol, n, runOptions)
    const cold = r.cold
    if (opts.json === true) { process.stdout.write(JSON.stringify(r, null, 2) + '\n'); return }
    process.stdout.write(`${r.protocol} n=${r.n}, ${r.clients} clients, ${(r.virtualMs / 1000).toFixed(1)} s virtual in ` +
      `${(r.wallMs / 1000).toFixed(2)} s wall (${r.speedup}x real time)` +
      `${cold !== undefined ? ', the second run in this process (--cold: the first only)' : ', one run in a fresh process'}\n` +
      `  ${r.deliveriesPerSec.toLocaleString('en-US')} message deliveries per wall-clock second (${r.deliveries.toLocaleString('en-US')} in all)\n` +
      `  ${r.deliveriesPerCpuSec.toLocaleString('en-US')} message deliveries per CPU second (${(r.cpuMs / 1000).toFixed(2)} s of CPU)\n` +
      `  ${r.opsPerSec.toLocaleString('en-US')} committed operations per wall-clock second (${r.ops.toLocaleString('en-US')} measured)\n` +
      (cold !== undefined ? `  first run (JIT cold): ${cold.deliveriesPerSec.toLocaleString('en-US')} message deliveries per wall-clock second, ` +
        `${cold.deliveriesPerCpuSec.toLocaleString('en-US')} per CPU second, in ${(cold.wallMs / 1000).toFixed(2)} s wall\n` : ''))
  })

try {
  await program.parseAsync(process.argv)
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2)
  throw e
}
