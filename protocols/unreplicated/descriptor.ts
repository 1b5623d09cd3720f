import { LeaderClient } from '../../core/clients/leader-client.ts'
import { CodecError } from '../../core/errors.ts'
import { rejectUnknownOptions } from '../../core/options.ts'
import type { ProtocolDescriptor } from '../../core/protocol.ts'
import { createUnreplicatedReplica, type UnreplicatedMessage } from './replica.ts'

/** The baseline has no options. */
export type UnreplicatedOptions = Readonly<Record<string, never>>

export const unreplicated: ProtocolDescriptor<UnreplicatedMessage, UnreplicatedOptions> = {
  name: 'unreplicated',
  description: 'single node, no replication: the baseline the cost of replication is measured against',
  faultModel: 'crash',
  replicasFor: f => {
    if (f !== 0) throw new RangeError('the unreplicated baseline tolerates no faults (f must be 0)')
    return 1
  },
  faultsTolerated: () => 0,
  checkClusterSize: n => (n === 1 ? null : `the unreplicated baseline runs on exactly 1 node, got n = ${n}`),
  parseOptions: raw => {
    rejectUnknownOptions(raw, [], 'unreplicated')
    return {}
  },
  codec: {
    encode: () => { throw new Error('the unreplicated baseline sends no replica messages') },
    decode: () => { throw new CodecError('the unreplicated baseline accepts no replica messages') },
    typeName: () => 'none',
  },
  createReplica: createUnreplicatedReplica,
  createClient: ctx => new LeaderClient(ctx),
  replyFrom: 'proposer',
  theoreticalMessages: () => ({}),
}
