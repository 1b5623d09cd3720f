#!/usr/bin/env node
/**
 * `npm run sim -- --protocol <name> --n <n> --seed <s> --ops <count> --clients <c> [--faults <spec>|random]
 *  [--history h.jsonl]`: one seeded simulation; prints a summary and the checker's verdict. The same arguments print
 * the same output, byte for byte. Exit code 0 when the run is safe (linearizable, replicas agree) and live (it
 * finished, and after the final heal every operation completed within the bound); 1 otherwise; 2 on bad arguments.
 */
import { writeFileSync } from 'node:fs'
import { Command, Option } from 'commander'
import { ConfigError } from '../core/errors.ts'
import { SIGNER_NAMES } from '../core/signers/index.ts'
import type { SignerName } from '../core/signer.ts'
import { formatHistory, HISTORY_FORMATS, type HistoryFormat } from '../core/history-formats.ts'
import { protocols } from '../protocols/index.ts'
import { describeBehind, formatLiveness, replayCommand, runPassed, runSimulation, type SimulationReport } from '../net/sim/run.ts'
import { parseCpuModel, type CpuModel } from '../net/sim/cpu.ts'
import { writeRunHtml } from '../viz/html.ts'
import { simulationView } from '../viz/run-view.ts'
import { keyValue, list, nonNegativeNumber, parseOrExit, positiveInt, protocolOrExit } from './cli-args.ts'

const program = new Command('sim')
  .description('Run one deterministic simulation of a protocol and check its client history for linearizability.')
  .requiredOption('--protocol <name>', `protocol: ${[...protocols.keys()].join(', ')}`)
  .option('--n <n>', 'replicas (default: the smallest cluster tolerating one fault, 1 for unreplicated)', positiveInt('--n'))
  .option('--seed <s>', 'seed for everything random', positiveInt('--seed', 0), 1)
  .option('--ops <count>', 'client operations to run', positiveInt('--ops', 0), 1000)
  .option('--clients <c>', 'concurrent clients (one outstanding operation each)', positiveInt('--clients'), 5)
  .option('--faults <spec>', "'none', 'random' (crashes, partitions, link faults), 'nemesis' (also pauses, clock drift, " +
    "outages, disk bit flips), or a schedule such as crash@1000:0,restart@3000:0,partition@2000:0.1|2.3.4,pause@500:leader", 'none')
  .option('--fault-window <ms>', 'random faults are injected in the first <ms> of virtual time', positiveInt('--fault-window'), 10_000)
  .option('--byzantine <strategies>', 'Byzantine replicas: strategies for the highest ids (comma-separated), or id=strategy items such as 0=equivocate,3=silent', list)
  .option('--byzantine-count <k>', 'how many replicas are Byzantine (default f; fewer leaves room for crashes)', positiveInt('--byzantine-count', 0))
  .option('--history <file>', 'write the client history (JSON Lines unless --history-format)')
  .addOption(new Option('--history-format <format>', 'history file format: ours, Knossos/Elle EDN or Porcupine JSON').choices(HISTORY_FORMATS).default('jsonl'))
  .option('--trace <file>', 'write one line per network event')
  .option('--html <file>', 'write a self-contained HTML view: history timeline, message diagram, replica status')
  .addOption(new Option('--signer <name>', 'signatures: sim (modelled, no curve arithmetic), or a real Ed25519: node, tweetnacl').choices(SIGNER_NAMES).default('sim'))
  .option('--option <key=value>', 'protocol option (repeatable)', keyValue, {})
  .option('--tick-ms <ms>', 'virtual milliseconds per protocol tick', nonNegativeNumber('--tick-ms'), 10)
  .option('--snapshot-interval <k>', "snapshot every k applied entries (default: the protocol's need, else 500)", positiveInt('--snapshot-interval'))
  .option('--max-pending <k>', 'client requests a replica keeps pending at most; past it, it answers busy (default 4096)', positiveInt('--max-pending'))
  .option('--fsync-ms <ms>', 'virtual time an fsync takes', nonNegativeNumber('--fsync-ms'), 0)
  .option('--cpu <model>', "model processing time: 'reference' or key=value over it (receiveUs, sendUs, perByteNs, signUs, verifyUs)")
  .option('--keys <k>', 'distinct keys in the workload', positiveInt('--keys'), 8)
  .addOption(new Option('--writers-per-key <w>', "'single': key i is written only by client i mod clients (no racing writes); 'any'").choices(['any', 'single']).default('any'))
  .option('--clock-drift <d>', 'each replica\'s clock runs at a rate drawn in [1-d, 1+d] (e.g. 0.2)', nonNegativeNumber('--clock-drift'))
  .option('--liveness-bound <ms>', 'operations invoked after the final heal must complete within this much virtual time', positiveInt('--liveness-bound'))
  .option('--max-timed-out <share>', 'at most this share of operations may time out (0..1)', nonNegativeNumber('--max-timed-out'))
  .option('--groups <g>', 'multi-group: the n nodes host g consensus groups, the keys split evenly over them (keys >= g)', positiveInt('--groups'))
  .option('--replication <r>', 'multi-group: replicas per group (default n)', positiveInt('--replication'))
  .option('--no-coalesce', "multi-group: send each group's frame alone instead of one wire frame per peer and turn")
  .option('--no-balance-leaders', 'multi-group: keep elected leaders instead of moving them to their preferred nodes')
  .option('--json', 'print the report as JSON instead of text')
  .exitOverride()
  .configureOutput({ writeErr: text => process.stderr.write(text) })

