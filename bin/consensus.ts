#!/usr/bin/env node
/**
 * `consensus`: one CLI for live clusters over libp2p (and a pointer to the simulator and benchmarks).
 *
 *   consensus cluster init --protocol raft --n 3 --dir ./c     keys + cluster.json for a local cluster
 *   consensus cluster up ./c | down ./c | status ./c [--metrics]  start/stop/inspect the replica processes
 *   consensus node --config ./c/cluster.json --id 0            run one replica in the foreground
 *   consensus kv put k v --config ./c/cluster.json             a client (get | put | delete | cas)
 *   consensus chaos --dir ./c --duration 30 --clients 4 --faults kill,restart,partition --history h.jsonl
 *
 * Every command has --help. Bad arguments and config mistakes exit with status 2 and a message naming them; so does
 * `consensus node` on a damaged log (refused, naming file and offset) or a data directory another process holds.
 */
import { DISSEMINATIONS } from '../net/libp2p/dissemination.ts'
import { ENCRYPTERS, MUXERS, parseStack, resolveStack, stackName, TRANSPORTS } from '../net/libp2p/stack.ts'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { ConfigError } from '../core/errors.ts'
import { formatHistory, HISTORY_FORMATS, type HistoryFormat } from '../core/history-formats.ts'
import { writeRunHtml } from '../viz/html.ts'
import { chaosView } from '../viz/chaos.ts'
import { FSYNC_POLICIES } from '../core/storage/file-storage.ts'
import { DataDirectoryLockedError } from '../core/storage/dir-lock.ts'
import { StorageCorruptionError } from '../core/storage/record-framing.ts'
import { getProtocol, protocols } from '../protocols/index.ts'
import { adminRequest } from '../live/admin.ts'
import { CHAOS_FAULTS, runChaos, type ChaosFault } from '../live/chaos.ts'
import { createClient } from '../live/client.ts'
import { DEFAULT_METRICS_HOST, loadClusterConfig } from '../live/config.ts'
import { parseMetrics, scrapeMetrics, summarizeMetrics, type MetricSample } from '../live/metrics.ts'
import { initCluster } from '../live/init.ts'
import { adminSocketPath, createNode } from '../live/node.ts'
import { groupedStatusLine } from '../live/grouped-status.ts'
import { gossipStatusLine, type GossipStatus } from '../live/gossip-status.ts'
import type { GroupedNodeStatus } from '../live/grouped-node.ts'
import { clusterDown, clusterUp, runningPid } from '../live/processes.ts'
import { keyValue, list, positiveInt, ratio } from './cli-args.ts'
import { runAdminCommand } from '../live/cluster-admin.ts'
import { describeAdminCommand } from '../core/admin-commands.ts'
import type { AdminCommand } from '../core/protocol.ts'
import { formatLiveness } from '../core/liveness.ts'

const program = new Command('consensus')
  .description('Run and use consensus clusters over libp2p. Simulation: npm run sim; benchmarks: npm run bench.')
  .exitOverride()

const clusterFile = (dir: string) => join(dir, 'cluster.json')

const cluster = program.command('cluster').description('create, start, stop and inspect a local cluster')

