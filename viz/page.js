// The page script of a run's HTML view (inlined by viz/html.ts; plain browser JavaScript, no dependencies).
// It draws only the chosen time window, so a run with millions of events stays responsive: the replica status
// charts cover the whole run and choose the window (drag across them); the message diagram and the history
// timeline show the window.
'use strict';
(function () {
  const data = JSON.parse(document.getElementById('run-data').textContent)
  const app = document.getElementById('app')
  const tl = data.timeline
  const replicas = tl ? tl.replicas : []
  /** Past this many arrows in one window the diagram draws the first ones and says so; labels only below LABELS. */
  const MAX_ARROWS = 4000
  const LABELS = 100
  const MAX_BARS = 20000
  const MAX_KEYS = 60
  const WIDTH = 1160
  const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf']
  const ROLE_COLORS = { leader: '#e6a700', primary: '#e6a700', candidate: '#4a90d9', 'pre-candidate': '#9cc3ee', follower: '#b0b0b0', backup: '#b0b0b0', 'view-change': '#4a90d9', down: '#d62728' }
  const FAULT_COLORS = { crash: '#d62728', restart: '#2ca02c', partition: '#ff7f0e', heal: '#2ca02c', pause: '#9467bd', resume: '#9467bd', link: '#7f7f7f', clock: '#17becf', disk: '#8c564b', transfer: '#bcbd22', other: '#7f7f7f' }
  const end = Math.max(data.endMs, 1)
  let win = { from: data.focus.from, to: Math.max(data.focus.to, data.focus.from + 1) }

  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
  const ms = (t) => (Math.abs(t) >= 100 ? t.toFixed(0) : t.toFixed(2)) + ' ms'
  /** An axis label precise enough to tell the ticks of a `span`-wide axis apart. */
  const tick = (t, span) => t.toFixed(span < 2 ? 3 : span < 20 ? 2 : span < 200 ? 1 : 0) + ' ms'
  const color = (i) => COLORS[i % COLORS.length]
  const roleColor = (role) => ROLE_COLORS[role] || '#555'
  const hl = data.highlight
  const hlClass = new Map()
  if (hl) {
    hl.prefix.forEach((i) => hlClass.set(i, 'hl-prefix'))
    hl.candidates.forEach((i) => hlClass.set(i, 'hl-candidate'))
    hl.producers.forEach((i) => hlClass.set(i, 'hl-producer'))
    if (hl.needed !== null) hlClass.set(hl.needed, 'hl-needed')
    hlClass.set(hl.blocked, 'hl-blocked')
  }
  const prefixOrder = new Map(hl ? hl.prefix.map((op, n) => [op, n + 1]) : [])

  // Status segments per replica: [from, to, sample], from the samples (sorted by time).
  const segments = new Map(replicas.map((r) => [r, []]))
  if (tl) {
    const last = new Map()
    for (const s of tl.status) {
      const prev = last.get(s.replica)
      if (prev) segments.get(s.replica).push([prev.at, s.at, prev])
      last.set(s.replica, s)
    }
    for (const [r, s] of last) segments.get(r).push([s.at, end, s])
  }

  app.innerHTML = `
<header>
  <h1>${esc(data.title)}</h1>
  ${data.details.map((d) => `<div class="detail">${esc(d)}</div>`).join('')}
  <div id="verdict" class="verdict ${data.verdict.good ? 'good' : 'bad'}">
    <b>checker: ${esc(data.verdict.verdict)}</b>${data.verdict.problems.map((p) => `<div class="problem">${esc(p)}</div>`).join('')}
    <details ${data.verdict.good ? '' : 'open'}><summary>explanation</summary><pre>${esc(data.verdict.explanation)}</pre></details>
  </div>
</header>
<nav id="controls">
  window <input id="from" type="number" step="any"> to <input id="to" type="number" step="any"> ms
  <button data-act="apply">show</button>
  <button data-act="whole">whole run</button>
  <button data-act="focus" title="${esc(data.focus.reason)}">${hl ? 'violation' : 'default'}</button>
  <button data-act="in">zoom in</button><button data-act="out">zoom out</button>
  <button data-act="left">&larr;</button><button data-act="right">&rarr;</button>
  <span id="window-info"></span>
</nav>
<section><h2>Replica status</h2><div id="status"></div></section>
<section><h2>Messages between replicas</h2><div id="diagram-info" class="info"></div><div id="diagram"></div><div id="types" class="legend"></div></section>
<section><h2>Client history</h2><div class="legend">
  <span class="sw ok"></span>ok <span class="sw fail"></span>fail <span class="sw info"></span>timed out / unknown
  ${hl ? '<span class="sw hl-blocked"></span>blocked (completed, cannot be placed) <span class="sw hl-prefix"></span>longest linearizable prefix (numbered in order) <span class="sw hl-needed"></span>observed an impossible value <span class="sw hl-producer"></span>could have produced that value <span class="sw hl-candidate"></span>could have come next' : ''}
  </div><div id="history-info" class="info"></div><div id="history"></div></section>`

  const $ = (id) => document.getElementById(id)

  // ---- replica status over the whole run (chooses the window) ----
  let statusX = null
  function updateStatusWindow() {
    const rect = $('status-window')
    if (!rect || !statusX) return
    rect.setAttribute('x', statusX(win.from))
    rect.setAttribute('width', Math.max(1, statusX(win.to) - statusX(win.from)))
  }

  function drawStatus() {
    const box = $('status')
    if (!tl) { box.innerHTML = '<p class="info">No replica trace for this run: live clusters record the client history and the faults only.</p>'; return }
    const left = 90
    const w = WIDTH - left - 10
    const x = (t) => left + (t / end) * w
    statusX = x
    const rowH = 12
    const roleH = replicas.length * (rowH + 2)
    const chartH = 70
    // Loops, not Math.max(...array): a long run has more samples than a call has room for arguments.
    let maxEpoch = 1
    let maxCommit = 1
    for (const s of tl.status) { if (s.epoch > maxEpoch) maxEpoch = s.epoch; if (s.commitIndex > maxCommit) maxCommit = s.commitIndex }
    const top2 = roleH + 22
    const top3 = top2 + chartH + 22
    const height = top3 + chartH + 22
    let svg = `<svg id="status-svg" width="${WIDTH}" height="${height}" class="chart">`
    replicas.forEach((r, i) => {
      const y = i * (rowH + 2)
      svg += `<text x="${left - 6}" y="${y + rowH - 2}" class="axis" text-anchor="end">replica ${r}</text>`
      // One rect per stretch of the same role (samples also change on every commit).
      const bands = []
      for (const seg of segments.get(r)) {
        const lastBand = bands[bands.length - 1]
        if (lastBand && lastBand[2].role === seg[2].role && lastBand[2].epoch === seg[2].epoch) lastBand[1] = seg[1]
        else bands.push([seg[0], seg[1], seg[2]])
      }
      for (const [a, b, s] of bands) {
        svg += `<rect x="${x(a)}" y="${y}" width="${Math.max(0.5, x(b) - x(a))}" height="${rowH}" fill="${roleColor(s.role)}"><title>replica ${r}: ${esc(s.role)}, term/view ${s.epoch}, commit ${s.commitIndex} (${ms(a)} to ${ms(b)})</title></rect>`
      }
    })
    const line = (top, max, field, label) => {
      let out = `<text x="${left - 6}" y="${top + 10}" class="axis" text-anchor="end">${label}</text>`
      out += `<text x="${left - 6}" y="${top + chartH}" class="axis" text-anchor="end">0</text><text x="${left - 22}" y="${top + 10 + 12}" class="axis" text-anchor="end">${max}</text>`
      out += `<line x1="${left}" x2="${left + w}" y1="${top + chartH}" y2="${top + chartH}" class="grid"/>`
      replicas.forEach((r, i) => {
        let d = ''
        for (const [a, b, s] of segments.get(r)) {
          if (s.role === 'down') continue
          // Replicas that agree would hide each other: shift each line a little.
          const y = top + chartH - (s[field] / max) * chartH + (i - (replicas.length - 1) / 2) * 1.5
          // Skip steps narrower than a tenth of a pixel: the path stays small for long runs.
          if (x(b) - x(a) < 0.1 && b !== end) continue
          d += `M${x(a).toFixed(1)},${y.toFixed(1)}H${x(b).toFixed(1)}`
        }
        out += `<path d="${d}" stroke="${color(i)}" fill="none" stroke-width="1.5"/>`
      })
      return out
    }
    svg += line(top2, maxEpoch, 'epoch', 'term / view')
    svg += line(top3, maxCommit, 'commitIndex', 'commit index')
    for (let t = 0; t <= 10; t++) {
      const at = (end * t) / 10
      svg += `<text x="${x(at)}" y="${height - 4}" class="axis" text-anchor="middle">${tick(at, end)}</text>`
    }
    for (const f of data.faults) svg += `<line x1="${x(f.at)}" x2="${x(f.at)}" y1="0" y2="${height - 16}" stroke="${FAULT_COLORS[f.kind]}" stroke-dasharray="2,2"><title>${ms(f.at)} ${esc(f.label)}</title></line>`
    svg += `<rect id="status-window" x="${x(win.from)}" y="0" width="${Math.max(1, x(win.to) - x(win.from))}" height="${height - 16}" class="window"/>`
    svg += `<rect id="status-brush" x="0" y="0" width="0" height="${height - 16}" class="brush"/>`
    svg += '</svg>'
    const legend = replicas.map((r, i) => `<span class="sw" style="background:${color(i)}"></span>replica ${r}`).join(' ')
      + ' &nbsp; roles: ' + [...new Set(tl.status.map((s) => s.role))].sort().map((r) => `<span class="sw" style="background:${roleColor(r)}"></span>${esc(r)}`).join(' ')
    box.innerHTML = svg + `<div class="legend">${legend} &nbsp; <i>drag across the charts to choose the window</i></div>`
    const el = $('status-svg')
    const toTime = (clientX) => Math.min(end, Math.max(0, ((clientX - el.getBoundingClientRect().left - left) / w) * end))
    let start = null
    el.addEventListener('pointerdown', (e) => { start = toTime(e.clientX); el.setPointerCapture(e.pointerId) })
    el.addEventListener('pointermove', (e) => {
      if (start === null) return
      const t = toTime(e.clientX)
      const b = $('status-brush')
      b.setAttribute('x', x(Math.min(start, t)))
      b.setAttribute('width', Math.abs(x(t) - x(start)))
    })
    el.addEventListener('pointerup', (e) => {
      if (start === null) return
      const t = toTime(e.clientX)
      const [a, b] = [Math.min(start, t), Math.max(start, t)]
      start = null
      $('status-brush').setAttribute('width', 0)
      if (b - a > end / 2000) setWindow(a, b)
    })
  }

  // ---- space-time (Lamport) diagram of the window ----
  function drawDiagram() {
    const box = $('diagram')
    if (!tl) { box.innerHTML = ''; $('diagram-info').textContent = 'No message trace for this run.'; return }
    const m = tl.messages
    const span = win.to - win.from
    const height = 720
    const top = 34
    const y = (t) => top + ((t - win.from) / span) * height
    const colW = replicas.length > 1 ? Math.min(220, (WIDTH - 260) / (replicas.length - 1)) : 0
    const col = new Map(replicas.map((r, i) => [r, 110 + i * colW]))
    const chosen = []
    let inWindow = 0
    for (let i = 0; i < m.at.length; i++) {
      if (m.at[i] < win.from || m.sent[i] > win.to) continue
      inWindow++
      if (chosen.length < MAX_ARROWS) chosen.push(i)
    }
    let svg = `<svg id="diagram-svg" width="${WIDTH}" height="${height + top + 20}" class="chart">`
    svg += '<defs>' + tl.types.map((_, t) => `<marker id="head-${t}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="${color(t)}"/></marker>`).join('') + '</defs>'
    for (let k = 0; k <= 10; k++) {
      const t = win.from + (span * k) / 10
      svg += `<text x="8" y="${y(t) + 3}" class="axis">${tick(t, span)}</text><line x1="70" x2="${WIDTH - 10}" y1="${y(t)}" y2="${y(t)}" class="grid"/>`
    }
    // Replica lines, coloured by role so leader changes show; term/view changes marked.
    for (const r of replicas) {
      const cx = col.get(r)
      svg += `<text x="${cx}" y="14" text-anchor="middle" class="head">replica ${r}</text>`
      let prevEpoch = null
      let prevRole = null
      for (const [a, b, s] of segments.get(r)) {
        if (b < win.from || a > win.to) { prevEpoch = s.epoch; prevRole = s.role; continue }
        const y1 = y(Math.max(a, win.from))
        const y2 = y(Math.min(b, win.to))
        const cls = s.role === 'down' ? 'life down' : s.role === 'leader' || s.role === 'primary' ? 'life leader' : 'life'
        svg += `<line x1="${cx}" x2="${cx}" y1="${y1}" y2="${y2}" class="${cls}" stroke="${roleColor(s.role)}"><title>replica ${r}: ${esc(s.role)}, term/view ${s.epoch}</title></line>`
        if (a >= win.from && s.role !== 'down' && (prevEpoch !== s.epoch || (prevRole !== s.role && (s.role === 'leader' || s.role === 'primary')))) {
          const label = (s.role === 'leader' || s.role === 'primary') && prevRole !== s.role ? `${s.role} (term/view ${s.epoch})` : `term/view ${s.epoch}`
          svg += `<circle cx="${cx}" cy="${y1}" r="4" class="epoch-mark" fill="${roleColor(s.role)}"/><text x="${cx + 6}" y="${y1 - 3}" class="mark">${esc(label)}</text>`
        }
        prevEpoch = s.epoch
        prevRole = s.role
      }
    }
    // Faults on the lines.
    for (const f of data.faults) {
      if (f.at < win.from || f.at > win.to) continue
      const fy = y(f.at)
      const c = FAULT_COLORS[f.kind]
      if (f.replicas.length === 0 || f.kind === 'partition') {
        svg += `<line x1="70" x2="${WIDTH - 10}" y1="${fy}" y2="${fy}" stroke="${c}" stroke-dasharray="6,3" class="fault fault-${f.kind}"/><text x="${WIDTH - 12}" y="${fy - 3}" text-anchor="end" class="mark" fill="${c}">${esc(f.label)}</text>`
      }
      for (const r of f.replicas) {
        const cx = col.get(r)
        if (cx === undefined) continue
        const symbol = f.kind === 'crash' ? '✕' : f.kind === 'restart' ? '▶' : f.kind === 'pause' ? '⏸' : '◆'
        svg += `<text x="${cx}" y="${fy + 5}" text-anchor="middle" class="fault-sym fault fault-${f.kind}" fill="${c}">${symbol}<title>${ms(f.at)} ${esc(f.label)}</title></text>`
        if (f.kind !== 'partition') svg += `<text x="${cx + 9}" y="${fy + 4}" class="mark" fill="${c}">${esc(f.kind)}</text>`
      }
    }
    const counts = new Map()
    for (const i of chosen) {
      const from = col.get(m.from[i])
      const to = col.get(m.to[i])
      if (from === undefined || to === undefined) continue
      const t = m.type[i]
      counts.set(t, (counts.get(t) || 0) + 1)
      const y1 = y(m.sent[i])
      let x2 = to
      let y2 = y(m.at[i])
      const title = `${esc(tl.types[t])} ${m.from[i]} → ${m.to[i]}, sent ${ms(m.sent[i])}, ${m.delivered[i] ? 'delivered' : 'lost'} ${ms(m.at[i])}`
      if (m.delivered[i]) {
        svg += `<line x1="${from}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="${color(t)}" marker-end="url(#head-${t})" class="msg"><title>${title}</title></line>`
      } else {
        if (m.at[i] === m.sent[i]) { x2 = from + (to - from) * 0.35; y2 = y1 + 6 }
        svg += `<line x1="${from}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="${color(t)}" class="msg lost"><title>${title}</title></line><text x="${x2}" y="${y2 + 4}" text-anchor="middle" class="lost-x">×</text>`
      }
      if (chosen.length <= LABELS) {
        svg += `<text x="${(from + x2) / 2}" y="${(y1 + y2) / 2 - 2}" text-anchor="middle" class="msg-label" fill="${color(t)}">${esc(tl.types[t])}</text>`
      }
    }
    svg += '</svg>'
    box.innerHTML = svg
    if (!data.messagesRecorded) {
      $('diagram-info').textContent = 'Live runs record no message trace: the lines show each replica\'s polled role and the faults.'
      $('types').innerHTML = ''
      return
    }
    $('diagram-info').textContent = `${inWindow} messages in this window` + (inWindow > chosen.length ? ` (drawing the first ${chosen.length}: zoom in to see the rest)` : '')
      + (chosen.length > LABELS ? '; type labels appear below ' + LABELS + ' messages (hover an arrow for its details)' : '')
      + (tl.messagesOmitted > 0 ? `; ${tl.messagesOmitted} later messages were not recorded` : '')
    $('types').innerHTML = tl.types.map((name, t) => `<span class="sw" style="background:${color(t)}"></span>${esc(name)} (${counts.get(t) || 0})`).join(' ')
  }

  // ---- the client history as a timeline per key, one lane per client ----
  function drawHistory() {
    const left = 110
    const w = WIDTH - left - 10
    const span = win.to - win.from
    const x = (t) => left + ((Math.min(Math.max(t, win.from), win.to) - win.from) / span) * w
    const byKey = new Map()
    let bars = 0
    let total = 0
    for (let i = 0; i < data.ops.length; i++) {
      const op = data.ops[i]
      const stop = op.t1 === null ? end : op.t1
      if (op.t0 > win.to || stop < win.from) continue
      total++
      if (bars >= MAX_BARS) continue
      bars++
      let list = byKey.get(op.k)
      if (!list) byKey.set(op.k, (list = []))
      list.push(i)
    }
    const hlKey = hl ? data.keys.indexOf(hl.key) : -1
    const keys = [...byKey.keys()].sort((a, b) => (a === hlKey ? -1 : b === hlKey ? 1 : a - b))
    const shown = keys.slice(0, MAX_KEYS)
    let html = `<svg class="chart axis-row" width="${WIDTH}" height="16">`
    for (let n = 0; n <= 10; n++) {
      const t = win.from + (span * n) / 10
      html += `<text x="${x(t)}" y="12" text-anchor="${n === 0 ? 'start' : n === 10 ? 'end' : 'middle'}" class="axis">${tick(t, span)}</text>`
    }
    html += '</svg>'
    for (const k of shown) {
      const list = byKey.get(k)
      const lanes = [...new Set(list.map((i) => data.ops[i].p))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      const lane = new Map(lanes.map((p, n) => [p, n]))
      const laneH = 18
      const height = lanes.length * laneH + 24
      let svg = `<svg class="chart key-timeline${k === hlKey ? ' failing' : ''}" width="${WIDTH}" height="${height}" data-key="${esc(data.keys[k])}">`
      svg += `<text x="4" y="12" class="head">key ${esc(JSON.stringify(data.keys[k]))}${k === hlKey ? ' — not linearizable' : ''}</text>`
      lanes.forEach((p, n) => { svg += `<text x="${left - 6}" y="${16 + n * laneH + 12}" text-anchor="end" class="axis">client ${esc(p)}</text>` })
      for (const f of data.faults) if (f.at >= win.from && f.at <= win.to) svg += `<line x1="${x(f.at)}" x2="${x(f.at)}" y1="14" y2="${height - 8}" stroke="${FAULT_COLORS[f.kind]}" stroke-dasharray="2,2"><title>${ms(f.at)} ${esc(f.label)}</title></line>`
      for (const i of list) {
        const op = data.ops[i]
        const x1 = x(op.t0)
        const x2 = Math.max(x1 + 2, x(op.t1 === null ? end : op.t1))
        const yy = 16 + lane.get(op.p) * laneH
        const cls = `op ${op.s}${op.t1 === null ? ' open' : ''}${hlClass.has(i) ? ' ' + hlClass.get(i) : ''}`
        const text = op.d + (op.r !== undefined ? ` → ${op.r}` : '')
        const title = `client ${op.p} ${text}: invoked ${ms(op.t0)}, ${op.t1 === null ? 'never completed' : (op.s === 'info' ? 'timed out' : op.s) + ' ' + ms(op.t1)}`
          + (prefixOrder.has(i) ? ` (#${prefixOrder.get(i)} of the longest linearizable prefix)` : '')
        svg += `<rect x="${x1}" y="${yy}" width="${x2 - x1}" height="${laneH - 4}" rx="2" class="${cls}" data-op="${i}"><title>${esc(title)}</title></rect>`
        const label = (prefixOrder.has(i) ? `#${prefixOrder.get(i)} ` : '') + text
        if (x2 - x1 > label.length * 5.6 + 4) svg += `<text x="${x1 + 3}" y="${yy + 11}" class="op-label">${esc(label)}</text>`
        else if (prefixOrder.has(i)) svg += `<text x="${x1}" y="${yy - 1}" class="op-label">#${prefixOrder.get(i)}</text>`
      }
      svg += '</svg>'
      html += svg
    }
    $('history').innerHTML = html
    $('history-info').textContent = `${total} operations in this window over ${keys.length} keys`
      + (total > bars ? ` (drawing the first ${bars}: zoom in to see the rest)` : '')
      + (keys.length > shown.length ? `; showing ${shown.length} keys` : '')
      + `; the run has ${data.ops.length} operations`
  }

  function setWindow(from, to) {
    from = Math.max(0, Math.min(from, end))
    to = Math.min(end, Math.max(to, from + 0.001))
    win = { from, to }
    draw()
  }

  function draw() {
    $('from').value = +win.from.toFixed(3)
    $('to').value = +win.to.toFixed(3)
    $('window-info').textContent = `${ms(win.to - win.from)} of ${ms(end)}`
    updateStatusWindow()
    drawDiagram()
    drawHistory()
  }

  $('controls').addEventListener('click', (e) => {
    const act = e.target.getAttribute && e.target.getAttribute('data-act')
    if (!act) return
    const span = win.to - win.from
    const mid = (win.from + win.to) / 2
    if (act === 'apply') setWindow(Number($('from').value), Number($('to').value))
    if (act === 'whole') setWindow(0, end)
    if (act === 'focus') setWindow(data.focus.from, data.focus.to)
    if (act === 'in') setWindow(mid - span / 4, mid + span / 4)
    if (act === 'out') setWindow(mid - span, mid + span)
    if (act === 'left') setWindow(win.from - span / 2, win.to - span / 2)
    if (act === 'right') setWindow(win.from + span / 2, win.to + span / 2)
  })
  // Clicking an operation opens the window on it, so the messages it caused are in the diagram above.
  $('history').addEventListener('click', (e) => {
    const i = e.target.getAttribute && e.target.getAttribute('data-op')
    if (i === null || i === undefined) return
    const op = data.ops[Number(i)]
    const stop = op.t1 === null ? end : op.t1
    const pad = Math.max((stop - op.t0) * 0.2, 0.5)
    setWindow(op.t0 - pad, stop + pad)
  })
  document.addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.target.id === 'from' || e.target.id === 'to')) setWindow(Number($('from').value), Number($('to').value)) })
  drawStatus()
  draw()
  window.runView = { setWindow, data }
})()
