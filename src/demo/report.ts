/**
 * The demo's report: report.md and a self-contained report.html (no scripts, no network: it opens offline from
 * the file system) in the output folder.
 *
 * The body is the project's study report (src/study/report.ts: methods table, baselines, back-test, charts,
 * verdict) rendered from the demo's results put in the study-results shape (study_report.ts); the demo's own
 * sections (setup, training runs, FinGPT scores, time per stage, equity curves) follow it. If the study renderer
 * fails, the demo's own sections alone make the report, with the reason at the top: the demo must always end
 * with a report. `writeDemoReport` is the only function the pipeline calls.
 */
import fs from 'node:fs';
import path from 'node:path';
import { renderReport } from '../study/report.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { BacktestResult } from './backtest.js';
import type { DemoResult } from './run.js';
import { fmtSec, plainName, shortReason } from './run.js';
import { studyResultsOf, type DemoForecasts } from './study_report.js';

const num = (x: number | null | undefined, d = 3): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));

function tables(r: DemoResult): Array<{ title: string; head: string[]; rows: string[][]; note?: string }> {
  const out: Array<{ title: string; head: string[]; rows: string[][]; note?: string }> = [];
  const ev = r.evaluation;
  if (ev) {
    out.push({
      title: `Forecasts of ${ev.n_windows} non-overlapping ${r.data.heldOut} test windows (${ev.first_t0.slice(0, 10)} .. ${ev.last_t0.slice(0, 10)}), horizon ${ev.horizon}`,
      head: ['forecaster', 'kind', 'RMSE', 'MAE', 'skill vs persistence', 'direction acc.', 'DM p (Holm)', 'parse failures'],
      rows: ev.methods.map((m) => [plainName(m.method), m.kind, m.metrics.rmse.toPrecision(4), m.metrics.mae.toPrecision(4), num(m.skill), num(m.metrics.direction.accuracy), m.dm ? num(m.dm.p_holm) : '–', String(m.parse_failures)]),
      note: `Each model forecast is the element-wise median of ${r.data.forecastSamples} constrained samples (temperature 1, seed ${r.seed}). skill = 1 − MSE / MSE(persistence); positive is better than predicting no change. DM: Diebold–Mariano test against persistence (HLN-corrected, Holm-adjusted across forecasters).`,
    });
  }
  const runs = [{ name: 'pretrain (from scratch)', ok: true, steps: r.pretrain.steps, valLoss: r.pretrain.valLoss, trainable: r.pretrain.params, total: r.pretrain.params, trainSeconds: undefined as number | undefined, error: undefined as string | undefined }, ...r.runs];
  out.push({
    title: 'Training runs',
    head: ['run', 'status', 'steps', 'held-out loss', 'trainable / total parameters', 'train time'],
    rows: runs.map((x) => [x.name, x.ok ? 'ran' : `not run: ${shortReason(x.error)}`, String(x.steps ?? '–'), num(x.valLoss ?? null), x.trainable !== undefined ? `${x.trainable.toLocaleString('en-US')} / ${x.total!.toLocaleString('en-US')}` : '–', x.trainSeconds !== undefined ? fmtSec(x.trainSeconds) : '–']),
  });
  if (r.backtest.length) {
    out.push({
      title: 'Back-test with costs',
      head: ['forecaster', 'trades', 'hit rate', 'total return', 'costs', 'Sharpe (ann.)', 'max drawdown', 'exposure', 'Sharpe percentile among random signals'],
      rows: r.backtest.map((b: BacktestResult) => [
        b.key,
        String(b.trades),
        b.hitRate === null ? '–' : `${(100 * b.hitRate).toFixed(0)} %`,
        `${(100 * b.totalReturn).toFixed(2)} %`,
        `${(100 * b.costs).toFixed(2)} %`,
        num(b.sharpe, 2),
        `${(100 * b.maxDrawdown).toFixed(2)} %`,
        `${(100 * b.exposure).toFixed(0)} %`,
        b.chancePercentile === null ? '–' : `${b.chancePercentile.toFixed(0)}`,
      ]),
      note: `${r.backtest[0]?.rule}. Forecasts cover a sample of the test period, so the strategies are flat between windows while buy-and-hold is always invested: compare Sharpe ratios.`,
    });
  }
  if (r.fingpt) {
    const s = r.fingpt.scores;
    out.push({
      title: `FinGPT-style answers on StockNet dev weeks (${r.fingpt.method})`,
      head: ['answers', 'parsed', 'binary accuracy', 'MSE', 'ROUGE-1 analysis', 'ROUGE-L analysis'],
      rows: [[String(s.n), String(s.n - s.answer_parse_failures), num(s.binary_accuracy), num(s.mse), num(s.rouge?.analysis.rouge1), num(s.rouge?.analysis.rougeL)]],
      note: `${r.fingpt.note}. Generations: ${path.relative(r.out, r.fingpt.generations)} (the dashboard's review page).`,
    });
  }
  out.push({ title: 'Time per stage', head: ['stage', 'planned', 'spent'], rows: r.stages.map((s) => [s.stage, fmtSec(s.planned), fmtSec(s.spent)]) });
  return out;
}