cluster.command('init')
  .description('write keys (mode 0600) and cluster.json for a cluster on 127.0.0.1 (or on --hosts)')
  .requiredOption('--protocol <name>', `protocol: ${[...protocols.keys()].join(', ')}`)
  .requiredOption('--n <n>', 'number of replicas', positiveInt('--n'))
  .requiredOption('--dir <dir>', 'a new, empty folder for the cluster')
  .option('--base-port <port>', 'replica i listens on base-port + i', positiveInt('--base-port', 1024), 7000)
  .option('--hosts <list>', 'IPv4 address of each replica, comma-separated (default 127.0.0.1 for all): a cluster over several hosts', (v: string) => v.split(','))
  .option('--clients <c>', 'allow-listed client identities to create', positiveInt('--clients'), 16)
  .addOption(new Option('--fsync <policy>', 'when the write-ahead log is fsynced').choices(FSYNC_POLICIES).default('batch'))
  .addOption(new Option('--signer <name>', 'Ed25519 implementation').choices(['node', 'tweetnacl']).default('node'))
  .option('--option <key=value>', 'protocol option (repeatable)', keyValue, {})
  .option('--groups <g>', 'shard the key space over this many consensus groups (live/groups-config.ts)', positiveInt('--groups'))
  .option('--replication <r>', 'with --groups: replicas per group (default: all)', positiveInt('--replication'))
  .option('--group-keys <k>', 'with --groups: split the key space k0..k<k-1> evenly (default 1000)', positiveInt('--group-keys'))
  .option('--stack <stack>', 'libp2p stack, short form: tcp+noise+yamux (default), tcp+tls+yamux, tcp+noise+mplex, websockets+noise+yamux, quic')
  .addOption(new Option('--transport <name>', 'libp2p transport (or give --stack)').choices(TRANSPORTS))
  .addOption(new Option('--encrypter <name>', 'connection encrypter, not for quic (it brings its own TLS 1.3)').choices(ENCRYPTERS))
  .addOption(new Option('--muxer <name>', 'stream muxer, not for quic (it brings its own)').choices(MUXERS))
  .addOption(new Option('--dissemination <how>', "replicas' broadcasts: one stream write per peer, or one publish on the cluster's gossipsub topic")
    .choices(DISSEMINATIONS).default('direct'))
  .action(a => {
    if (a.groups === undefined && (a.replication !== undefined || a.groupKeys !== undefined)) {
      throw new ConfigError(a.replication !== undefined ? '--replication' : '--group-keys', 'needs --groups')
    }
    const parts = a.transport !== undefined || a.encrypter !== undefined || a.muxer !== undefined
    if (a.stack !== undefined && parts) throw new ConfigError('stack', 'give --stack or --transport/--encrypter/--muxer, not both')
    const fromParts = () => {
      try { return resolveStack({ transport: a.transport, encrypter: a.encrypter, muxer: a.muxer }) } catch (e) {
        // Named by the flag the user typed: stack.encrypter -> --encrypter.
        if (e instanceof ConfigError) throw new ConfigError(`--${e.field.slice('stack.'.length)}`, e.message.slice(e.field.length + 2))
        throw e
      }
    }
    const stack = a.stack !== undefined ? parseStack(a.stack, '--stack') : fromParts()
    const config = initCluster({
      protocol: a.protocol, n: a.n, dir: a.dir, basePort: a.basePort, clients: a.clients, fsync: a.fsync, signer: a.signer,
      protocolOptions: a.option, ...(a.hosts !== undefined ? { hosts: a.hosts } : {}), stack, dissemination: a.dissemination,
      ...(a.groups !== undefined ? {
        groups: {
          count: a.groups,
          ...(a.replication !== undefined ? { replication: a.replication } : {}),
          ...(a.groupKeys !== undefined ? { keys: a.groupKeys } : {}),
        },
      } : {}),
    })
    process.stdout.write(`wrote ${clusterFile(a.dir)}: ${config.protocol} on ${stackName(stack)} (broadcasts ${config.dissemination}), ${config.replicas.length} replicas on ` +
      `${config.replicas.map(r => r.address).join(' ')}, ${config.clients.length} clients` +
      `${config.groups !== undefined ? `, ${config.groups.count} groups of ${config.groups.replication ?? config.replicas.length} replicas` : ''}\n` +
      `next: consensus cluster up ${a.dir}\n`)
  })

cluster.command('up')
  .description('start every replica of the cluster as a separate process (logs in <dir>/run)')
  .argument('<dir>', 'cluster folder (holds cluster.json)')
  .action(async (dir: string) => {
    const config = loadClusterConfig(clusterFile(dir))
    const pids = await clusterUp(config, clusterFile(dir))
    for (const [id, pid] of pids) process.stdout.write(`replica ${id}: pid ${pid}\n`)
  })

