/**
 * A real headless browser for the HTML-view tests: the system Chromium (Debian's `apt-get install chromium`),
 * driven by playwright-core, which downloads no browser of its own. Each session gets a fresh profile directory and
 * the flags that keep Chromium from reaching out to the network (this project's CI machines have none).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium, type BrowserContext, type Page } from 'playwright-core'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
]

export function browserAvailable(): boolean {
  return existsSync(CHROMIUM_PATH)
}

/** Why the browser tests cannot run here, and how to make them run; printed (never a silent skip). */
export const BROWSER_MISSING = `browser tests NOT RUN: no Chromium at ${CHROMIUM_PATH}. `
  + 'Install it with `apt-get update && apt-get install -y chromium` (or set CHROMIUM_PATH) to run them; under CI=true they fail instead.'

export interface BrowserSession {
  readonly context: BrowserContext
  /** Opens a local file; `errors` collects console errors and uncaught page errors from then on. */
  open(file: string, viewport?: { width: number; height: number }): Promise<{ page: Page; errors: string[] }>
  close(): Promise<void>
}

export async function startBrowser(): Promise<BrowserSession> {
  const profile = mkdtempSync(join(tmpdir(), 'viz-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, offline: true,
  })
  return {
    context,
    async open(file, viewport = { width: 1200, height: 900 }) {
      const page = await context.newPage()
      await page.setViewportSize(viewport)
      const errors: string[] = []
      page.on('console', m => { if (m.type() === 'error') errors.push(m.text()) })
      page.on('pageerror', e => errors.push(e.message))
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' })
      return { page, errors }
    },
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}
