/**
 * Ballots (proposal numbers) are pairs (round, replica id), ordered by round then id: every replica owns an infinite
 * disjoint set of ballots, so two proposers never use the same one. Round 0 is never used by a proposer: the zero
 * ballot means "nothing promised / accepted".
 */
import type { BinaryReader, BinaryWriter } from '../../core/codec/binary.ts'
import type { NodeId } from '../../core/types.ts'

export interface Ballot {
  readonly round: number
  readonly id: NodeId
}

export const ZERO_BALLOT: Ballot = { round: 0, id: 0 }

export function compareBallots(a: Ballot, b: Ballot): number {
  return a.round !== b.round ? a.round - b.round : a.id - b.id
}

export function ballotEquals(a: Ballot, b: Ballot): boolean {
  return a.round === b.round && a.id === b.id
}

export function isZeroBallot(b: Ballot): boolean {
  return b.round === 0
}

/** The smallest ballot owned by `id` that is above `above`. */
export function nextBallot(above: Ballot, id: NodeId): Ballot {
  return { round: above.round + 1, id }
}

export function formatBallot(b: Ballot): string {
  return `${b.round}.${b.id}`
}

export function writeBallot(w: BinaryWriter, b: Ballot): void {
  w.uvarint(b.round).uvarint(b.id)
}

export function readBallot(r: BinaryReader): Ballot {
  const round = r.uvarint()
  const id = r.uvarint()
  return { round, id }
}