cluster.command('down')
  .description('stop the replica processes started by cluster up')
  .argument('<dir>', 'cluster folder')
  .action(async (dir: string) => {
    const stopped = await clusterDown(loadClusterConfig(clusterFile(dir)))
    process.stdout.write(stopped.length === 0 ? 'no replica was running\n' : `stopped replicas ${stopped.join(', ')}\n`)
  })

cluster.command('status')
  .description("each replica's role, term or view, commit index and peers; with gossipsub, its gossip counters")
  .argument('<dir>', 'cluster folder')
  .option('--json', 'machine-readable output')
  .option('--metrics', "also scrape each replica's Prometheus endpoint (replicas with a metricsPort in cluster.json)")
  .action(async (dir: string, a: { json?: boolean; metrics?: boolean }) => {
    const config = loadClusterConfig(clusterFile(dir))
    const rows = await Promise.all(config.replicas.map(async r => {
      const pid = runningPid(config, r.id)
      if (pid === null) return { id: r.id, running: false }
      let row: Record<string, unknown>
      try {
        row = { id: r.id, running: true, pid, ...(await adminRequest(adminSocketPath(config, r.id), { cmd: 'status' }) as object) }
      } catch (e) {
        return { id: r.id, running: true, pid, error: (e as Error).message }
      }
      if (a.metrics === true) {
        if (r.metricsPort === undefined) row.metricsError = 'no metricsPort in cluster.json'
        else {
          try { row.metrics = parseMetrics(await scrapeMetrics(r.metricsHost ?? DEFAULT_METRICS_HOST, r.metricsPort)) } catch (e) { row.metricsError = (e as Error).message }
        }
      }
      return row
    }))
    if (a.json === true) { process.stdout.write(JSON.stringify(rows, null, 2) + '\n'); return }
    for (const row of rows as Array<Record<string, unknown>>) {
      if (row.running !== true) { process.stdout.write(`replica ${row.id}: down\n`); continue }
      if (row.error !== undefined) { process.stdout.write(`replica ${row.id}: pid ${row.pid}, not answering (${row.error})\n`); continue }
      if (row.groups !== undefined) { process.stdout.write(groupedStatusLine(row as unknown as GroupedNodeStatus & { pid: number }) + '\n'); continue }
      process.stdout.write(`replica ${row.id}: pid ${row.pid}, ${row.role}, epoch ${row.epoch}, leader ${row.leader}, ` +
        `commit ${row.commitIndex}, applied ${row.appliedIndex}, peers ${(row.peers as number[]).join(',')}` +
        `${(row.blocked as number[]).length > 0 ? `, blocked ${(row.blocked as number[]).join(',')}` : ''}\n`)
      if (row.gossip !== null && row.gossip !== undefined) process.stdout.write(`  ${gossipStatusLine(row.gossip as GossipStatus)}\n`)
      if (row.metricsError !== undefined) process.stdout.write(`  metrics: ${row.metricsError as string}\n`)
      if (row.metrics !== undefined) for (const line of summarizeMetrics(row.metrics as MetricSample[])) process.stdout.write(`  ${line}\n`)
    }
  })

/** Print what an admin command did, or exit 1 saying why it could not be done. */
async function adminCommand(dir: string, command: AdminCommand, timeoutSeconds: number): Promise<void> {
  const config = loadClusterConfig(clusterFile(dir))
  let outcome
  try {
    outcome = await runAdminCommand(config, command, timeoutSeconds * 1000)
  } catch (e) {
    if (e instanceof ConfigError) throw e
    // Refused by the leader (e.g. a learner not caught up yet) or timed out: say so, exit 1.
    process.stderr.write(`consensus: ${describeAdminCommand(command)}: ${(e as Error).message}\n`)
    process.exitCode = 1
    return
  }
  const { leader, status } = outcome
  const m = status.membership
  process.stdout.write(`${describeAdminCommand(command)}: done (sent to leader ${leader}); ` +
    (command.kind === 'transfer-leadership' ? `replica ${status.id} leads in epoch ${status.epoch}\n`
      : `voters ${m?.voters.join(',') ?? '?'}, learners ${m?.learners.join(',') || 'none'}\n`))
}

