/**
 * The protocol registry: adding a protocol is one folder plus one line here.
 */
import type { ProtocolDescriptor } from '../core/protocol.ts'
import { unreplicated } from './unreplicated/descriptor.ts'

export const protocols: ReadonlyMap<string, ProtocolDescriptor<any>> = new Map<string, ProtocolDescriptor<any>>([
  [unreplicated.name, unreplicated],
])

export function getProtocol(name: string): ProtocolDescriptor<unknown> {
  const p = protocols.get(name)
  if (p === undefined) throw new Error(`unknown protocol "${name}" (known: ${[...protocols.keys()].join(', ')})`)
  return p
}