function fail(message: string): never {
  process.stderr.write(`sim: ${message}\n`)
  process.exit(2)
}

function main(): void {
  const a = parseOrExit(program)
  const protocol = protocolOrExit('sim', a.protocol as string)
  const n = (a.n as number | undefined) ?? protocol.replicasFor(protocol.name === 'unreplicated' ? 0 : 1)
  const sizeError = protocol.checkClusterSize(n)
  if (sizeError !== null) fail(`--n: ${sizeError}`)
  if ((a.tickMs as number) <= 0) fail('--tick-ms must be > 0')
  let cpu: CpuModel | undefined
  try {
    cpu = a.cpu === undefined ? undefined : parseCpuModel(a.cpu as string, '--cpu', a.signer as SignerName)
  } catch (e) {
    fail((e as Error).message)
  }
  const options = {
    protocol, n, seed: a.seed as number, ops: a.ops as number, clients: a.clients as number,
    faults: a.faults as string, faultWindowMs: a.faultWindow as number,
    ...(a.byzantine !== undefined ? { byzantine: a.byzantine as string[] } : {}),
    ...(a.byzantineCount !== undefined ? { byzantineCount: a.byzantineCount as number } : {}),
    protocolOptions: a.option as Record<string, unknown>, signer: a.signer as SignerName,
    tickMs: a.tickMs as number, ...(a.snapshotInterval !== undefined ? { snapshotInterval: a.snapshotInterval as number } : {}),
    ...(a.maxPending !== undefined ? { maxPendingRequests: a.maxPending as number } : {}), fsyncMs: a.fsyncMs as number,
    workload: { keys: a.keys as number, ...(a.writersPerKey === 'single' ? { writersPerKey: 'single' as const } : {}) },
    ...(cpu !== undefined ? { cpu } : {}),
    ...(a.clockDrift !== undefined ? { clockDrift: a.clockDrift as number } : {}),
    ...(a.livenessBound !== undefined ? { livenessBoundMs: a.livenessBound as number } : {}),
    ...(a.maxTimedOut !== undefined ? { maxTimedOutShare: a.maxTimedOut as number } : {}),
    ...(a.groups !== undefined ? {
      groups: {
        count: a.groups as number, ...(a.replication !== undefined ? { replication: a.replication as number } : {}),
        ...(a.coalesce === false ? { coalesce: false } : {}), ...(a.balanceLeaders === false ? { balanceLeaders: false } : {}),
      },
    } : {}),
  }
  let report: SimulationReport
  try {
    report = runSimulation({ ...options, traceLines: a.trace !== undefined, timeline: a.html !== undefined })
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message)
    throw e
  }
  if (a.history !== undefined) writeFileSync(a.history as string, formatHistory(report.history, a.historyFormat as HistoryFormat))
  if (a.trace !== undefined) writeFileSync(a.trace as string, report.traceLines!.join('\n') + '\n')
  if (a.html !== undefined) writeRunHtml(a.html as string, simulationView(report, replayCommand(options)))
  const good = runPassed(report)
  if (a.json === true) {
    const { history: _h, traceLines: _t, timeline: _l, ...rest } = report
    process.stdout.write(JSON.stringify(rest, null, 2) + '\n')
  } else {
    process.stdout.write(formatReport(report, replayCommand(options)))
  }
  process.exit(good ? 0 : 1)
}

