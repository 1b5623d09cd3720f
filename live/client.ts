/**
 * A live client of a cluster: the library form of `consensus kv`. Submits key-value commands over libp2p with
 * exactly-once sessions; `AbortSignal` cancels a wait.
 *
 * Calls may overlap: `await Promise.all([c.put(..), c.put(..)])` sends them all at once over the client's one
 * connection per replica, each on its own session of the client's identity (up to `maxInFlight`; more wait their
 * turn in the client), and the leader batches them into its log.
 */
import { randomBytes } from 'node:crypto'
import { ConfigError } from '../core/errors.ts'
import { createClientHost, type ClientHost } from '../core/client-host.ts'
import { createGroupClient } from '../core/groups/group-client.ts'
import { createKvStore, decodeKvResult, encodeKvCommand, type KvCommand, type KvResult } from '../core/kv.ts'
import { createRng } from '../core/random.ts'
import { realRuntime } from '../core/runtime.ts'
import { MAX_SESSIONS_PER_CLIENT } from '../core/sessions.ts'
import { signatureScheme } from '../core/signers/index.ts'
import { createLibp2pTransport, type Libp2pTransport } from '../net/libp2p/index.ts'
import { getProtocol } from '../protocols/index.ts'
import { clusterStack, configPath, loadClusterConfig, type ClusterConfig } from './config.ts'
import { resolveGroups } from './groups-config.ts'
import { readKeyFile } from './keys.ts'
import { addressBookOf } from './node.ts'

export interface ClientOptions {
  readonly config: ClusterConfig | string
  /** Which allow-listed client identity to use (default: the first in the config). One process per id at a time. */
  readonly clientId?: number
  /** Per-request deadline in ms (default 5000). */
  readonly timeoutMs?: number
  /** Talk only to these replicas (default: all). Tests use it to stand on one side of a partition. */
  readonly replicas?: readonly number[]
  /** Requests in flight at once (sessions of this identity; default 64); further calls queue in the client. */
  readonly maxInFlight?: number
}

export const DEFAULT_MAX_IN_FLIGHT = 64

export interface ConsensusClient {
  readonly id: number
  /** The bound on requests in flight (ClientOptions.maxInFlight). */
  readonly maxInFlight: number
  run(command: KvCommand, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<KvResult>
  get(key: string, signal?: AbortSignal): Promise<string | null>
  put(key: string, value: string, signal?: AbortSignal): Promise<void>
  delete(key: string, signal?: AbortSignal): Promise<boolean>
  /** Compare-and-set: true if the value was `expected` (null: absent) and is now `value`. */
  cas(key: string, expected: string | null, value: string, signal?: AbortSignal): Promise<boolean>
  close(): Promise<void>
}

export async function createClient(options: ClientOptions): Promise<ConsensusClient> {
  const config = typeof options.config === 'string' ? loadClusterConfig(options.config) : options.config
  const entry = options.clientId === undefined ? config.clients[0] : config.clients.find(c => c.id === options.clientId)
  if (entry === undefined) {
    throw new ConfigError('clientId', options.clientId === undefined ? 'the cluster config lists no clients'
      : `client ${options.clientId} is not in the cluster config's allow-list`)
  }
  if (entry.keyFile === undefined) throw new ConfigError(`clients[${entry.id}].keyFile`, 'this client has no key file here')
  const key = readKeyFile(configPath(config, entry.keyFile))
  for (const r of options.replicas ?? []) {
    if (!config.replicas.some(x => x.id === r)) throw new ConfigError('replicas', `replica ${r} is not in the cluster config`)
  }
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT
  if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1 || maxInFlight > MAX_SESSIONS_PER_CLIENT) {
    throw new ConfigError('maxInFlight', `expected an integer from 1 to ${MAX_SESSIONS_PER_CLIENT}, got ${maxInFlight}`)
  }
  const protocol = getProtocol(config.protocol)
  const protocolOptions = protocol.parseOptions(config.protocolOptions, config.replicas.length)
  const transport: Libp2pTransport = await createLibp2pTransport({
    id: entry.id, privateKey: key.privateKey, peers: addressBookOf(config), maxFrameBytes: config.maxFrameBytes, listen: [],
    stack: clusterStack(config),
  })
  const common = {
    descriptor: protocol,
    id: entry.id,
    protocolOptions: config.protocolOptions,
    transport,
    runtime: realRuntime,
    rng: createRng(randomBytes(8).toString('hex')),
    signer: signatureScheme(config.signer as 'node' | 'tweetnacl').signer(key.privateKey),
    tickMs: config.tickMs,
    // Sequence numbers must grow across processes using this id (the replicas' session table remembers the last):
    // start from the wall clock in microseconds.
    lastSeq: Date.now() * 1000,
    sessions: maxInFlight,
  }
  let client: Pick<ClientHost, 'submitAsync' | 'close'>
  if (config.groups !== undefined) {
    // A sharded cluster: each command goes to the group whose range holds its key, over the same connections
    // (maxInFlight then bounds the requests in flight per group).
    if (options.replicas !== undefined) throw new ConfigError('replicas', 'cannot limit the replicas of a cluster with groups (each group has its own)')
    const { ranges, placements } = resolveGroups(config.groups, config.replicas.map(r => r.id), protocol)
    const kv = createKvStore()
    client = createGroupClient({
      ...common, placements, ranges, endOfTurn: fn => { setImmediate(fn) }, keysOf: op => kv.keysOf(op),
    })
  } else {
    client = createClientHost({
      ...common,
      replicas: options.replicas ?? config.replicas.map(r => r.id),
      protocolOptions,
    })
  }
  const defaultTimeout = options.timeoutMs ?? 5000
  const run = async (command: KvCommand, o: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<KvResult> => {
    const bytes = await client.submitAsync(encodeKvCommand(command), command.type === 'get', o.timeoutMs ?? defaultTimeout, o.signal)
    const result = decodeKvResult(bytes)
    if (result.type === 'error') throw new Error(`the cluster refused the command: ${result.message}`)
    return result
  }
  return {
    id: entry.id,
    maxInFlight,
    run,
    async get(key, signal) {
      const r = await run({ type: 'get', key }, signal !== undefined ? { signal } : {})
      return r.type === 'value' ? r.value : null
    },
    async put(key, value, signal) {
      await run({ type: 'put', key, value }, signal !== undefined ? { signal } : {})
    },
    async delete(key, signal) {
      const r = await run({ type: 'delete', key }, signal !== undefined ? { signal } : {})
      return r.type === 'deleted' && r.existed
    },
    async cas(key, expected, value, signal) {
      const r = await run({ type: 'cas', key, expected, value }, signal !== undefined ? { signal } : {})
      return r.type === 'cas' && r.ok
    },
    async close() {
      client.close()
      await transport.stop()
    },
  }
}
