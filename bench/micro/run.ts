#!/usr/bin/env node
/**
 * `npm run bench:micro`: micro-benchmarks with tinybench, wall-clock on this machine.
 *  - codecs: client request/reply, KV commands, and every registered protocol's codec on the messages it really
 *    sends (captured from a short simulation: the largest of each message type);
 *  - signers: sign and verify with each Ed25519 implementation;
 *  - KV apply;
 *  - protocol logic in isolation: one command proposed at the leader and carried to commitment through the public
 *    Replica interface on the shared replica network with nothing but an in-memory host (see replica-pump.ts).
 * `--filter <text>` runs only tasks whose name contains it; `--time <ms>` sets the time per task; `--json` prints JSON.
 */
import { parseArgs } from 'node:util'
import { Bench } from 'tinybench'
import { decodeReply, decodeRequest, encodeReply, encodeRequest, requestSigningBytes } from '../../core/codec/client-messages.ts'
import { createKvStore, decodeKvCommand, encodeKvCommand } from '../../core/kv.ts'
import { createRng } from '../../core/random.ts'
import { generatePrivateKey, signatureScheme, SIGNER_NAMES } from '../../core/signers/index.ts'
import { nodeCryptoScheme } from '../../core/signers/node-crypto.ts'
import { signBatch, withSignatureBatches } from '../../core/signers/signature-batch.ts'
import type { ClientReply, ClientRequest } from '../../core/types.ts'
import { createSimCluster } from '../../net/sim/cluster.ts'
import { runWorkload } from '../../net/sim/workload.ts'
import { protocols } from '../../protocols/index.ts'
import { formatTable } from '../output/table.ts'
import { ReplicaPump } from './replica-pump.ts'

const { values: args } = parseArgs({
  options: { filter: { type: 'string' }, time: { type: 'string', default: '300' }, json: { type: 'boolean', default: false } },
})
const timeMs = Number(args.time)
if (!(timeMs > 0)) {
  process.stderr.write(`bench:micro: --time expects milliseconds > 0, got "${args.time}"\n`)
  process.exit(2)
}

const bench = new Bench({ time: timeMs, warmupTime: Math.min(100, timeMs / 3) })
const add = (name: string, fn: () => void) => {
  if (args.filter === undefined || name.includes(args.filter)) bench.add(name, fn)
}

// Client messages and KV commands.
const op = encodeKvCommand({ type: 'put', key: 'user:42', value: 'v'.repeat(100) })
const request: ClientRequest = { clientId: 1000, seq: 12345, readOnly: false, op, signature: new Uint8Array(64).fill(7) }
const requestBytes = encodeRequest(request)
const reply: ClientReply = { clientId: 1000, seq: 12345, status: 'ok', result: new Uint8Array([2]), leaderHint: 0, epoch: 3, error: '' }
const replyBytes = encodeReply(reply)
add('codec ClientRequest encode (100 B value)', () => { encodeRequest(request) })
add('codec ClientRequest decode (100 B value)', () => { decodeRequest(requestBytes) })
add('codec ClientReply encode', () => { encodeReply(reply) })
add('codec ClientReply decode', () => { decodeReply(replyBytes) })
add('kv command encode (put)', () => { encodeKvCommand({ type: 'put', key: 'user:42', value: 'v'.repeat(100) }) })
add('kv command decode (put)', () => { decodeKvCommand(op) })

// KV apply.
const kv = createKvStore()
const puts = Array.from({ length: 1024 }, (_, i) => encodeKvCommand({ type: 'put', key: `k${i}`, value: `value-${i}` }))
const gets = Array.from({ length: 1024 }, (_, i) => encodeKvCommand({ type: 'get', key: `k${i}` }))
let k = 0
add('kv apply put (1024 keys)', () => { kv.apply(puts[k++ & 1023]!) })
add('kv query get (1024 keys)', () => { kv.query(gets[k++ & 1023]!) })