const timeoutOption = (c: Command) => c.option('--timeout <s>', 'give up after this many seconds', positiveInt('--timeout'), 20)

const member = cluster.command('member')
  .description('change the membership of a running cluster (protocols with membership changes: raft); members must be in cluster.json')
for (const [name, kind, help] of [
  ['add-learner', 'add-learner', 'add a replica as a non-voting learner; it receives the log and catches up'],
  ['promote', 'promote', 'make a caught-up learner a voter (refused until it has caught up)'],
  ['remove', 'remove', 'remove a voter or learner (e.g. before it comes back with an empty data directory)'],
] as const) {
  timeoutOption(member.command(name).description(help).argument('<dir>', 'cluster folder').argument('<id>', 'replica id', positiveInt('<id>', 0)))
    .action(async (dir: string, id: number, a: { timeout: number }) => adminCommand(dir, { kind, id }, a.timeout))
}

timeoutOption(cluster.command('transfer')
  .description('hand leadership to another replica (protocols with leader transfer: raft)')
  .argument('<dir>', 'cluster folder').argument('<to>', 'replica id to lead', positiveInt('<to>', 0)))
  .action(async (dir: string, to: number, a: { timeout: number }) => adminCommand(dir, { kind: 'transfer-leadership', to }, a.timeout))

program.command('node')
  .description('run one replica in the foreground (stop with Ctrl-C or SIGTERM)')
  .requiredOption('--config <file>', 'cluster.json')
  .requiredOption('--id <id>', 'replica id', positiveInt('--id', 0))
  .action(async (a: { config: string; id: number }) => {
    const node = await createNode({ config: a.config, id: a.id })
    process.stdout.write(`replica ${a.id} running (${node.transport.multiaddrs().join(' ')})\n`)
    const stop = async () => { await node.close(); process.exit(0) }
    process.once('SIGTERM', () => { void stop() })
    process.once('SIGINT', () => { void stop() })
  })

const kvOptions = (c: Command) => c
  .requiredOption('--config <file>', 'cluster.json')
  .option('--client-id <id>', 'allow-listed client identity (default: the first)', positiveInt('--client-id', 1000))
  .option('--timeout <ms>', 'give up after this long (the command may still be applied)', positiveInt('--timeout'), 5000)

async function withClient<T>(a: { config: string; clientId?: number; timeout: number }, f: (c: Awaited<ReturnType<typeof createClient>>) => Promise<T>): Promise<T> {
  const client = await createClient({ config: a.config, timeoutMs: a.timeout, ...(a.clientId !== undefined ? { clientId: a.clientId } : {}) })
  try {
    return await f(client)
  } finally {
    await client.close()
  }
}

const kv = program.command('kv').description('a key-value client of a running cluster')
kvOptions(kv.command('get').description('print the value of a key (exit 1 if absent)').argument('<key>'))
  .action(async (key: string, a) => {
    const v = await withClient(a, c => c.get(key))
    if (v === null) { process.stderr.write(`${key}: not found\n`); process.exitCode = 1 } else process.stdout.write(v + '\n')
  })
kvOptions(kv.command('put').description('set a key').argument('<key>').argument('<value>'))
  .action(async (key: string, value: string, a) => { await withClient(a, c => c.put(key, value)); process.stdout.write('ok\n') })
kvOptions(kv.command('delete').description('delete a key (exit 1 if it did not exist)').argument('<key>'))
  .action(async (key: string, a) => {
    const existed = await withClient(a, c => c.delete(key))
    process.stdout.write(existed ? 'deleted\n' : 'not found\n')
    if (!existed) process.exitCode = 1
  })
kvOptions(kv.command('cas').description('set <key> to <new> if it is <expected> (use --absent for "no value"); exit 1 if not swapped')
  .argument('<key>').argument('[expected]').argument('<new>').option('--absent', 'expect the key to be absent'))
  .action(async (key: string, expected: string | undefined, value: string, a) => {
    if ((expected === undefined) === (a.absent !== true)) throw new InvalidArgumentError('give either <expected> or --absent')
    const swapped = await withClient(a, c => c.cas(key, a.absent === true ? null : expected!, value))
    process.stdout.write(swapped ? 'swapped\n' : 'not swapped\n')
    if (!swapped) process.exitCode = 1
  })

