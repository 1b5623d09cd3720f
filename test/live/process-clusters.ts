/** Shared by the tests that run clusters of replica processes: cleanup after the file, and a replica's status. */
import { rmSync } from 'node:fs'
import { afterAll } from 'vitest'
import type { NodeId } from '../../core/types.ts'
import { adminRequest } from '../../live/admin.ts'
import type { ClusterConfig } from '../../live/config.ts'
import { adminSocketPath, type NodeStatus } from '../../live/node.ts'
import { clusterDown } from '../../live/processes.ts'

/** Folders and clusters to remove and stop once the file's tests are done (also when one failed part way). */
export function cleanUpAfterAll(): { readonly dirs: string[]; readonly clusters: ClusterConfig[] } {
  const dirs: string[] = []
  const clusters: ClusterConfig[] = []
  afterAll(async () => {
    for (const c of clusters) await clusterDown(c)
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })
  return { dirs, clusters }
}

/** A running replica's status, over its admin socket. */
export async function replicaStatus(config: ClusterConfig, id: NodeId): Promise<NodeStatus> {
  return await adminRequest(adminSocketPath(config, id), { cmd: 'status' }) as NodeStatus
}
