/**
 * Argument parsers shared by the command-line tools: each rejects a bad value with a message naming the flag.
 */
import { CommanderError, InvalidArgumentError, type Command } from 'commander'
import type { AnyProtocol } from '../core/protocol.ts'
import { getProtocol } from '../protocols/index.ts'

export function positiveInt(flag: string, min = 1) {
  return (text: string): number => {
    const v = Number(text)
    if (!Number.isInteger(v) || v < min) throw new InvalidArgumentError(`${flag} expects an integer >= ${min}, got "${text}"`)
    return v
  }
}

export function nonNegativeNumber(flag: string) {
  return (text: string): number => {
    const v = Number(text)
    if (text.trim() === '' || !Number.isFinite(v) || v < 0) throw new InvalidArgumentError(`${flag} expects a number >= 0, got "${text}"`)
    return v
  }
}

export function ratio(flag: string) {
  return (text: string): number => {
    const v = Number(text)
    if (text.trim() === '' || !(v >= 0 && v <= 1)) throw new InvalidArgumentError(`${flag} expects a number from 0 to 1, got "${text}"`)
    return v
  }
}

/** `--option key=value` (repeatable): numbers and booleans are parsed, anything else stays a string. */
export function keyValue(text: string, previous: Record<string, unknown> = {}): Record<string, unknown> {
  const at = text.indexOf('=')
  if (at <= 0) throw new InvalidArgumentError(`--option expects key=value, got "${text}"`)
  const key = text.slice(0, at)
  const raw = text.slice(at + 1)
  const value: unknown = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw
  return { ...previous, [key]: value }
}

export function list(text: string): string[] {
  return text.split(',').map(s => s.trim()).filter(s => s !== '')
}

/** Parse argv with a commander program set to exitOverride: help exits 0, a bad argument exits 2 (commander printed why). */
export function parseOrExit(program: Command): Record<string, unknown> {
  try {
    program.parse(process.argv)
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2)
    throw e
  }
  return program.opts()
}

/** The registered protocol of that name, or exit 2 with "<tool>: unknown protocol ... (known: ...)". */
export function protocolOrExit(tool: string, name: string): AnyProtocol {
  try {
    return getProtocol(name)
  } catch (e) {
    process.stderr.write(`${tool}: ${(e as Error).message}\n`)
    process.exit(2)
  }
}
