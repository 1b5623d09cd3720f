/** `cluster status` for a replica with groups: one line per replica, how many groups it hosts and leads. */
import type { GroupedNodeStatus } from './grouped-node.ts'

/** Group ids as ranges: 0-3,8,10-11. */
function idRanges(ids: readonly number[]): string {
  const out: string[] = []
  for (let i = 0; i < ids.length; i++) {
    let j = i
    while (j + 1 < ids.length && ids[j + 1] === ids[j]! + 1) j++
    out.push(j === i ? `${ids[i]}` : `${ids[i]}-${ids[j]}`)
    i = j
  }
  return out.join(',') || 'none'
}

export function groupedStatusLine(s: GroupedNodeStatus & { readonly pid: number }): string {
  const led = s.groups.filter(g => g.leader === s.id).map(g => g.group)
  const leaderless = s.groups.filter(g => g.leader === null).map(g => g.group)
  const commit = s.groups.reduce((sum, g) => sum + g.commitIndex, 0)
  const maxEpoch = s.groups.reduce((m, g) => Math.max(m, g.epoch), 0)
  return `replica ${s.id}: pid ${s.pid}, ${s.groups.length} groups, leads ${led.length} (${idRanges(led)})` +
    `${leaderless.length > 0 ? `, no known leader in ${idRanges(leaderless)}` : ''}, commit ${commit} summed, ` +
    `max epoch ${maxEpoch}, fsyncs ${s.fsyncs}, peers ${s.peers.join(',')}${s.blocked.length > 0 ? `, blocked ${s.blocked.join(',')}` : ''}`
}
