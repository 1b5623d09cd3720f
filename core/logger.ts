import { formatWithOptions } from 'node:util'

/**
 * Debug logging by namespace (`DEBUG=consensus:*`), in the style of js-libp2p's loggers. Disabled namespaces cost a
 * boolean check; protocols receive a Logger in their context and never write to the console themselves.
 */
export interface Logger {
  (format: string, ...args: unknown[]): void
  readonly enabled: boolean
}

function namespaceEnabled(ns: string, pattern: string): boolean {
  return pattern.split(',').map(p => p.trim()).filter(Boolean).some(p => {
    if (p.startsWith('-')) return false
    const re = new RegExp('^' + p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*') + '$')
    return re.test(ns)
  }) && !pattern.split(',').some(p => p.trim() === '-' + ns)
}

const pattern = typeof process !== 'undefined' ? (process.env.DEBUG ?? '') : ''

export function createLogger(namespace: string): Logger {
  const enabled = pattern !== '' && namespaceEnabled(namespace, pattern)
  const log = ((format: string, ...args: unknown[]) => {
    // printf-style, as js-libp2p's debug loggers: %s, %d, %j, %o are filled in from args.
    if (enabled) process.stderr.write(`${new Date().toISOString()} ${namespace} ${formatWithOptions({ colors: false }, format, ...args)}\n`)
  }) as Logger
  Object.defineProperty(log, 'enabled', { value: enabled })
  return log
}

export const silentLogger: Logger = createLogger('consensus:silent')
