/**
 * The dashboard's pages: plain HTML with a small script each. The per-server token travels in a meta tag and is
 * sent back as X-Fintune-Token on every state-changing request. All text from run files is inserted with
 * textContent (never innerHTML), so a generation containing markup cannot run in the page.
 */

const STYLE = `
  body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
  header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:18px;align-items:center}
  header a{color:#cfe0ff;text-decoration:none} header b{font-size:16px}
  main{padding:18px 22px;max-width:1200px}
  table{border-collapse:collapse;background:#fff;width:100%} th,td{padding:6px 10px;border-bottom:1px solid #e3e6eb;text-align:left}
  th{background:#eef1f5} .status-running{color:#0a7d2c;font-weight:600} .status-failed{color:#b3261e;font-weight:600}
  .charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px}
  .card{background:#fff;border:1px solid #e3e6eb;border-radius:6px;padding:10px 12px;margin-bottom:14px}
  .muted{color:#6b7280} textarea{width:100%;min-height:70px;font:13px monospace} pre{white-space:pre-wrap;margin:4px 0}
  button{padding:5px 12px;border-radius:4px;border:1px solid #9aa4b2;background:#fff;cursor:pointer} button.primary{background:#2457c5;color:#fff;border-color:#2457c5}
  .saved{color:#0a7d2c} .error{color:#b3261e}`;

function layout(token: string, title: string, body: string, script: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="fintune-token" content="${token}">
<title>${title} · fintune</title>
<link rel="stylesheet" href="/static/uplot.css"><style>${STYLE}</style>
<script src="/static/uplot.js"></script>
</head><body>
<header><b>fintune</b><a href="/">Runs</a><a href="/compare">Compare</a></header>
<main>${body}</main>
<script>
const TOKEN = document.querySelector('meta[name="fintune-token"]').content;
async function api(url, body) {
  const opts = body === undefined ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Fintune-Token': TOKEN }, body: JSON.stringify(body) };
  const r = await fetch(url, opts);
  const j = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) k === 'class' ? (e.className = v) : e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k == null ? '' : String(k)));
  return e;
}
function fmt(x, d = 4) { return typeof x === 'number' && isFinite(x) ? x.toFixed(d) : '–'; }
/** A uPlot line chart; series: [{label, key}], rows with .step. Returns an updater taking all rows. */
function lineChart(parent, title, series, opts = {}) {
  const box = el('div', { class: 'card', 'data-chart': title }, el('div', {}, title));
  parent.append(box);
  const u = new uPlot({ width: 520, height: 220, scales: { x: { time: false }, y: opts.log ? { distr: 3 } : {} },
    series: [{ label: opts.x || 'step' }, ...series.map((s, i) => ({ label: s.label, stroke: ['#2457c5', '#d9480f', '#0a7d2c', '#7048e8'][i % 4], spanGaps: true }))] }, [[], ...series.map(() => [])], box);
  return (rows) => {
    const xs = rows.map((r, i) => (opts.x ? i : r.step));
    u.setData([xs, ...series.map((s) => rows.map((r) => (typeof r[s.key] === 'number' ? r[s.key] : null)))]);
    box.dataset.points = String(xs.length);
  };
}
${script}
</script></body></html>`;
}

export function homePage(token: string): string {
  return layout(
    token,
    'Runs',
    `<h2>Runs</h2><p class="muted">Every folder of the runs folder with a config, metrics, forecasts or a report. Refreshes every 5 s.</p>
     <table id="runs"><thead><tr><th>Run</th><th>Status</th><th>Method</th><th>Model</th><th>Steps</th><th>Last loss</th><th>Best val loss</th><th>Updated</th><th></th></tr></thead><tbody></tbody></table>`,
    `async function refresh() {
  const { runs } = await api('/api/runs');
  const tb = document.querySelector('#runs tbody');
  tb.replaceChildren(...runs.map((r) => el('tr', { 'data-run': r.id },
    el('td', {}, el('a', { href: '/run/' + encodeURIComponent(r.id) }, r.id)),
    el('td', { class: 'status-' + r.status }, r.status), el('td', {}, r.method || ''), el('td', {}, r.model || ''),
    el('td', {}, r.steps), el('td', {}, fmt(r.lastLoss)), el('td', {}, fmt(r.bestValLoss)), el('td', { class: 'muted' }, r.updated.replace('T', ' ').slice(0, 19)),
    el('td', {}, ...(r.has.generations ? [el('a', { href: '/review/' + encodeURIComponent(r.id) }, 'review')] : []),
      ...(r.has.report ? [' ', el('a', { href: '/files/' + encodeURIComponent(r.id) + '/report.html' }, 'report')] : []),
      ...(r.has.model ? [' ', el('a', { href: '/try/' + encodeURIComponent(r.id) }, 'try')] : [])))));
  if (!runs.length) tb.append(el('tr', {}, el('td', { colspan: 9, class: 'muted' }, 'No runs yet: train one with fintune finetune --out runs/NAME …')));
}
refresh(); setInterval(refresh, 5000);`,
  );
}

export function runPage(token: string, id: string): string {
  const idJson = JSON.stringify(id).replace(/</g, '\\u003c');
  return layout(
    token,
    id,
    `<h2 id="title"></h2><p id="info" class="muted"></p><div class="charts" id="charts"></div>
     <div id="forecasts"></div><div id="backtest"></div>`,
    `const RUN = ${idJson};
