/**
 * The protocol registry: adding a protocol is one folder plus one line here.
 */
import { ConfigError } from '../core/errors.ts'
import type { AnyProtocol } from '../core/protocol.ts'
import { unreplicated } from './unreplicated/descriptor.ts'
import { multipaxos } from './multipaxos/descriptor.ts'
import { raft } from './raft/descriptor.ts'
import { pbft } from './pbft/descriptor.ts'
import { hotstuff } from './hotstuff/descriptor.ts'
import { epaxos } from './epaxos/descriptor.ts'
import { quorumKv } from './quorum-kv/descriptor.ts'

export const protocols: ReadonlyMap<string, AnyProtocol> = new Map<string, AnyProtocol>([
  [unreplicated.name, unreplicated],
  [multipaxos.name, multipaxos],
  [raft.name, raft],
  [pbft.name, pbft],
  [hotstuff.name, hotstuff],
  [epaxos.name, epaxos],
  [quorumKv.name, quorumKv],
])

export function getProtocol(name: string): AnyProtocol {
  const p = protocols.get(name)
  if (p === undefined) throw new ConfigError('protocol', `unknown protocol "${name}" (known: ${[...protocols.keys()].join(', ')})`)
  return p
}
