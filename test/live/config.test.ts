/** cluster.json is validated on load and every mistake is reported by field with what was expected. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../core/errors.ts'
import { clusterStack, loadClusterConfig, validateClusterConfig } from '../../live/config.ts'
import { parseStack } from '../../net/libp2p/stack.ts'
import { initCluster } from '../../live/init.ts'

const dir = mkdtempSync(join(tmpdir(), 'config-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('cluster config validation', () => {
  const good = initCluster({ protocol: 'raft', n: 3, dir: join(dir, 'c'), basePort: 18000, clients: 2 })
  const { baseDir: _b, ...raw } = good

  it('accepts what cluster init wrote', () => {
    expect(loadClusterConfig(join(dir, 'c', 'cluster.json')).replicas.length).toBe(3)
  })

  it('init --hosts puts each replica on its own address, and rejects a wrong count or a non-address', () => {
    const spread = initCluster({ protocol: 'raft', n: 3, dir: join(dir, 'hosts'), basePort: 7000, hosts: ['10.0.0.1', '10.0.0.2', '10.0.0.3'] })
    expect(spread.replicas.map(r => r.address)).toEqual(['/ip4/10.0.0.1/tcp/7000', '/ip4/10.0.0.2/tcp/7001', '/ip4/10.0.0.3/tcp/7002'])
    expect(() => initCluster({ protocol: 'raft', n: 3, dir: join(dir, 'h2'), hosts: ['10.0.0.1'] })).toThrow(/hosts: expected 3 addresses/)
    expect(() => initCluster({ protocol: 'raft', n: 1, dir: join(dir, 'h3'), hosts: ['my-host'] })).toThrow(/"my-host" is not an IPv4 address/)
  })

  it('names every bad field and what was expected', () => {
    const bad = { ...raw, version: 2, protocol: 'zab', tickMs: -1, fsync: 'sometimes', replicas: [{ ...raw.replicas[0], address: 'localhost:7000' }], extra: 1 }
    let message = ''
    try { validateClusterConfig(bad, dir) } catch (e) { message = (e as Error).message; expect(e).toBeInstanceOf(ConfigError) }
    for (const field of ['version', 'protocol', 'tickMs', 'fsync', 'replicas[0].address']) expect(message).toContain(`${field}:`)
    expect(message).toMatch(/expected one of unreplicated, multipaxos, raft, pbft/)
    expect(message).toMatch(/TCP multiaddr/)
    expect(message).toMatch(/extra/)
  })

  it('checks the cluster as a whole: size for the protocol, ids, duplicate addresses and keys, protocol options', () => {
    expect(() => validateClusterConfig({ ...raw, protocol: 'pbft' }, dir)).toThrow(/pbft needs n >= 4/)
    const dupAddr = { ...raw, replicas: raw.replicas.map(r => ({ ...r, address: raw.replicas[0]!.address })) }
    expect(() => validateClusterConfig(dupAddr, dir)).toThrow(/used by two replicas/)
    const badIds = { ...raw, replicas: raw.replicas.map((r, i) => ({ ...r, id: i + 1 })) }
    expect(() => validateClusterConfig(badIds, dir)).toThrow(/ids must be 0..2/)
    expect(() => validateClusterConfig({ ...raw, protocolOptions: { electionTicks: 0 } }, dir)).toThrow(/protocolOptions.electionTicks/)
    expect(() => validateClusterConfig({ ...raw, clientAllowList: false }, dir)).toThrow(/clientAllowList/)
    // Client ids stay below 2^32: a client's further sessions are numbered above (core/sessions.ts).
    const bigClient = { ...raw, clients: [{ ...raw.clients[0]!, id: 2 ** 32 }] }
    expect(() => validateClusterConfig(bigClient, dir)).toThrow(/clients\[0\]\.id/)
  })

  it('takes the libp2p stack and dissemination, refusing an encrypter or muxer for QUIC and an address of another transport', () => {
    expect(validateClusterConfig(raw, dir).stack).toEqual({ transport: 'tcp', encrypter: 'noise', muxer: 'yamux' })
    expect(validateClusterConfig(raw, dir).dissemination).toBe('direct')
    const quic = initCluster({ protocol: 'raft', n: 3, dir: join(dir, 'quic'), basePort: 18100, stack: parseStack('quic'), dissemination: 'gossipsub' })
    expect(quic.replicas[0]!.address).toBe('/ip4/127.0.0.1/udp/18100/quic-v1')
    expect(clusterStack(quic)).toEqual({ transport: 'quic', encrypter: null, muxer: null })
    expect(quic.dissemination).toBe('gossipsub')
    const ws = initCluster({ protocol: 'raft', n: 3, dir: join(dir, 'ws'), basePort: 18200, stack: parseStack('websockets+tls+mplex') })
    expect(ws.replicas[0]!.address).toBe('/ip4/127.0.0.1/tcp/18200/ws')
    expect(clusterStack(ws)).toEqual({ transport: 'websockets', encrypter: 'tls', muxer: 'mplex' })
    const { baseDir: _q, ...quicRaw } = quic
    expect(() => validateClusterConfig({ ...quicRaw, stack: { transport: 'quic', encrypter: 'noise' } }, dir))
      .toThrow(/stack\.encrypter: quic brings its own encryption/)
    expect(() => validateClusterConfig({ ...quicRaw, stack: { transport: 'quic', muxer: 'yamux' } }, dir)).toThrow(/stack\.muxer: quic brings its own/)
    expect(() => validateClusterConfig({ ...raw, stack: { transport: 'quic' } }, dir))
      .toThrow(/replicas\[0\]\.address: \/ip4\/127\.0\.0\.1\/tcp\/18000 is not a quic address/)
    expect(() => validateClusterConfig({ ...raw, stack: { transport: 'udp' }, dissemination: 'flood' }, dir)).toThrow(/stack\.transport[\s\S]*dissemination/)
    expect(() => parseStack('quic+tls')).toThrow(/stack\.encrypter: quic brings its own/)
    expect(() => parseStack('tcp+noise+noise')).toThrow(/named twice/)
    expect(() => parseStack('tcp+lz4')).toThrow(ConfigError)
    expect(parseStack('tcp+mplex+tls')).toEqual({ transport: 'tcp', encrypter: 'tls', muxer: 'mplex' })
  })

  it('reports unreadable files and invalid JSON with the file name', () => {
    writeFileSync(join(dir, 'broken.json'), '{ "version": 1,')
    expect(() => loadClusterConfig(join(dir, 'broken.json'))).toThrow(/broken.json is not valid JSON/)
    expect(() => loadClusterConfig(join(dir, 'missing.json'))).toThrow(/cannot read .*missing.json/)
  })
})
