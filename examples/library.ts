// A complete example of the library API: a 3-replica Raft cluster in this process, over libp2p on 127.0.0.1,
// with file storage, and a client that writes, reads and compare-and-sets. Run: npx node examples/library.ts
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient, createNode, initCluster } from '../live/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'consensus-example-'))
const config = initCluster({ protocol: 'raft', n: 3, dir, basePort: 17400 + Math.floor(Math.random() * 500) * 3 })
const nodes = await Promise.all(config.replicas.map(r => createNode({ config, id: r.id, admin: false })))
const client = await createClient({ config, timeoutMs: 5000 })
try {
  const signal = AbortSignal.timeout(30_000) // give up on any single call after 30 s
  await client.put('greeting', 'hello', signal)
  console.log('greeting =', await client.get('greeting', signal))
  console.log('cas hello -> bonjour:', await client.cas('greeting', 'hello', 'bonjour', signal))
  console.log('greeting =', await client.get('greeting', signal))
  const leader = nodes.map(n => n.status()).find(s => s.role === 'leader')
  console.log(`leader: replica ${leader?.id}, term ${leader?.epoch}, commit index ${leader?.commitIndex}`)
} finally {
  await client.close()
  await Promise.all(nodes.map(n => n.close()))
  rmSync(dir, { recursive: true, force: true })
}
