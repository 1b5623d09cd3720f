/**
 * One self-contained HTML file per run: the page script and style are inlined and the data embedded as JSON, so it
 * opens from disk in any browser, offline, with no server.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import type { RunView } from './run-view.ts'

const script = readFileSync(new URL('./page.js', import.meta.url), 'utf8')
const style = readFileSync(new URL('./page.css', import.meta.url), 'utf8')

/** JSON inside <script> must not contain "</script" or "<!--": escape every "<" (and the JS-only line separators). */
function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export function renderRunHtml(view: RunView): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(view.title)}</title>
<style>${style}</style>
</head>
<body>
<div id="app"><noscript>This page draws the run with JavaScript.</noscript></div>
<script type="application/json" id="run-data">${embedJson(view)}</script>
<script>${script}</script>
</body>
</html>
`
}

export function writeRunHtml(file: string, view: RunView): void {
  writeFileSync(file, renderRunHtml(view))
}
