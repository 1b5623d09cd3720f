/**
 * Which commands interfere (EPaxos §4.1: "two commands interfere if executing them in different orders can give
 * different results"). Partial-order protocols order only interfering commands; the simulator checks, per conflict
 * key, that every replica executed them in the same order.
 *
 * A command's conflict keys are the state machine's keys it touches (`k:` + key) plus its client session (`s:` +
 * session id). The session key is not optional: the host's exactly-once table (core/sessions.ts) treats a lower seq
 * applied after a higher one as a duplicate and skips it, so a replica that executed a session's commands in another
 * order than its peers would skip a command they applied. Two reads of one key are treated as interfering too: simple,
 * and only a little conservative.
 */
import type { StateMachine } from './state-machine.ts'
import type { ClientRequest } from './types.ts'

export type KeysOf = NonNullable<StateMachine['keysOf']>

/** The key every command of session `clientId` carries. */
export function sessionConflictKey(clientId: number): string {
  return `s:${clientId}`
}

/**
 * The request's conflict keys: its state-machine keys (all of its `op`'s, when the state machine cannot say:
 * `keysOf` undefined makes every command interfere with every other through one shared key) and its session key.
 */
export function conflictKeysOf(keysOf: KeysOf | undefined, request: ClientRequest): readonly string[] {
  const session = sessionConflictKey(request.clientId)
  if (keysOf === undefined) return [EVERYTHING, session]
  const keys = keysOf(request.op)
  const out = new Array<string>(keys.length + 1)
  for (let i = 0; i < keys.length; i++) out[i] = `k:${keys[i]!}`
  out[keys.length] = session
  return out
}

/** The one key shared by all commands of a state machine that does not tell its keys: everything interferes. */
export const EVERYTHING = '*'

/** Whether two commands with these conflict keys interfere (share a key). */
export function interferes(a: readonly string[], b: readonly string[]): boolean {
  for (const x of a) if (b.includes(x)) return true
  return false
}

/** The conflict-key function of a state machine (what hosts give replicas as `ReplicaContext.conflictKeys`). */
export function conflictKeysFunction(stateMachine: StateMachine): (request: ClientRequest) => readonly string[] {
  const keysOf = stateMachine.keysOf === undefined ? undefined : (op: Uint8Array) => stateMachine.keysOf!(op)
  return request => conflictKeysOf(keysOf, request)
}
