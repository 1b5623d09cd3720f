/**
 * Hand-built HotStuff inputs for the paper-section tests: keys for n replicas and a client, replicas created directly
 * from a ReplicaContext, and blocks, QCs and proposals signed with the right keys (or deliberately wrong ones).
 */
import { requestSigningBytes } from '../../core/codec/client-messages.ts'
import { conflictKeysFunction } from '../../core/conflicts.ts'
import { createKvStore, encodeKvCommand } from '../../core/kv.ts'
import { silentLogger } from '../../core/logger.ts'
import { createRng } from '../../core/random.ts'
import { generatePrivateKey, signatureScheme } from '../../core/signers/index.ts'
import { EMPTY_DURABLE_STATE, type DurableState, type PersistOp } from '../../core/storage.ts'
import type { ClientRequest, NodeId } from '../../core/types.ts'
import type { Block, HotStuffMessage, Proposal, QuorumCert } from '../../protocols/hotstuff/messages.ts'
import { parseHotStuffOptions, type HotStuffContext } from '../../protocols/hotstuff/options.ts'
import { leaderOf } from '../../protocols/hotstuff/pacemaker.ts'
import { GENESIS_HASH, GENESIS_QC, HotStuffReplica } from '../../protocols/hotstuff/replica.ts'
import { blockHash, signProposal, voteSigningBytes } from '../../protocols/hotstuff/signing.ts'

export const CLIENT = 1000
const scheme = signatureScheme('node')

export class Fixture {
  readonly n: number
  readonly members: NodeId[]
  private readonly keys = new Map<NodeId, Uint8Array>()
  readonly options

  constructor(n = 4, raw: Record<string, unknown> = {}) {
    this.n = n
    this.members = [...Array(n).keys()]
    this.options = parseHotStuffOptions(raw, n)
    const rng = createRng(`fixture-${n}`)
    for (const id of [...this.members, CLIENT]) this.keys.set(id, generatePrivateKey(rng))
  }

  signer(id: NodeId) {
    return scheme.signer(this.keys.get(id)!)
  }

  ctx(id: NodeId, recovered: DurableState = EMPTY_DURABLE_STATE): HotStuffContext {
    return {
      id, members: this.members, options: this.options, rng: createRng(`r${id}`), signer: this.signer(id),
      verifier: scheme.verifier, publicKeyOf: x => this.keys.has(x) ? scheme.publicKeyOf(this.keys.get(x)!) : undefined,
      recovered, conflictKeys: conflictKeysFunction(createKvStore()), log: silentLogger,
    }
  }

  replica(id: NodeId, recovered?: DurableState): HotStuffReplica {
    return new HotStuffReplica(this.ctx(id, recovered))
  }

  request(seq: number, value = `v${seq}`): ClientRequest {
    const unsigned: ClientRequest = {
      clientId: CLIENT, seq, readOnly: false, op: encodeKvCommand({ type: 'put', key: 'k', value }), signature: new Uint8Array(0),
    }
    return { ...unsigned, signature: this.signer(CLIENT).sign(requestSigningBytes(unsigned)) }
  }

  /** A QC for `block` signed by `signers` (default: the first n - f members). */
  qc(view: number, hash: Uint8Array, signers: readonly NodeId[] = this.members.slice(0, this.n - Math.floor((this.n - 1) / 3))): QuorumCert {
    return { view, blockHash: hash, votes: signers.map(id => ({ replica: id, signature: this.signer(id).sign(voteSigningBytes(view, hash, id)) })) }
  }

  /** A block of `view` by its leader extending `parent` (with `parent`'s QC as justify). */
  block(view: number, parent: Block | null, commands: ClientRequest[] = [], justify?: QuorumCert): Block {
    const parentHash = parent === null ? GENESIS_HASH : blockHash(parent)
    return {
      view, height: parent === null ? 1 : parent.height + 1, parentHash,
      justify: justify ?? (parent === null ? GENESIS_QC : this.qc(parent.view, parentHash)),
      proposer: leaderOf(view, this.members), commands,
    }
  }

  propose(block: Block): Proposal {
    return signProposal(this.signer(block.proposer), block)
  }
}

/** Apply persist ops to a durable-state copy, as a host would after a sync. */
export function applyPersist(state: DurableState, ops: readonly PersistOp[]): DurableState {
  const hard = new Map(state.hard)
  const log = new Map(state.log.map(e => [e.index, e.value]))
  let snapshot = state.snapshot
  for (const op of ops) {
    if (op.kind === 'put') hard.set(op.key, op.value)
    else if (op.kind === 'entry') log.set(op.index, op.value)
    else if (op.kind === 'truncate') { for (const i of [...log.keys()]) if (i >= op.from) log.delete(i) }
    else if (op.kind === 'forget') log.delete(op.index)
    else {
      snapshot = { index: op.index, meta: op.meta, data: op.data }
      for (const i of [...log.keys()]) if (i <= op.index) log.delete(i)
    }
  }
  return { hard, log: [...log.entries()].sort((a, b) => a[0] - b[0]).map(([index, value]) => ({ index, value })), snapshot }
}

export function messagesOfType<T extends HotStuffMessage['type']>(
  out: ReadonlyArray<{ to: NodeId; message: HotStuffMessage }>, type: T,
): Array<{ to: NodeId; message: Extract<HotStuffMessage, { type: T }> }> {
  return out.filter(m => m.message.type === type) as Array<{ to: NodeId; message: Extract<HotStuffMessage, { type: T }> }>
}
