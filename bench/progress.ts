/**
 * The live progress bar on stderr, shown only to a person watching (a TTY, and not --quiet or --json).
 */
import cliProgress from 'cli-progress'
import type { SweepHooks } from './sweep.ts'

export function progressHooks(enabled: boolean): SweepHooks & { stop(): void } {
  if (!enabled) return { stop: () => {} }
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: 'bench [{bar}] {value}/{total} {eta_formatted} left | {label}',
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: 5,
  }, cliProgress.Presets.shades_classic)
  let started = false
  return {
    onStart: (_plan, total) => { bar.start(total, 0, { label: 'starting' }); started = true },
    onProgress: p => bar.update(p.done, { label: p.label.length > 60 ? p.label.slice(0, 57) + '...' : p.label }),
    stop: () => { if (started) bar.stop() },
  }
}
