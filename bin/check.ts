#!/usr/bin/env node
/**
 * Judge a recorded history: `node bin/check.ts <history> [--format jsonl|jepsen-edn|porcupine] [--time-limit <ms>]`
 * (`-` reads stdin). The format is detected from the file unless given.
 * Exit status: 0 linearizable, 1 not linearizable, 2 bad input or usage, 3 unknown (the time limit ran out).
 */
import { readFileSync } from 'node:fs'
import { checkHistory, DEFAULT_TIME_LIMIT_MS } from '../core/checker/index.ts'
import { CodecError } from '../core/errors.ts'
import { HISTORY_FORMATS, parseAnyHistory, type HistoryFormat } from '../core/history-formats.ts'

const USAGE = `usage: node bin/check.ts <history | -> [--format ${HISTORY_FORMATS.join('|')}] [--time-limit <ms>]`

function fail(message: string): never {
  process.stderr.write(`check: ${message}\n`)
  process.exit(2)
}

function main(args: readonly string[]): number {
  let file: string | undefined
  let timeLimitMs = DEFAULT_TIME_LIMIT_MS
  let format: HistoryFormat | undefined
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\nformats: JSON Lines (ours), Jepsen EDN (Knossos/Elle), Porcupine JSON; detected unless --format is given\n`
        + 'exit status: 0 linearizable, 1 not linearizable, 2 bad input, 3 unknown (time limit)\n')
      return 0
    }
    if (arg === '--time-limit') {
      const text = args[++i]
      const value = Number(text)
      if (text === undefined || !Number.isFinite(value) || value <= 0) fail(`--time-limit needs a positive number of ms, got ${text ?? 'nothing'}\n${USAGE}`)
      timeLimitMs = value
    } else if (arg === '--format') {
      const text = args[++i]
      if (!HISTORY_FORMATS.includes(text as HistoryFormat)) fail(`--format must be one of ${HISTORY_FORMATS.join(', ')}, got ${text ?? 'nothing'}\n${USAGE}`)
      format = text as HistoryFormat
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
    events = parseAnyHistory(text, format)
  } catch (err) {
    if (err instanceof CodecError) fail(`${file === '-' ? 'stdin' : file}: ${err.message}`)
    throw err
  }
  const result = checkHistory(events, { timeLimitMs })
  process.stdout.write(result.explanation + '\n')
  return result.verdict === 'linearizable' ? 0 : result.verdict === 'not-linearizable' ? 1 : 3
}

process.exitCode = main(process.argv.slice(2))
