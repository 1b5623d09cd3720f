/**
 * `cluster init`: keys and a cluster config for a cluster on 127.0.0.1, or on the hosts given (one address per
 * replica: copy the folder to every host and run `consensus node --config cluster.json --id <i>` on host i).
 */
import { isIPv4 } from 'node:net'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../core/errors.ts'
import { getProtocol } from '../protocols/index.ts'
import type { Dissemination } from '../net/libp2p/dissemination.ts'
import { DEFAULT_STACK, listenAddress, stackParts, type Libp2pStack } from '../net/libp2p/stack.ts'
import { validateClusterConfig, type ClusterConfig } from './config.ts'
import { evenKeySpaceRanges } from './groups-config.ts'
import { newKeyPair, toHex, writeKeyFile } from './keys.ts'

export interface InitOptions {
  readonly protocol: string
  readonly n: number
  readonly dir: string
  /** Replica i listens on basePort + i. */
  readonly basePort?: number
  /** Or: replica i listens on ports[i]. */
  readonly ports?: readonly number[]
  /** IPv4 address replica i listens on (default 127.0.0.1 for all): a cluster spread over hosts. */
  readonly hosts?: readonly string[]
  readonly clients?: number
  readonly fsync?: 'always' | 'batch' | 'none'
  readonly signer?: 'tweetnacl' | 'node'
  readonly protocolOptions?: Record<string, unknown>
  readonly tickMs?: number
  /**
   * Many consensus groups (live/groups-config.ts): `count` groups of `replication` replicas (default all), split
   * points an even split of the key space `k0..k<keys-1>` (default 1000 keys).
   */
  readonly groups?: { readonly count: number; readonly replication?: number; readonly keys?: number }
  /** The libp2p stack (default tcp+noise+yamux); a QUIC cluster's ports are UDP ports. */
  readonly stack?: Libp2pStack
  readonly dissemination?: Dissemination
}

export function initCluster(o: InitOptions): ClusterConfig {
  const protocol = getProtocol(o.protocol)
  const sizeError = protocol.checkClusterSize(o.n)
  if (sizeError !== null) throw new ConfigError('n', sizeError)
  const basePort = o.basePort ?? 7000
  const stack = o.stack ?? DEFAULT_STACK
  if (o.ports !== undefined && o.ports.length !== o.n) throw new ConfigError('ports', `expected ${o.n} ports, got ${o.ports.length}`)
  const portOf = (id: number) => o.ports?.[id] ?? basePort + id
  if (o.hosts !== undefined) {
    if (o.hosts.length !== o.n) throw new ConfigError('hosts', `expected ${o.n} addresses (one per replica), got ${o.hosts.length}`)
    const bad = o.hosts.find(h => !isIPv4(h))
    if (bad !== undefined) throw new ConfigError('hosts', `"${bad}" is not an IPv4 address such as 10.0.0.1`)
  }
  const hostOf = (id: number) => o.hosts?.[id] ?? '127.0.0.1'
  if (!Number.isInteger(basePort) || basePort < 1024 || basePort + o.n > 65535) throw new ConfigError('basePort', `must leave room for ${o.n} ports between 1024 and 65535, got ${basePort}`)
  // Split points first: a bad group count is refused before any file is written.
  const groups = o.groups === undefined ? undefined : {
    count: o.groups.count,
    ...(o.groups.replication !== undefined ? { replication: o.groups.replication } : {}),
    ranges: evenKeySpaceRanges(o.groups.count, o.groups.keys),
  }
  if (existsSync(o.dir) && readdirSync(o.dir).length > 0) throw new ConfigError('dir', `${o.dir} exists and is not empty; choose a new folder`)
  mkdirSync(join(o.dir, 'keys'), { recursive: true, mode: 0o700 })
  const replicas = []
  for (let id = 0; id < o.n; id++) {
    const key = newKeyPair()
    const keyFile = join('keys', `replica-${id}.key`)
    writeKeyFile(join(o.dir, keyFile), key)
    replicas.push({ id, publicKey: toHex(key.publicKey), address: listenAddress(stack, hostOf(id), portOf(id)), keyFile, dataDir: join('data', `replica-${id}`) })
  }
  const clients = []
  for (let i = 0; i < (o.clients ?? 16); i++) {
    const key = newKeyPair()
    const id = 1000 + i
    const keyFile = join('keys', `client-${id}.key`)
    writeKeyFile(join(o.dir, keyFile), key)
    clients.push({ id, publicKey: toHex(key.publicKey), keyFile })
  }
  const raw = {
    version: 1 as const,
    protocol: protocol.name,
    protocolOptions: o.protocolOptions ?? {},
    tickMs: o.tickMs ?? 10,
    fsync: o.fsync ?? 'batch',
    signer: o.signer ?? 'node',
    maxFrameBytes: 4 * 1024 * 1024,
    stack: stackParts(stack),
    dissemination: o.dissemination ?? 'direct',
    clientAllowList: true,
    replicas,
    clients,
    runDir: 'run',
    ...(groups !== undefined ? { groups } : {}),
  }
  const config = validateClusterConfig(raw, o.dir)
  writeFileSync(join(o.dir, 'cluster.json'), JSON.stringify(raw, null, 2) + '\n')
  return config
}