function formatReport(r: SimulationReport, replay: string): string {
  const lines: string[] = []
  lines.push(`protocol ${r.protocol}, n = ${r.n}${r.groups === null ? '' : ` nodes, ${r.groups} groups`}, seed ${r.seed}`)
  lines.push(`operations: ${r.ops.ok} ok, ${r.ops.fail} fail, ${r.ops.info} info of ${r.ops.requested}` +
    (r.finished ? '' : ' (time bound reached before all completed)'))
  lines.push(`virtual duration: ${(r.virtualMs / 1000).toFixed(3)} s`)
  if (r.byzantine.length > 0) lines.push(`byzantine: ${r.byzantine.map(b => `${b.replica}=${b.strategy}`).join(', ')}`)
  for (const x of r.refused) lines.push(`replica ${x.replica} refused its storage: ${x.reason}`)
  for (const x of r.amnesiac) lines.push(`replica ${x.replica} lost acknowledged writes undetected (beyond the crash-fault model): ${x.reason}`)
  if (r.assumptionBroken !== null) lines.push(`timing assumption broken on purpose, violations expected: ${r.assumptionBroken}`)
  if (r.faults.length > 0) {
    lines.push(`faults (${r.faults.length}):`)
    for (const f of r.faults) lines.push(`  ${(f.at / 1000).toFixed(3)} s  ${f.description}`)
  }
  const types = Object.entries(r.protocolMessages)
  let totalMsgs = 0
  let totalBytes = 0
  lines.push('replica-to-replica messages:')
  if (types.length === 0) lines.push('  (none)')
  for (const [type, c] of types) {
    totalMsgs += c.messages
    totalBytes += c.bytes
    lines.push(`  ${type.padEnd(24)} ${String(c.messages).padStart(9)} msgs ${String(c.bytes).padStart(12)} bytes`)
  }
  lines.push(`  ${'total'.padEnd(24)} ${String(totalMsgs).padStart(9)} msgs ${String(totalBytes).padStart(12)} bytes`)
  lines.push(`client requests: ${r.clientMessages.requests.messages} msgs ${r.clientMessages.requests.bytes} bytes; ` +
    `replies: ${r.clientMessages.replies.messages} msgs ${r.clientMessages.replies.bytes} bytes`)
  lines.push(`trace: ${r.traceEvents} network events, fingerprint ${r.traceHash}`)
  if (r.safetyViolations.length > 0) {
    lines.push('SAFETY VIOLATIONS:')
    for (const v of r.safetyViolations) lines.push(`  ${v}`)
  }
  lines.push(`checker: ${r.check.verdict} (${r.check.opsChecked} operations on ${r.check.keysChecked} keys)` +
    (r.consistency === 'eventual' ? ` (${r.protocol} is eventually consistent: reported, not required)` : ''))
  if (!r.check.ok) lines.push(r.check.explanation)
  if (r.convergence !== null) lines.push(`convergence: ${r.convergence.ok ? 'replicas agree after the final heal' : `FAILED: ${r.convergence.reason}`}`)
  const behind = describeBehind(r.behind)
  if (r.behind !== null) lines.push(`replicas at the end: ${behind === null ? 'every up honest replica holds the same state' : `behind (reported, not a failure): ${behind}`}`)
  lines.push(formatLiveness(r.liveness))
  for (const p of r.liveness.problems) lines.push(`  ${p}`)
  if (!runPassed(r)) lines.push(`replay: ${replay}`)
  return lines.join('\n') + '\n'
}

main()