function setupLines(r: DemoResult): string[] {
  const d = r.data;
  return [
    `Held-out instrument ${d.heldOut}; windows of ${d.window.known} known → ${d.window.horizon} predicted 4-hour closes, written in ${d.window.scaling} from the last known close with ${d.window.precision} decimals, one character per token.`,
    `Split in time: ${d.parts.map((p) => `${p.name} ${p.first.slice(0, 10)} .. ${p.last.slice(0, 10)} (${p.bars} bars)`).join(', ')}.`,
    `Pre-training corpus: ${d.pretrainCorpus.map((p) => `${p.instrument} ${p.first.slice(0, 10)} .. ${p.last.slice(0, 10)} (${p.windows} windows)`).join(', ')} — ends before ${d.heldOut}'s first validation bar (${d.firstValidation.slice(0, 16)}), checked by assertPretrainBeforeValidation.`,
    `Size "${r.size}", seed ${r.seed}; ${r.machine.cpus} CPUs (${r.machine.cpu}), backend ${r.machine.backend} with ${r.machine.threads} threads, load average at the end ${r.machine.loadavg[0]?.toFixed(1)}; fintune ${r.machine.fintune}, Node ${r.machine.node}.`,
  ];
}

export function demoMarkdown(r: DemoResult): string {
  const md: string[] = ['# fintune demo report', '', ...r.verdict.map((v) => `**${v}**`).join('\n\n').split('\n'), '', '## Setup', '', ...setupLines(r).map((l) => `- ${l}`), ''];
  for (const t of tables(r)) {
    md.push(`## ${t.title}`, '', `| ${t.head.join(' | ')} |`, `| ${t.head.map(() => '---').join(' | ')} |`);
    for (const row of t.rows) md.push(`| ${row.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
    if (t.note) md.push('', t.note);
    md.push('');
  }
  md.push('Every run folder beside this report\'s folder holds config.json, metrics.jsonl, forecasts.jsonl and backtest.json (fingpt-lora: generations.jsonl); `npx fintune serve --runs ' + r.out + '` shows them.', '');
  return md.join('\n');
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Cumulative net return of each back-tested forecaster as one inline SVG line chart. */
function equitySvg(bt: BacktestResult[]): string {
  const series = bt.filter((b) => b.equity.length > 1);
  if (!series.length) return '';
  const W = 720;
  const H = 260;
  const pad = 40;
  const ys = series.flatMap((b) => b.equity.map((e) => (e.equity - 1) * 1e4));
  const lo = Math.min(0, ...ys);
  const hi = Math.max(0, ...ys);
  const n = Math.max(...series.map((b) => b.equity.length));
  const x = (i: number): number => pad + ((W - 2 * pad) * i) / Math.max(1, n - 1);
  const y = (v: number): number => H - pad - ((H - 2 * pad) * (v - lo)) / Math.max(1e-9, hi - lo);
  const colours = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#7f7f7f'];
  const lines = series
    .map((b, k) => `<polyline fill="none" stroke="${colours[k % colours.length]}" stroke-width="1.5" points="${b.equity.map((e, i) => `${x(i).toFixed(1)},${y((e.equity - 1) * 1e4).toFixed(1)}`).join(' ')}"><title>${esc(b.key)}</title></polyline>`)
    .join('');
  const legend = series.map((b, k) => `<text x="${W - pad + 4}" y="${pad + 14 * k}" font-size="11" fill="${colours[k % colours.length]}">${esc(b.key)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W + 170}" height="${H}" role="img" aria-label="cumulative net return in bps"><line x1="${pad}" x2="${W - pad}" y1="${y(0)}" y2="${y(0)}" stroke="#999" stroke-dasharray="3 3"/>${lines}${legend}<text x="${pad}" y="${pad - 10}" font-size="11">equity − 1 in bps after costs (${hi.toFixed(0)} max, ${lo.toFixed(0)} min), bars of the test span in time order</text></svg>`;
}

export function demoHtml(r: DemoResult, o: { equityChart?: boolean } = {}): string {
  const parts: string[] = [];
  parts.push(`<h1>fintune demo report</h1>`, ...r.verdict.map((v) => `<p class="verdict">${esc(v)}</p>`), '<h2>Setup</h2><ul>', ...setupLines(r).map((l) => `<li>${esc(l)}</li>`), '</ul>');
  for (const t of tables(r)) {
    parts.push(`<h2>${esc(t.title)}</h2><table><thead><tr>${t.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>`);
    for (const row of t.rows) parts.push(`<tr>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`);
    parts.push('</tbody></table>');
    if (t.note) parts.push(`<p class="note">${esc(t.note)}</p>`);
    if (t.title === 'Back-test with costs' && o.equityChart !== false) parts.push(equitySvg(r.backtest));
  }
  parts.push(`<p class="note">Run folders: ${esc(r.out)}. Dashboard: <code>npx fintune serve --runs ${esc(r.out)}</code></p>`);
  const css = 'body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.verdict{font-weight:600}.note{color:#555;font-size:90%}';
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>fintune demo report</title><style>${css}</style></head><body>\n${parts.join('\n')}\n</body></html>\n`;
}

/**
 * Writes the report into `<out>/report/` (report.html, report.md, charts/, results.json): a folder of its own so
 * the dashboard lists it beside the runs (it shows any folder holding a report.html).
 */
export async function writeDemoReport(r: DemoResult, out: string, forecasts: DemoForecasts[] = [], closes: ArrayLike<number> = []): Promise<{ markdown: string; html: string; renderer: string }> {
  const dir = path.join(out, 'report');
  fs.mkdirSync(dir, { recursive: true });
  const markdown = path.join(dir, 'report.md');
  const html = path.join(dir, 'report.html');
  let md = demoMarkdown(r);
  let page = demoHtml(r);
  let renderer = 'demo';
  try {
    const study = studyResultsOf(r, forecasts, closes);
    fs.writeFileSync(path.join(dir, 'results.json'), JSON.stringify(study, null, 1) + '\n');
    const rendered = await renderReport(study);
    fs.mkdirSync(path.join(dir, 'charts'), { recursive: true });
    for (const c of rendered.charts) writeFileAtomic(path.join(dir, 'charts', `${c.id}.svg`), c.svg!);
    // The demo's own sections (title, verdict, setup, runs, FinGPT, stage times) lead; the study report of the
    // same runs follows. The study report draws the equity curves itself; the demo's chart is for the fallback.
    const own = demoHtml(r, { equityChart: false });
    const demoBody = own.slice(own.indexOf('<body>') + '<body>'.length, own.lastIndexOf('</body>'));
    const studyBody = rendered.html.slice(rendered.html.indexOf('<body>') + '<body>'.length, rendered.html.lastIndexOf('</body>'));
    page = rendered.html.slice(0, rendered.html.indexOf('<body>') + '<body>'.length) + demoBody + '<hr><h1>Study-style report of the same runs</h1>' + studyBody.replace(/<h1>[^<]*<\/h1>/, '') + '</body></html>\n';
    md = md + '\n---\n\n' + rendered.markdown.replace(/^# .*$/m, '# Study-style report of the same runs');
    renderer = 'study';
  } catch (err) {
    const why = `The study report renderer failed (${(err as Error).message.split('\n')[0]}); this report has the demo's own sections only.`;
    md = `> ${why}\n\n${md}`;
    page = page.replace('<body>\n', `<body>\n<p class="note">${esc(why)}</p>\n`);
  }
  writeFileAtomic(markdown, md);
  writeFileAtomic(html, page);
  return { markdown, html, renderer };
}