document.getElementById('title').textContent = RUN;
const charts = document.getElementById('charts');
const loss = lineChart(charts, 'Loss', [{ label: 'train', key: 'loss' }, { label: 'validation', key: 'valLoss' }]);
const lr = lineChart(charts, 'Learning rate', [{ label: 'lr', key: 'lr' }]);
const speed = lineChart(charts, 'Tokens/s', [{ label: 'tokens/s', key: 'tokensPerSec' }]);
const rss = lineChart(charts, 'RSS (MiB)', [{ label: 'RSS', key: 'rssMB' }]);
let rows = [];
function draw() {
  const steps = rows.filter((r) => typeof r.step === 'number' && !r.event);
  loss(steps); lr(steps); speed(steps); rss(steps);
  const last = steps[steps.length - 1];
  document.getElementById('info').textContent = last ? 'step ' + last.step + ' · loss ' + fmt(last.loss) + (rows.some((r) => r.event === 'non_finite') ? ' · stopped: non-finite loss' : '') : 'no metrics yet';
}
(async () => {
  const m = await api('/api/runs/' + encodeURIComponent(RUN) + '/metrics');
  rows = m.rows; draw();
  const es = new EventSource('/api/runs/' + encodeURIComponent(RUN) + '/events?from=' + m.nextByte);
  es.onmessage = (ev) => { rows = rows.concat(JSON.parse(ev.data)); draw(); };
  const f = await api('/api/runs/' + encodeURIComponent(RUN) + '/forecasts');
  if (f.rows.length) {
    const box = document.getElementById('forecasts');
    box.append(el('h3', {}, 'Predicted vs true (first test windows)'));
    const grid = el('div', { class: 'charts' }); box.append(grid);
    for (const r of f.rows.slice(0, 4)) {
      const ctx = r.context || [], tru = r.true || [], pred = r.predicted || [];
      const n = ctx.length + tru.length;
      const data = Array.from({ length: n }, (_, i) => ({ known: i < ctx.length ? ctx[i] : null, truth: i >= ctx.length - 1 ? (i < ctx.length ? ctx[i] : tru[i - ctx.length]) : null, predicted: i >= ctx.length ? (pred[i - ctx.length] ?? null) : i === ctx.length - 1 ? ctx[i] : null }));
      lineChart(grid, (r.instrument || '') + ' ' + (r.t0 || '') + (r.parse_ok ? '' : ' (parse failure)'), [{ label: 'known', key: 'known' }, { label: 'true', key: 'truth' }, { label: 'predicted', key: 'predicted' }], { x: 'bar' })(data);
    }
  }
  const b = await api('/api/runs/' + encodeURIComponent(RUN) + '/backtest');
  const eq = b.backtest && (b.backtest.equity || (b.backtest.result && b.backtest.result.equity));
  if (Array.isArray(eq) && eq.length) {
    const box = document.getElementById('backtest');
    box.append(el('h3', {}, 'Back-test equity'));
    lineChart(box, 'Equity', [{ label: 'equity', key: 'v' }], { x: 'bar' })(eq.map((p) => ({ v: typeof p === 'number' ? p : p.equity ?? p.value })));
  }
})().catch((e) => document.getElementById('info').textContent = 'error: ' + e.message);`,
  );
}

export function comparePage(token: string): string {
  return layout(
    token,
    'Compare',
    `<h2>Compare runs</h2><p class="muted">Pick runs to overlay their validation and training loss.</p>
     <div id="pick" class="card"></div><div class="charts" id="charts"></div>`,
    `(async () => {
  const { runs } = await api('/api/runs');
  const pick = document.getElementById('pick');
  const boxes = runs.map((r) => { const c = el('input', { type: 'checkbox', value: r.id }); pick.append(el('label', {}, c, ' ' + r.id + '  ')); return c; });
  const btn = el('button', { class: 'primary' }, 'Compare'); pick.append(btn);
  btn.onclick = async () => {
    const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
    const charts = document.getElementById('charts'); charts.replaceChildren();
    const all = await Promise.all(chosen.map((id) => api('/api/runs/' + encodeURIComponent(id) + '/metrics')));
    for (const [key, title] of [['valLoss', 'Validation loss'], ['loss', 'Training loss']]) {
      const steps = [...new Set(all.flatMap((m) => m.rows.filter((r) => typeof r[key] === 'number').map((r) => r.step)))].sort((a, b) => a - b);
      const merged = steps.map((s) => Object.fromEntries([['step', s], ...chosen.map((id, i) => [id, (all[i].rows.find((r) => r.step === s && typeof r[key] === 'number') || {})[key]])]));
      lineChart(charts, title, chosen.map((id) => ({ label: id, key: id })))(merged);
    }
  };
})();`,
  );
}

export function reviewPage(token: string, id: string): string {
  const idJson = JSON.stringify(id).replace(/</g, '\\u003c');
  return layout(
    token,
    'Review ' + id,
    `<h2>Review generations</h2><p class="muted">Rate each analysis 1–5, correct it if needed, and accept or reject it.
     Saved to reviews.jsonl in the run folder; <code>fintune data from-reviews</code> turns accepted ones into a new fine-tuning set.</p>
     <div id="list"></div>`,
    `const RUN = ${idJson};
