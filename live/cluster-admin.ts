/**
 * Administrative inputs for a running cluster (etcd's `member add/promote/remove` and `move-leader`): find the leader
 * over the replicas' admin sockets, hand it the command (Replica.admin through the host), and wait until the change
 * has taken effect: the leader's committed configuration shows it, or the transfer's target leads.
 *
 * Members must be in cluster.json's address book (the transport admits no one else): a removed replica can be added
 * back as a learner and promoted once it has caught up; a replica whose storage was refused comes back that way too,
 * with an empty data directory, after it was removed.
 */
import { describeAdminCommand, membershipReflects } from '../core/admin-commands.ts'
import { ConfigError } from '../core/errors.ts'
import type { AdminCommand } from '../core/protocol.ts'
import type { NodeId } from '../core/types.ts'
import { getProtocol } from '../protocols/index.ts'
import { adminRequest } from './admin.ts'
import type { ClusterConfig } from './config.ts'
import { adminSocketPath, type NodeStatus } from './node.ts'

const POLL_MS = 100

export interface AdminOutcome {
  /** The replica that accepted the command. */
  readonly leader: NodeId
  /** Its status once the change had taken effect. */
  readonly status: NodeStatus
}

async function statusOf(config: ClusterConfig, id: NodeId): Promise<NodeStatus | null> {
  try {
    return await adminRequest(adminSocketPath(config, id), { cmd: 'status' }, 2000) as NodeStatus
  } catch {
    return null
  }
}

/** The replica that says it leads (and whose peers agree it is the leader it names), or null. */
export async function currentLeader(config: ClusterConfig): Promise<NodeId | null> {
  for (const r of config.replicas) {
    const s = await statusOf(config, r.id)
    if (s !== null && s.leader !== null && s.leader === s.id && s.role === 'leader') return s.id
  }
  return null
}

async function waitUntil<T>(what: string, deadline: number, probe: () => Promise<T | null>): Promise<T> {
  for (;;) {
    const v = await probe()
    if (v !== null) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

/** Refuse before contacting anyone what the protocol or the address book cannot do. */
function checkCommand(config: ClusterConfig, command: AdminCommand): void {
  const protocol = getProtocol(config.protocol)
  if (protocol.adminCommands?.includes(command.kind) !== true) {
    const supported = protocol.adminCommands?.join(', ') ?? 'none'
    throw new ConfigError('command', `${protocol.name} does not support ${command.kind} (its admin commands: ${supported})`)
  }
  const target = command.kind === 'transfer-leadership' ? command.to : command.id
  if (!config.replicas.some(r => r.id === target)) {
    throw new ConfigError('id', `replica ${target} is not in the cluster's address book (replicas: ${config.replicas.map(r => r.id).join(', ')})`)
  }
}

export async function runAdminCommand(config: ClusterConfig, command: AdminCommand, timeoutMs = 20_000): Promise<AdminOutcome> {
  checkCommand(config, command)
  const deadline = Date.now() + timeoutMs
  const leader = await waitUntil('a leader', deadline, () => currentLeader(config))
  await adminRequest(adminSocketPath(config, leader), { cmd: 'admin', command })
  const what = describeAdminCommand(command)
  if (command.kind === 'transfer-leadership') {
    const status = await waitUntil(`${what} to take effect`, deadline, async () => {
      const s = await statusOf(config, command.to)
      return s?.role === 'leader' ? s : null
    })
    return { leader, status }
  }
  const status = await waitUntil(`${what} to commit`, deadline, async () => {
    const s = await statusOf(config, leader)
    return s !== null && s.membership !== null && membershipReflects(s.membership, command) ? s : null
  })
  return { leader, status }
}
