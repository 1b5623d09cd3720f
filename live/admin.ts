/**
 * The admin channel of a live node: a Unix socket in the cluster's run folder (reachable only by local users allowed
 * by the folder's permissions), speaking one JSON object per line. `status` reports role, epoch, commit and applied
 * index, membership, peers and counters; `block` / `heal` inject and lift a partition at the node's transport, and
 * `clock` makes the replica's clock run fast or slow (clock drift; rate 1 is true time), both used by chaos runs;
 * `digest` hashes the replicated state, so a benchmark can check that replicas in other processes agree;
 * `admin` hands the replica one of the contract's administrative inputs (membership change, leader transfer).
 */
import { existsSync, unlinkSync } from 'node:fs'
import { createConnection, createServer, type Server } from 'node:net'
import type { AdminCommand } from '../core/protocol.ts'

export type AdminRequest =
  | { readonly cmd: 'status' }
  /** The applied index and a SHA-256 of the replicated state (store and sessions) at it: replicas agree when both match. */
  | { readonly cmd: 'digest' }
  | { readonly cmd: 'block'; readonly peers: readonly number[] }
  | { readonly cmd: 'heal' }
  | { readonly cmd: 'clock'; readonly rate: number }
  /** An administrative input for the replica (Replica.admin): membership changes and leader transfer, sent to the leader. */
  | { readonly cmd: 'admin'; readonly command: AdminCommand }

export type AdminHandler = (request: AdminRequest) => unknown

const MEMBER_COMMANDS = ['add-learner', 'promote', 'remove'] as const

function isReplicaId(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0
}

/** The contract's AdminCommand from JSON, or null when it is not one. */
export function parseAdminCommand(v: unknown): AdminCommand | null {
  if (typeof v !== 'object' || v === null) return null
  const c = v as { kind?: unknown; id?: unknown; to?: unknown }
  if ((MEMBER_COMMANDS as readonly unknown[]).includes(c.kind) && isReplicaId(c.id)) {
    return { kind: c.kind as typeof MEMBER_COMMANDS[number], id: c.id }
  }
  if (c.kind === 'transfer-leadership' && isReplicaId(c.to)) return { kind: 'transfer-leadership', to: c.to }
  return null
}

function parseRequest(line: string): AdminRequest {
  const v = JSON.parse(line) as { cmd?: unknown; peers?: unknown; rate?: unknown; command?: unknown }
  if (v.cmd === 'status' || v.cmd === 'heal' || v.cmd === 'digest') return { cmd: v.cmd }
  if (v.cmd === 'block' && Array.isArray(v.peers) && v.peers.every(p => Number.isInteger(p))) return { cmd: 'block', peers: v.peers as number[] }
  if (v.cmd === 'clock' && typeof v.rate === 'number' && v.rate > 0 && v.rate <= 100) return { cmd: 'clock', rate: v.rate }
  if (v.cmd === 'admin') {
    const command = parseAdminCommand(v.command)
    if (command !== null) return { cmd: 'admin', command }
  }
  throw new Error(`unknown admin request ${line.slice(0, 100)} (expected {"cmd":"status"|"digest"|"block"|"heal"|"clock"|"admin"}; ` +
    'clock takes a rate above 0; admin a command {"kind":"add-learner"|"promote"|"remove","id":<replica>} or ' +
    '{"kind":"transfer-leadership","to":<replica>})')
}

export function startAdminServer(socketPath: string, handler: AdminHandler): Promise<Server> {
  if (existsSync(socketPath)) unlinkSync(socketPath) // left behind by a killed process
  const server = createServer(socket => {
    let buffered = ''
    socket.setEncoding('utf8')
    socket.on('data', chunk => {
      buffered += chunk
      if (buffered.length > 64 * 1024) { socket.destroy(); return }
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        let reply: unknown
        try {
          reply = { ok: true, result: handler(parseRequest(line)) }
        } catch (e) {
          reply = { ok: false, error: (e as Error).message }
        }
        socket.write(JSON.stringify(reply) + '\n')
      }
    })
    socket.on('error', () => socket.destroy())
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(socketPath, () => resolve(server))
  })
}

/**
 * How long an admin request waits by default. The socket is served by the node's event loop, which on a loaded
 * machine can be seconds behind (a PBFT replica verifying a backlog of signatures): generous, so a busy node is not
 * mistaken for a dead one.
 */
export const ADMIN_TIMEOUT_MS = 10_000

/** Send one request; rejects after `timeoutMs` or if the node answers with an error. */
export function adminRequest(socketPath: string, request: AdminRequest, timeoutMs = ADMIN_TIMEOUT_MS): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath)
    let buffered = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`admin socket ${socketPath}: no answer in ${timeoutMs} ms`)) }, timeoutMs)
    socket.setEncoding('utf8')
    socket.on('connect', () => socket.write(JSON.stringify(request) + '\n'))
    socket.on('data', chunk => {
      buffered += chunk
      const nl = buffered.indexOf('\n')
      if (nl < 0) return
      clearTimeout(timer)
      socket.end()
      const reply = JSON.parse(buffered.slice(0, nl)) as { ok: boolean; result?: unknown; error?: string }
      if (reply.ok) resolve(reply.result)
      else reject(new Error(reply.error))
    })
    socket.on('error', e => { clearTimeout(timer); reject(e) })
  })
}