program.command('chaos')
  .description('drive a workload against a local cluster while killing, restarting and partitioning its processes; check the history')
  .requiredOption('--dir <dir>', 'cluster folder (started with cluster up, or started here)')
  .option('--duration <s>', 'seconds of workload and faults', positiveInt('--duration'), 30)
  .option('--clients <c>', 'concurrent clients', positiveInt('--clients'), 4)
  .option('--faults <list>', `comma-separated: ${CHAOS_FAULTS.join(', ')}`, list, [...CHAOS_FAULTS])
  .option('--history <file>', 'write the client history (JSON Lines unless --history-format)')
  .addOption(new Option('--history-format <format>', 'history file format: ours, Knossos/Elle EDN or Porcupine JSON').choices(HISTORY_FORMATS).default('jsonl'))
  .option('--html <file>', 'write a self-contained HTML view: history timeline, faults, polled replica status')
  .option('--seed <s>', 'seed for the workload and fault choices', positiveInt('--seed', 0))
  .option('--keys <k>', 'distinct keys in the workload (fewer keys, more contention)', positiveInt('--keys'), 8)
  .option('--read-ratio <r>', 'share of reads in the workload (0..1)', ratio('--read-ratio'), 0.5)
  .option('--settle <s>', 'seconds of workload after the final heal (progress after it is required)', positiveInt('--settle', 0), 5)
  .action(async a => {
    for (const f of a.faults as string[]) if (!(CHAOS_FAULTS as readonly string[]).includes(f)) throw new InvalidArgumentError(`--faults: unknown fault "${f}" (${CHAOS_FAULTS.join(', ')})`)
    const config = loadClusterConfig(clusterFile(a.dir))
    const report = await runChaos({
      config, configFile: clusterFile(a.dir), durationMs: a.duration * 1000, clients: a.clients, faults: a.faults as ChaosFault[],
      ...(a.seed !== undefined ? { seed: a.seed } : {}), onEvent: line => process.stdout.write(`  ${line}\n`),
      keys: a.keys, readRatio: a.readRatio, settleMs: a.settle * 1000,
      ...(a.html !== undefined ? { statusPollMs: 200 } : {}),
    })
    if (a.history !== undefined) writeFileSync(a.history, formatHistory(report.history, a.historyFormat as HistoryFormat))
    if (a.html !== undefined) writeRunHtml(a.html, chaosView(report, `chaos: ${config.protocol}, n = ${config.replicas.length}`))
    process.stdout.write(`operations: ${report.ops.ok} ok, ${report.ops.fail} fail, ${report.ops.info} info in ${(report.durationMs / 1000).toFixed(1)} s\n`)
    process.stdout.write(`faults injected: ${report.faults.length}\n`)
    // An eventually consistent protocol (quorum-kv) promises no linearizability: its verdict is reported, not required.
    const eventual = getProtocol(config.protocol).consistency === 'eventual'
    process.stdout.write(`checker: ${report.check.verdict} (${report.check.opsChecked} operations on ${report.check.keysChecked} keys)` +
      (eventual ? ` (${config.protocol} is eventually consistent: reported, not required)` : '') + '\n')
    if (!report.check.ok) {
      process.stdout.write(report.check.explanation + '\n')
      if (!eventual) process.exitCode = 1
    }
    process.stdout.write(formatLiveness(report.liveness) + '\n')
    for (const p of report.liveness.problems) process.stdout.write(`  ${p}\n`)
    if (!report.liveness.ok) process.exitCode = 1
  })

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv)
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2)
    if (e instanceof ConfigError || e instanceof InvalidArgumentError || e instanceof StorageCorruptionError ||
      e instanceof DataDirectoryLockedError) {
      process.stderr.write(`consensus: ${e.message}\n`)
      process.exit(2)
    }
    throw e
  }
}

void main()
