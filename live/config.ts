/**
 * The cluster configuration file (cluster.json) shared by every node and client of a live cluster, validated on load
 * with each mistake reported by field path and what was expected.
 */
import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { z } from 'zod'
import { ConfigError } from '../core/errors.ts'
import { resolveSnapshotInterval } from '../core/host.ts'
import { FSYNC_POLICIES } from '../core/storage/file-storage.ts'
import { getProtocol, protocols } from '../protocols/index.ts'
import { groupsSchema, resolveGroups } from './groups-config.ts'
import { DISSEMINATIONS } from '../net/libp2p/dissemination.ts'
import { ADDRESS_PATTERNS, ENCRYPTERS, MUXERS, resolveStack, stackName, TRANSPORTS } from '../net/libp2p/stack.ts'
import type { Libp2pStack } from '../net/libp2p/stack.ts'

const hexKey = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits (a 32-byte Ed25519 public key)')

const replicaSchema = z.object({
  id: z.number().int().min(0).max(999),
  publicKey: hexKey,
  /** The multiaddr the replica listens on, of the stack's transport: /ip4/127.0.0.1/tcp/7001, .../tcp/7001/ws, .../udp/7001/quic-v1. */
  address: z.string().refine(a => Object.values(ADDRESS_PATTERNS).some(p => p.pattern.test(a)),
    { message: `expected a listen multiaddr: a TCP multiaddr such as ${ADDRESS_PATTERNS.tcp.example}, WebSockets ${ADDRESS_PATTERNS.websockets.example} or QUIC ${ADDRESS_PATTERNS.quic.example}` }),
  /** Private key file, relative to the config file's folder. */
  keyFile: z.string().min(1),
  /** Data folder (write-ahead log, snapshots), relative to the config file's folder. */
  dataDir: z.string().min(1),
  /** Serve Prometheus metrics over HTTP on this port (GET /metrics); omitted: no metrics endpoint. */
  metricsPort: z.number().int().min(1).max(65535).optional(),
  /** The address the metrics endpoint binds (default 127.0.0.1: metrics stay on the machine unless asked). */
  metricsHost: z.union([z.ipv4(), z.ipv6()], { message: 'expected an IPv4 or IPv6 address such as 127.0.0.1' }).optional(),
}).strict()

const clientSchema = z.object({
  /** Below 2^32: the client's sessions are numbered above that (core/sessions.ts). */
  id: z.number().int().min(1000).max(2 ** 32 - 1),
  publicKey: hexKey,
  keyFile: z.string().min(1).optional(),
}).strict()

export const clusterConfigSchema = z.object({
  version: z.literal(1),
  protocol: z.string().refine(name => protocols.has(name), { message: `expected one of ${[...protocols.keys()].join(', ')}` }),
  protocolOptions: z.record(z.string(), z.unknown()).default({}),
  tickMs: z.number().positive().max(10_000).default(10),
  /** Omit for the protocol's own need (PBFT: its checkpoint interval) or 1000. */
  snapshotInterval: z.number().int().min(1).optional(),
  /**
   * Client requests a replica keeps pending (admitted, not yet answered) at most; past it a request is answered busy,
   * and clients back off (core/admission.ts). Omit for the default, 4096.
   */
  maxPendingRequests: z.number().int().min(1).optional(),
  fsync: z.enum(FSYNC_POLICIES as [string, ...string[]]).default('batch'),
  signer: z.enum(['tweetnacl', 'node']).default('node'),
  maxFrameBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
  /**
   * The libp2p stack every node of the cluster runs (net/libp2p/stack.ts). Encrypter and muxer default to noise and
   * yamux; a QUIC stack names neither (QUIC brings its own) and naming one is refused.
   */
  stack: z.object({
    transport: z.enum(TRANSPORTS).default('tcp'),
    encrypter: z.enum(ENCRYPTERS).optional(),
    muxer: z.enum(MUXERS).optional(),
  }).strict().default({ transport: 'tcp' }),
  /** How replicas' broadcasts travel: one direct stream write per peer, or one publish on a gossipsub topic. */
  dissemination: z.enum(DISSEMINATIONS).default('direct'),
  /** Only clients listed in `clients` may connect to replicas (the transport admits address-book peers only). */
  clientAllowList: z.boolean().default(true)
    .refine(v => v, { message: 'must be true: open client admission is not supported; list every client under "clients"' }),
  replicas: z.array(replicaSchema).min(1),
  clients: z.array(clientSchema).default([]),
  /** Folder for per-node admin sockets and pid files, relative to the config file's folder. */
  runDir: z.string().default('run'),
  /** Many consensus groups over these replicas (live/groups-config.ts); omitted: one group of every replica. */
  groups: groupsSchema.optional(),
}).strict()

/** Where a replica's metrics endpoint binds when its config gives a port but no host. */
export const DEFAULT_METRICS_HOST = '127.0.0.1'