// Signers.
const signingBytes = requestSigningBytes(request)
for (const name of SIGNER_NAMES) {
  const scheme = signatureScheme(name)
  const signer = scheme.signer(generatePrivateKey(createRng(1)))
  const signature = signer.sign(signingBytes)
  add(`sign ${name} (${signingBytes.length} B)`, () => { signer.sign(signingBytes) })
  add(`verify ${name} (${signingBytes.length} B)`, () => { scheme.verifier.verify(signer.publicKey, signingBytes, signature) })
}

// Batch signatures (a live client's turn of 64 requests): signing the batch, and verifying one more of its requests
// once the tree's root has verified (what a replica pays per request after the first of a batch).
const batchMessages = Array.from({ length: 64 }, (_, i) => requestSigningBytes({ ...request, seq: i + 1 }))
const batchSigner = nodeCryptoScheme.signer(generatePrivateKey(createRng(2)))
const batchSignatures = signBatch(batchSigner, batchMessages)
const batchVerifier = withSignatureBatches(nodeCryptoScheme.verifier)
batchVerifier.verify(batchSigner.publicKey, batchMessages[0]!, batchSignatures[0]!)
let b = 0
add('sign batch node (64 requests)', () => { signBatch(batchSigner, batchMessages) })
add('verify batch node (a request of a verified tree)', () => {
  b = (b + 1) & 63
  batchVerifier.verify(batchSigner.publicKey, batchMessages[b]!, batchSignatures[b]!)
})

// Every registered protocol's codec on the messages it actually sends.
for (const p of protocols.values()) {
  let n: number
  try { n = p.replicasFor(1) } catch { continue } // the baseline sends no replica messages
  const samples = new Map<string, Uint8Array>()
  const cluster = createSimCluster({ protocol: p, n, seed: 1, clients: 2 })
  cluster.network.trace = (_t, _from, _to, frame) => {
    // The largest of each type: an AppendEntries that carries entries, not an empty probe.
    if (frame.channel === 'protocol' && frame.bytes.length > (samples.get(frame.type)?.length ?? -1)) samples.set(frame.type, frame.bytes)
  }
  runWorkload(cluster, { ops: 50, rng: createRng(1).fork('micro') })
  for (const [type, bytes] of samples) {
    const decoded = p.codec.decode(bytes)
    add(`codec ${p.name} ${type} decode (${bytes.length} B)`, () => { p.codec.decode(bytes) })
    add(`codec ${p.name} ${type} encode (${bytes.length} B)`, () => { p.codec.encode(decoded) })
  }
}

// Protocol logic in isolation.
for (const p of protocols.values()) {
  let n: number
  try { n = p.replicasFor(1) } catch { n = p.replicasFor(0) }
  const wanted = `replica ${p.name} n=${n} propose -> commit at leader`
  if (args.filter !== undefined && !wanted.includes(args.filter)) continue
  const pump = new ReplicaPump(p, n)
  let i = 0
  add(wanted, () => { pump.commitOne(puts[i++ & 1023]!) })
}

await bench.run()

const rows = bench.tasks.map(t => {
  const r = t.result
  const ok = r !== undefined && 'throughput' in r && 'latency' in r
  return {
    name: t.name,
    opsPerSec: ok ? Math.round(r.throughput.mean) : null,
    meanUs: ok ? Math.round(r.latency.mean * 1000 * 100) / 100 : null,
    p99Us: ok ? Math.round((r.latency.p99 ?? 0) * 1000 * 100) / 100 : null,
    samples: ok ? r.latency.samplesCount : 0,
    error: r !== undefined && 'error' in r ? String(r.error) : null,
  }
})
if (args.json) {
  process.stdout.write(JSON.stringify({ node: process.version, timeMs, tasks: rows }, null, 2) + '\n')
} else {
  process.stdout.write(formatTable(['task', 'ops/s', 'mean us', 'p99 us', 'samples'], rows.map(r => [
    r.name, '', r.opsPerSec === null ? `error: ${r.error}` : r.opsPerSec.toLocaleString('en-US'),
    r.meanUs === null ? '-' : String(r.meanUs), r.p99Us === null ? '-' : String(r.p99Us), String(r.samples),
  ]).map(r => [r[0]!, ...r.slice(2)])) + '\n')
}
process.exitCode = rows.some(r => r.error !== null) ? 1 : 0