(async () => {
  const { generations, reviews } = await api('/api/runs/' + encodeURIComponent(RUN) + '/generations');
  const byId = Object.fromEntries(reviews.map((r) => [r.generation_id, r]));
  const list = document.getElementById('list');
  if (!generations.length) list.append(el('p', { class: 'muted' }, 'This run has no generations.'));
  for (const g of generations) {
    const prev = byId[g.id];
    const rating = el('select', { name: 'rating' }, ...[1, 2, 3, 4, 5].map((n) => el('option', { value: n }, n)));
    rating.value = String(prev ? prev.rating : 3);
    const corrected = el('textarea', { name: 'corrected' }); corrected.value = prev && prev.corrected != null ? prev.corrected : g.output;
    const status = el('span', { class: prev ? 'saved' : 'muted' }, prev ? 'saved: ' + prev.decision : 'not reviewed');
    const save = (decision) => async () => {
      try {
        const text = corrected.value === g.output ? null : corrected.value;
        await api('/api/runs/' + encodeURIComponent(RUN) + '/reviews', { generation_id: g.id, rating: Number(rating.value), corrected: text, decision });
        status.className = 'saved'; status.textContent = 'saved: ' + decision;
      } catch (e) { status.className = 'error'; status.textContent = e.message; }
    };
    const acc = el('button', { class: 'primary', 'data-action': 'accept' }, 'Accept'); acc.onclick = save('accept');
    const rej = el('button', { 'data-action': 'reject' }, 'Reject'); rej.onclick = save('reject');
    list.append(el('div', { class: 'card', 'data-generation': g.id },
      el('div', { class: 'muted' }, g.id + (g.parse_ok ? '' : ' · did not parse')),
      el('details', {}, el('summary', {}, 'Prompt'), el('pre', {}, g.prompt)),
      el('div', {}, 'Output (edit to correct):'), corrected,
      el('div', {}, 'Rating ', rating, ' ', acc, ' ', rej, ' ', status)));
  }
})();`,
  );
}

export function tryPage(token: string, id: string): string {
  const idJson = JSON.stringify(id).replace(/</g, '\\u003c');
  return layout(
    token,
    'Try ' + id,
    `<h2 id="title"></h2><div class="card"><textarea id="prompt" placeholder="Prompt"></textarea>
     <div>Max new tokens <input id="n" type="number" value="64" min="1" max="1024"> <button class="primary" id="go">Generate</button></div>
     <pre id="out"></pre></div>`,
    `const RUN = ${idJson};
document.getElementById('title').textContent = 'Try ' + RUN;
document.getElementById('go').onclick = async () => {
  const out = document.getElementById('out'); out.textContent = '…';
  try { out.textContent = (await api('/api/runs/' + encodeURIComponent(RUN) + '/generate', { prompt: document.getElementById('prompt').value, maxNewTokens: Number(document.getElementById('n').value) })).output; }
  catch (e) { out.textContent = 'error: ' + e.message; }
};`,
  );
}
