#!/usr/bin/env node
/**
 * Judge a recorded history: `node bin/check.ts <history.jsonl> [--time-limit <ms>]` (`-` reads stdin).
 * Exit status: 0 linearizable, 1 not linearizable, 2 bad input or usage, 3 unknown (the time limit ran out).
 */
import { readFileSync } from 'node:fs'
import { checkHistory, DEFAULT_TIME_LIMIT_MS } from '../core/checker/index.ts'
import { CodecError } from '../core/errors.ts'
import { parseHistory } from '../core/history.ts'

const USAGE = 'usage: node bin/check.ts <history.jsonl | -> [--time-limit <ms>]'

function fail(message: string): never {
  process.stderr.write(`check: ${message}\n`)
  process.exit(2)
}

function main(args: readonly string[]): number {
  let file: string | undefined
  let timeLimitMs = DEFAULT_TIME_LIMIT_MS
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\nexit status: 0 linearizable, 1 not linearizable, 2 bad input, 3 unknown (time limit)\n`)
      return 0
    }
    if (arg === '--time-limit') {
      const text = args[++i]
      const value = Number(text)
      if (text === undefined || !Number.isFinite(value) || value <= 0) fail(`--time-limit needs a positive number of ms, got ${text ?? 'nothing'}\n${USAGE}`)
      timeLimitMs = value
    } else if (arg.startsWith('--')) {
      fail(`unknown option ${arg}\n${USAGE}`)
    } else if (file === undefined) {
      file = arg
    } else {
      fail(`more than one history given (${file}, ${arg})\n${USAGE}`)
    }
  }
  if (file === undefined) fail(`no history file given\n${USAGE}`)

  let text: string
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8')
  } catch (err) {
    fail(`cannot read ${file}: ${(err as Error).message}`)
  }
  let events
  try {
    events = parseHistory(text)
  } catch (err) {
    if (err instanceof CodecError) fail(`${file === '-' ? 'stdin' : file}: ${err.message}`)
    throw err
  }
  const result = checkHistory(events, { timeLimitMs })
  process.stdout.write(result.explanation + '\n')
  return result.verdict === 'linearizable' ? 0 : result.verdict === 'not-linearizable' ? 1 : 3
}

process.exitCode = main(process.argv.slice(2))