export type ClusterConfig = z.infer<typeof clusterConfigSchema> & {
  /** Folder of the config file: relative paths in it are resolved against this. */
  readonly baseDir: string
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, p) => typeof p === 'number' ? `${acc}[${p}]` : acc === '' ? String(p) : `${acc}.${String(p)}`, '')
}

/** Validate a parsed JSON value; throws ConfigError listing every problem by field. */
export function validateClusterConfig(raw: unknown, baseDir: string): ClusterConfig {
  const parsed = clusterConfigSchema.safeParse(raw)
  if (!parsed.success) {
    const problems = parsed.error.issues.map(i => `${formatPath(i.path) || '(top level)'}: ${i.message}`)
    throw new ConfigError(problems.length === 1 ? problems[0]!.split(':')[0]! : 'cluster config', problems.length === 1
      ? problems[0]!.slice(problems[0]!.indexOf(':') + 2) : `\n  ${problems.join('\n  ')}`)
  }
  const c = parsed.data
  const stack = resolveStack(c.stack)
  for (const [i, r] of c.replicas.entries()) {
    const { pattern, example } = ADDRESS_PATTERNS[stack.transport]
    if (!pattern.test(r.address)) {
      throw new ConfigError(`replicas[${i}].address`, `${r.address} is not a ${stack.transport} address (the stack is ${stackName(stack)}); expected one such as ${example}`)
    }
  }
  const protocol = getProtocol(c.protocol)
  const sizeError = protocol.checkClusterSize(c.replicas.length)
  if (sizeError !== null) throw new ConfigError('replicas', sizeError)
  const ids = c.replicas.map(r => r.id).sort((a, b) => a - b)
  ids.forEach((id, i) => {
    if (id !== i) throw new ConfigError('replicas', `replica ids must be 0..${ids.length - 1}, each once (got ${ids.join(', ')})`)
  })
  const seen = new Set<string>()
  for (const [i, r] of c.replicas.entries()) {
    if (seen.has(r.address)) throw new ConfigError(`replicas[${i}].address`, `${r.address} is used by two replicas`)
    seen.add(r.address)
  }
  const metrics = new Map<string, number>()
  for (const [i, r] of c.replicas.entries()) {
    if (r.metricsHost !== undefined && r.metricsPort === undefined) {
      throw new ConfigError(`replicas[${i}].metricsHost`, 'needs a metricsPort (the metrics endpoint is off without one)')
    }
    if (r.metricsPort === undefined) continue
    const where = `${r.metricsHost ?? DEFAULT_METRICS_HOST}:${r.metricsPort}`
    if (metrics.has(where)) throw new ConfigError(`replicas[${i}].metricsPort`, `${where} is also the metrics address of replica ${metrics.get(where)}`)
    metrics.set(where, r.id)
  }
  const keys = new Set<string>()
  for (const k of [...c.replicas.map(r => r.publicKey), ...c.clients.map(x => x.publicKey)]) {
    if (keys.has(k)) throw new ConfigError('publicKey', `public key ${k.slice(0, 12)}... appears twice`)
    keys.add(k)
  }
  const clientIds = new Set<number>()
  for (const [i, cl] of c.clients.entries()) {
    if (clientIds.has(cl.id)) throw new ConfigError(`clients[${i}].id`, `client id ${cl.id} appears twice`)
    clientIds.add(cl.id)
  }
  let options
  try {
    options = protocol.parseOptions(c.protocolOptions, c.replicas.length)
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`protocolOptions.${e.field}`, e.message.slice(e.field.length + 2))
    throw e
  }
  resolveSnapshotInterval(protocol, options, c.snapshotInterval, 1000)
  if (c.groups !== undefined) {
    resolveGroups(c.groups, c.replicas.map(r => r.id), protocol)
    const withMetrics = c.replicas.findIndex(r => r.metricsPort !== undefined)
    if (withMetrics >= 0) throw new ConfigError(`replicas[${withMetrics}].metricsPort`, 'the metrics endpoint does not support groups yet; omit metricsPort or groups')
  }
  return { ...c, baseDir }
}

export function loadClusterConfig(file: string): ClusterConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new ConfigError('config', `cannot read ${file}: ${(e as Error).message}`)
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    throw new ConfigError('config', `${file} is not valid JSON: ${(e as Error).message}`)
  }
  return validateClusterConfig(raw, dirname(resolve(file)))
}

/** The cluster's libp2p stack with its defaults filled in (validated on load). */
export function clusterStack(config: ClusterConfig): Libp2pStack {
  return resolveStack(config.stack)
}

/** Resolve a path from the config against the config file's folder. */
export function configPath(config: ClusterConfig, path: string): string {
  return isAbsolute(path) ? path : resolve(config.baseDir, path)
}
