/**
 * Words for the contract's administrative inputs (AdminCommand), shared by the host, the live admin socket, the CLI
 * and the simulator's fault log, so a refusal or a report names the command the same way everywhere.
 */
import type { AdminCommand, Membership } from './protocol.ts'

export function describeAdminCommand(command: AdminCommand): string {
  switch (command.kind) {
    case 'add-learner': return `adding ${command.id} as a learner`
    case 'promote': return `promoting learner ${command.id} to voter`
    case 'remove': return `removing ${command.id}`
    case 'transfer-leadership': return `leader transfer to ${command.to}`
  }
}

/**
 * Whether `membership` shows the change `command` asked for, committed (transfers are judged by who leads, not here).
 */
export function membershipReflects(membership: Membership, command: AdminCommand): boolean {
  if (!membership.committed) return false
  switch (command.kind) {
    case 'add-learner': return membership.learners.includes(command.id) || membership.voters.includes(command.id)
    case 'promote': return membership.voters.includes(command.id)
    case 'remove': return !membership.voters.includes(command.id) && !membership.learners.includes(command.id)
    case 'transfer-leadership': return true
  }
}
