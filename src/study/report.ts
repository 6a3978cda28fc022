/**
 * `fintune report`: report.md and a self-contained report.html from one study results JSON. Every number and
 * every chart is computed here from that file and nothing else, so the report can be regenerated (and checked)
 * at any time; the HTML inlines its SVG charts and CSS and references nothing outside itself.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { buildCharts, renderSvg, type Chart, type ChartOptions, type Row } from './charts.js';
import { STUDY_RESULTS_SCHEMA, type StudyResults } from './results.js';

/** What each method costs at inference and how it serves several tasks (the methods tutorial's last columns). */
const METHOD_TRAITS: Record<string, { overhead: string; multiTask: string }> = {
  full: { overhead: 'none', multiTask: 'a full copy of the model per task' },
  'mql5-stacked': { overhead: 'none', multiTask: 'a full copy of the model per task' },
  bitfit: { overhead: 'none (same structure)', multiTask: 'swap the bias vectors per task' },
  layernorm: { overhead: 'none (same structure)', multiTask: 'swap the norm parameters per task' },
  lora: { overhead: 'none once merged; two small matmuls per layer unmerged', multiTask: 'one small adapter per task on a shared base' },
  dora: { overhead: 'none once merged; a norm per layer unmerged', multiTask: 'one small adapter per task on a shared base' },
  rslora: { overhead: 'none once merged', multiTask: 'one small adapter per task on a shared base' },
  qlora: { overhead: 'dequantization of the 4-bit base', multiTask: 'one adapter per task on a shared 4-bit base' },
  ia3: { overhead: 'none once merged', multiTask: 'tiny scaling vectors per task' },
  prefix: { overhead: 'extra key/value positions on every forecast', multiTask: 'one prefix per task; tasks can share a batch' },
  prompt: { overhead: 'extra virtual tokens on every forecast', multiTask: 'one soft prompt per task; tasks can share a batch' },
  houlsby: { overhead: 'two extra adapter layers per block, always', multiTask: 'one adapter set per task' },
  pfeiffer: { overhead: 'one extra adapter layer per block, always', multiTask: 'one adapter set per task; stackable' },
  parallel: { overhead: 'a parallel adapter per block, always', multiTask: 'one adapter set per task' },
};

export interface ReportOptions extends ChartOptions {
  /** Back-test results to attach (src/backtest/ output), if any. */
  backtestFile?: string;
}

export interface RenderedReport {
  markdown: string;
  html: string;
  charts: Chart[];
  /** The methods table as data: what both the table and the charts print. */
  table: Array<Record<string, string | number | null>>;
}

export function readResults(file: string): StudyResults {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
  let r: StudyResults;
  try {
    r = JSON.parse(fs.readFileSync(file, 'utf8')) as StudyResults;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (r.schema !== STUDY_RESULTS_SCHEMA) throw new Error(`${file}: expected schema ${STUDY_RESULTS_SCHEMA}, got ${JSON.stringify(r.schema)}`);
  return r;
}

/** Fixed significant digits that stay readable for losses, seconds and skill scores alike. */
export function fmt(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-3) return x.toExponential(digits - 1);
  return x.toPrecision(digits).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}

export function methodsTable(r: StudyResults): RenderedReport['table'] {
  return r.methods.map((m) => {
    const traits = METHOD_TRAITS[m.methodKind] ?? { overhead: 'see the method', multiTask: 'see the method' };
    const un = m.stats.latencyMsUnmerged?.mean ?? null;
    const me = m.stats.latencyMsMerged?.mean ?? null;
    return {
      method: m.key,
      lr: m.lr,
      trainablePct: m.trainablePct,
      trainable: m.trainable,
      skill: m.stats.skill?.mean ?? null,
      skillSd: m.stats.skill?.sd ?? null,
      skillLower: m.skillInterval?.lower ?? null,
      skillUpper: m.skillInterval?.upper ?? null,
      rmse: m.stats.rmse?.mean ?? null,
      mase: m.stats.mase?.mean ?? null,
      direction_accuracy: m.stats.direction_accuracy?.mean ?? null,
      nrmse_mql5: m.stats.nrmse_mql5?.mean ?? null,
      valLoss: m.stats.valLoss?.mean ?? null,
      trainSeconds: m.stats.trainSeconds?.mean ?? null,
      tokensPerSec: m.stats.tokensPerSec?.mean ?? null,
      peakRssMB: m.stats.peakRssMB?.mean ?? null,
      artefactMB: m.stats.artefactMB?.mean ?? null,
      latencyMsUnmerged: un,
      latencyMsMerged: me,
      overhead: traits.overhead,
      multiTask: traits.multiTask,
      forgettingDelta: m.stats.forgettingDelta?.mean ?? null,
      parseFailures: m.stats.parse_failure_share?.mean ?? null,
      beatsPersistence: m.beatsPersistence ? 'yes' : 'no',
    };
  });
}

/** The plain-language verdict, from the numbers. */
export function verdict(r: StudyResults): string[] {
  const out: string[] = [];
  if (r.protocol === 'mql5-leaky') {
    out.push('This study follows the MQL5 article’s protocol, in which test windows overlap training windows: its scores measure memorisation of the series, not forecasting, and must not be read as skill.');
  }
  if (r.methods.length === 0) {
    out.push('No run finished, so there is nothing to judge yet.');
    if (r.failures.length) out.push(`${r.failures.length} run(s) failed: ${r.failures.map((f) => `${f.id} (${f.error.split('\n').pop()})`).join('; ')}.`);
    return out;
  }
  const winners = r.methods.filter((m) => m.beatsPersistence);
  const best = [...r.methods].sort((a, b) => (b.stats.skill?.mean ?? -Infinity) - (a.stats.skill?.mean ?? -Infinity))[0]!;
  const n = r.evaluation?.n_windows ?? r.data?.testWindowsUsed ?? 0;
  if (winners.length === 0) {
    out.push(
      `Nothing beat persistence. On ${n} test windows no method forecast significantly better than simply repeating the last known close ` +
        `(Diebold–Mariano test, Holm-adjusted, required on every seed). The best mean skill score was ${fmt(best.stats.skill?.mean)} (${best.key}); ` +
        `${(best.stats.skill?.mean ?? 0) > 0 ? 'positive, but within what chance produces on this many windows' : 'below zero, i.e. worse than persistence'}.`,
    );
  } else {
    const cheapest = [...winners].sort((a, b) => (a.stats.trainSeconds?.mean ?? Infinity) - (b.stats.trainSeconds?.mean ?? Infinity))[0]!;
    out.push(
      `${winners.map((w) => w.key).join(', ')} beat persistence significantly on every seed (Diebold–Mariano, Holm-adjusted) on ${n} test windows. ` +
        `The cheapest of them to train was ${cheapest.key} (${fmt(cheapest.stats.trainSeconds?.mean)} s, ${fmt(cheapest.trainablePct)} % of parameters trained, skill ${fmt(cheapest.stats.skill?.mean)}).`,
    );
  }
  const bestBase = [...r.baselines].filter((b) => b.method !== 'persistence').sort((a, b) => (b.skill ?? -Infinity) - (a.skill ?? -Infinity))[0];
  if (bestBase) {
    const beatsBase = (best.stats.skill?.mean ?? -Infinity) > (bestBase.skill ?? -Infinity);
    out.push(
      `The best simple baseline after persistence was ${bestBase.method} (skill ${fmt(bestBase.skill)}); the best model ${beatsBase ? 'scored above' : 'did not reach'} it.`,
    );
  }
  const bt = r.backtest?.methods ?? [];
  const btModels = bt.filter((b) => r.methods.some((m) => m.key === b.key) && b.sharpe !== null);
  const bh = bt.find((b) => b.key === 'buy-and-hold');
  if (btModels.length) {
    const top = btModels.reduce((a, b) => (b.sharpe! > a.sharpe! ? b : a));
    out.push(
      `In the back-test after costs (first seed) the best method by Sharpe ratio was ${top.key} (${fmt(top.sharpe)} over ${top.trades ?? '?'} trade${top.trades === 1 ? '' : 's'}, total return ${fmt(top.totalReturn)})` +
        (bh && bh.sharpe !== null ? `; buy-and-hold had ${fmt(bh.sharpe)} on the same span.` : '.'),
    );
  }
  const fails = r.methods.filter((m) => (m.stats.parse_failure_share?.mean ?? 0) > 0);
  if (fails.length) out.push(`Some forecasts failed to parse (${fails.map((m) => `${m.key} ${fmt(100 * m.stats.parse_failure_share!.mean!)} %`).join(', ')}); they were scored as persistence.`);
  if (r.failures.length) out.push(`${r.failures.length} run(s) failed and are missing from the averages: ${r.failures.map((f) => f.id).join(', ')}.`);
  return out;
}

/** The multi-task case as table rows and one sentence from its numbers. */
export function multiTaskSection(r: StudyResults): { rows: string[][]; text: string } | null {
  const m = r.multiTask;
  if (!m) return null;
  const rows = m.rows.map((x) => [x.adapter, fmt(x.forecastValLoss), fmt(100 * x.sentimentAccuracy)]);
  const f = m.rows.find((x) => x.adapter === 'forecasting')!;
  const s = m.rows.find((x) => x.adapter === 'sentiment')!;
  const b = m.rows.find((x) => x.adapter === 'none (base)')!;
  const text =
    `Two ${m.method} adapters on one base, ${m.steps} updates each. The forecasting adapter brought validation loss on the price windows from ${fmt(b.forecastValLoss)} to ${fmt(f.forecastValLoss)} ` +
    `(with the sentiment adapter: ${fmt(s.forecastValLoss)}); the sentiment adapter scored ${fmt(100 * s.sentimentAccuracy)} % on ${m.sentimentEvalExamples} labelled tweets ` +
    `(forecasting adapter ${fmt(100 * f.sentimentAccuracy)} %, base ${fmt(100 * b.sentimentAccuracy)} %, always the majority class ${fmt(100 * m.sentimentMajority)} %). ` +
    `${s.sentimentAccuracy > m.sentimentMajority ? 'The sentiment adapter beats the majority class.' : 'The sentiment adapter does not beat always answering the majority class.'} ` +
    `Serving both: base plus two adapters ${fmt(m.sharedMB)} MB against ${fmt(m.twoCopiesMB)} MB for two fully fine-tuned copies.`;
  return { rows, text };
}

/** The leak paragraph for a study with a twin: computed from the two studies' numbers. */
export function twinParagraph(r: StudyResults): string | null {
  const t = r.twin;
  if (!t || t.rows.length === 0) return null;
  const parts: string[] = [];
  const keys = [...new Set(t.rows.map((x) => x.key))];
  let normaliserDominates = true;
  for (const k of keys) {
    const get = (metric: string) => t.rows.find((x) => x.key === k && x.metric === metric);
    const nr = get('nrmse_mql5');
    const sk = get('skill');
    const rm = get('rmse');
    if (!nr || nr.leaky === null || nr.honest === null) continue;
    const ratio = nr.honest / nr.leaky;
    let text =
      `${k}: the article’s NRMSE was ${fmt(nr.leaky)} with overlapping, shuffled windows and ${fmt(nr.honest)} on the honest twin ` +
      `(${ratio >= 1 ? `${fmt(ratio, 2)}× worse without the leak` : `${fmt(1 / ratio, 2)}× better without the leak — the leak did not help here`})`;
    if (rm && rm.leaky !== null && rm.honest !== null && rm.leaky > 0) {
      // NRMSE = RMSE / normaliser: split the change into the forecasts' own error and the normaliser's range.
      const rmseRatio = rm.honest / rm.leaky;
      const normRatio = ratio / rmseRatio;
      if (!(Math.abs(Math.log(normRatio)) > Math.abs(Math.log(rmseRatio)))) normaliserDominates = false;
      text +=
        `. Of that factor, the forecast error itself (RMSE ${fmt(rm.leaky)} → ${fmt(rm.honest)}) contributed ×${fmt(rmseRatio, 2)} and the normaliser ×${fmt(normRatio, 2)}` +
        (Math.abs(Math.log(normRatio)) > Math.abs(Math.log(rmseRatio))
          ? ': most of the difference comes from the metric, whose normaliser is the price range of the test windows — wide when test windows are scattered over the whole series, narrow for one contiguous test block'
          : ': most of the difference is in the forecasts themselves');
    }
    else normaliserDominates = false;
    if (sk && sk.leaky !== null && sk.honest !== null) text += `; skill against persistence went from ${fmt(sk.leaky)} to ${fmt(sk.honest)}`;
    parts.push(text + '.');
  }
  if (!parts.length) return null;
  const skills = t.rows.filter((x) => x.metric === 'skill');
  if (skills.length && skills.every((x) => x.leaky !== null && x.honest !== null && x.leaky < 0 && x.honest < 0)) {
    parts.push(
      'Under both protocols the forecasts were worse than persistence, so there was no skill for the leak to inflate' +
        (normaliserDominates ? '; the change in the article’s number comes from which windows are tested and how its metric is normalised' : '') +
        '. Whether memorising overlapping windows inflates the errors themselves needs a model that fits the series (the full-size config).',
    );
  }
  return (
    `How much the leak inflates the article’s kind of numbers, measured on the same data, model and budget (${t.name}, ${t.protocol} protocol as the twin): ` +
    parts.join(' ') +
    ' The article’s NRMSE also divides by the range between the highest true value and the lowest predicted one, so a forecast that wanders makes its own score look smaller; the standard metrics and the persistence baseline are the fair comparison.'
  );
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const TABLE_COLUMNS: Array<[string, string]> = [
  ['method', 'method'],
  ['lr', 'lr'],
  ['trainablePct', 'trainable %'],
  ['skill', 'skill (mean)'],
  ['skillSd', 'sd'],
  ['skillLower', 'interval low'],
  ['skillUpper', 'interval high'],
  ['rmse', 'RMSE'],
  ['mase', 'MASE'],
  ['direction_accuracy', 'direction acc.'],
  ['nrmse_mql5', 'NRMSE (MQL5)'],
  ['valLoss', 'val. loss'],
  ['trainSeconds', 'train s'],
  ['tokensPerSec', 'tokens/s'],
  ['peakRssMB', 'peak RSS MB'],
  ['artefactMB', 'artefact MB'],
  ['latencyMsUnmerged', 'ms/forecast unmerged'],
  ['latencyMsMerged', 'ms/forecast merged'],
  ['overhead', 'inference overhead'],
  ['multiTask', 'multi-task fit'],
  ['forgettingDelta', 'forgetting Δloss'],
  ['beatsPersistence', 'beats persistence'],
];

function cellText(v: string | number | null | undefined, key: string): string {
  if (typeof v === 'number') return key === 'lr' ? v.toExponential(1) : fmt(v);
  return v ?? '–';
}

function envLines(r: StudyResults): Array<[string, string]> {
  const e = r.environment;
  return [
    ['CPU', `${e.cpu} (${e.cores} logical cores)`],
    ['SIMD path / backend', `${e.simd ?? '–'} / ${e.backend ?? '–'}`],
    ['threads', String(e.threads ?? '–')],
    ['RAM', `${fmt(e.ramGB)} GiB`],
    ['OS', e.os],
    ['versions', `fintune ${e.fintune}${e.commit ? ` (commit ${e.commit.slice(0, 12)})` : ''}, Node ${e.node}`],
  ];
}

function dataLines(r: StudyResults): Array<[string, string]> {
  const d = r.data;
  if (!d) return [['data', 'not available (the data file could not be read when the results were aggregated)']];
  const lines: Array<[string, string]> = [
    ['file', `${path.basename(d.file)} (${d.instrument})`],
    ['span', `${d.first} .. ${d.last}, ${d.rows} bars`],
    ['protocol', d.protocol === 'honest' ? 'chronological train / validation / test, non-overlapping test windows' : 'MQL5 article: overlapping windows shuffled before an 80/10/10 split (leaky)'],
    ['window', `${d.window.known} known → ${d.window.horizon} predicted, scaling ${d.window.scaling}, ${d.window.precision} decimals`],
    ...d.parts.map((p): [string, string] => [`${p.name} part`, `${p.first} .. ${p.last}: ${p.windows} windows (stride ${p.stride})`]),
    ['test windows forecast', String(d.testWindowsUsed)],
    ['bad rows', d.badRows ? `${d.badRows} skipped (${d.badRowExamples.join('; ')})` : '0'],
    ['label balance', d.testUpShare === null ? '–' : `${fmt(100 * d.testUpShare)} % of test windows end above their last known close`],
  ];
  if (d.returns) {
    const q = d.returns.quantiles;
    lines.push(['returns (%)', `mean ${fmt(d.returns.mean)}, sd ${fmt(d.returns.std)}, 1 % ${fmt(q.p01)}, median ${fmt(q.p50)}, 99 % ${fmt(q.p99)}; up ${d.returns.up} / down ${d.returns.down} / flat ${d.returns.flat}`]);
  }
  return lines;
}

export async function renderReport(r: StudyResults, o: ReportOptions = {}): Promise<RenderedReport> {
  const charts = buildCharts(r, o);
  for (const c of charts) c.svg = await renderSvg(c);
  const table = methodsTable(r);
  const verdictLines = verdict(r);
  const twin = twinParagraph(r);
  const title = `Study report: ${r.name}`;

  // ---- Markdown
  const md: string[] = [`# ${title}`, ''];
  if (r.description) md.push(r.description, '');
  md.push(`Generated from results.json (${r.schema}) of ${r.createdAt}. Seeds: ${r.settings.seeds.join(', ')}. Budget: ${JSON.stringify(r.settings.budget)}.`, '');
  md.push('## Environment', '', '| | |', '| --- | --- |', ...envLines(r).map(([k, v]) => `| ${k} | ${v} |`), '');
  md.push('## Data', '', '| | |', '| --- | --- |', ...dataLines(r).map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`), '');
  md.push('## Methods', '', `| ${TABLE_COLUMNS.map(([, h]) => h).join(' | ')} |`, `| ${TABLE_COLUMNS.map(() => '---').join(' | ')} |`);
  for (const row of table) md.push(`| ${TABLE_COLUMNS.map(([k]) => cellText(row[k], k)).join(' | ')} |`);
  md.push('', 'Values are means over seeds (± sample sd where shown); per-seed values are in results.json. Skill = 1 − MSE / MSE(persistence).', '');
  if (r.baselines.length) {
    md.push('### Baselines on the same windows', '', '| baseline | skill | RMSE | MASE | direction acc. |', '| --- | --- | --- | --- | --- |');
    for (const b of r.baselines) md.push(`| ${b.method} | ${fmt(b.skill)} | ${fmt(b.metrics.rmse)} | ${fmt(b.metrics.mase)} | ${fmt(b.metrics.direction.accuracy)} |`);
    md.push('');
  }
  if (r.sweeps.length) {
    md.push('### Learning-rate sweeps (validation loss, first seed; test never used)', '');
    for (const s of r.sweeps) md.push(`- ${s.model}/${s.method}: ${s.tried.map((t) => `${t.lr} → ${fmt(t.valLoss)}`).join(', ')}; chosen ${s.chosen}`);
    md.push('');
  }
  if (r.backtest?.methods.length) {
    md.push('## Back-test', '', '| method | Sharpe | total return | max drawdown | trades |', '| --- | --- | --- | --- | --- |');
    for (const b of r.backtest.methods) md.push(`| ${b.key} | ${fmt(b.sharpe)} | ${fmt(b.totalReturn)} | ${fmt(b.maxDrawdown)} | ${b.trades ?? '–'} |`);
    md.push('', 'Each method’s first-seed test forecasts, traded at the next bar’s open after costs; buy-and-hold and momentum on the same span.', '');
    for (const n of r.backtest.notes ?? []) md.push(`- not back-tested: ${n}`);
    md.push('');
  }
  md.push('## Charts', '');
  for (const c of charts) md.push(`### ${c.title}`, '', `![${c.title}](charts/${c.id}.svg)`, '', c.caption, '');
  const mt = multiTaskSection(r);
  if (mt) {
    md.push('## Multi-task: one base, two adapters', '', '| adapter | forecasting val. loss | sentiment accuracy % |', '| --- | --- | --- |', ...mt.rows.map((x) => `| ${x.join(' | ')} |`), '', mt.text, '');
  }
  if (twin) md.push('## The leak, measured', '', twin, '');
  md.push('## Verdict', '', ...verdictLines.map((l) => `${l}\n`));
  const markdown = md.join('\n');

  // ---- HTML: one file, inline CSS and SVG, no scripts; the chart rows ride along as a JSON data block.
  const h: string[] = [];
  h.push('<!doctype html>', '<html lang="en"><head><meta charset="utf-8">', `<title>${escapeHtml(title)}</title>`);
  h.push(
    '<style>body{font:14px/1.45 system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}' +
      'table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}' +
      'td:first-child,th:first-child{text-align:left}figure{margin:1.5em 0}figcaption{color:#555;font-size:12px}.verdict{background:#f6f6f0;padding:1em;border-left:4px solid #887}</style>',
  );
  h.push('</head><body>', `<h1>${escapeHtml(title)}</h1>`);
  if (r.description) h.push(`<p>${escapeHtml(r.description)}</p>`);
  h.push(`<p>Generated from results.json (${escapeHtml(r.schema)}) of ${escapeHtml(r.createdAt)}. Seeds: ${r.settings.seeds.join(', ')}.</p>`);
  const kv = (title2: string, rows: Array<[string, string]>): void => {
    h.push(`<h2>${title2}</h2><table>`, ...rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td style="text-align:left">${escapeHtml(v)}</td></tr>`), '</table>');
  };
  kv('Environment', envLines(r));
  kv('Data', dataLines(r));
  h.push('<h2>Methods</h2><table id="methods-table"><tr>', ...TABLE_COLUMNS.map(([, hd]) => `<th>${escapeHtml(hd)}</th>`), '</tr>');
  for (const row of table) {
    h.push(
      `<tr data-method="${escapeHtml(String(row.method))}">` +
        TABLE_COLUMNS.map(([k]) => `<td data-field="${k}"${typeof row[k] === 'number' ? ` data-value="${row[k]}"` : ''}>${escapeHtml(cellText(row[k], k))}</td>`).join('') +
        '</tr>',
    );
  }
  h.push('</table>');
  if (r.baselines.length) {
    h.push('<h3>Baselines on the same windows</h3><table><tr><th>baseline</th><th>skill</th><th>RMSE</th><th>MASE</th><th>direction acc.</th></tr>');
    for (const b of r.baselines) h.push(`<tr><td>${escapeHtml(b.method)}</td><td>${fmt(b.skill)}</td><td>${fmt(b.metrics.rmse)}</td><td>${fmt(b.metrics.mase)}</td><td>${fmt(b.metrics.direction.accuracy)}</td></tr>`);
    h.push('</table>');
  }
  if (r.sweeps.length) {
    h.push('<h3>Learning-rate sweeps (validation loss, first seed; test never used)</h3><ul>');
    for (const s of r.sweeps) h.push(`<li>${escapeHtml(`${s.model}/${s.method}: ${s.tried.map((t) => `${t.lr} → ${fmt(t.valLoss)}`).join(', ')}; chosen ${s.chosen}`)}</li>`);
    h.push('</ul>');
  }
  if (r.backtest?.methods.length) {
    h.push('<h2>Back-test</h2><table><tr><th>method</th><th>Sharpe</th><th>total return</th><th>max drawdown</th><th>trades</th></tr>');
    for (const b of r.backtest.methods) h.push(`<tr><td>${escapeHtml(b.key)}</td><td>${fmt(b.sharpe)}</td><td>${fmt(b.totalReturn)}</td><td>${fmt(b.maxDrawdown)}</td><td>${b.trades ?? '–'}</td></tr>`);
    h.push('</table>');
  }
  for (const c of charts) h.push(`<figure id="chart-${c.id}"><h3>${escapeHtml(c.title)}</h3>${inlineSvg(c.svg!)}<figcaption>${escapeHtml(c.caption)}</figcaption></figure>`);
  if (mt) {
    h.push('<h2>Multi-task: one base, two adapters</h2><table><tr><th>adapter</th><th>forecasting val. loss</th><th>sentiment accuracy %</th></tr>');
    for (const x of mt.rows) h.push(`<tr>${x.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`);
    h.push('</table>', `<p>${escapeHtml(mt.text)}</p>`);
  }
  if (twin) h.push('<h2>The leak, measured</h2>', `<p>${escapeHtml(twin)}</p>`);
  h.push('<h2>Verdict</h2><div class="verdict">', ...verdictLines.map((l) => `<p>${escapeHtml(l)}</p>`), '</div>');
  const dataBlock: Record<string, Row[]> = Object.fromEntries(charts.map((c) => [c.id, c.rows]));
  h.push(`<script type="application/json" id="chart-data">${JSON.stringify(dataBlock).replace(/</g, '\\u003c')}</script>`);
  h.push('</body></html>');
  return { markdown, html: h.join('\n'), charts, table };
}

/**
 * SVG for inlining in HTML: the XML namespace declarations are dropped (HTML's parser puts <svg> in the SVG
 * namespace itself), so the page holds no URL of any kind.
 */
function inlineSvg(svg: string): string {
  return svg.replace(/\s+xmlns(:\w+)?="[^"]*"/g, '');
}

/** Writes report.md, report.html and charts/*.svg into `outDir`; returns the paths. */
export async function writeReport(r: StudyResults, outDir: string, o: ReportOptions = {}): Promise<{ markdown: string; html: string; rendered: RenderedReport }> {
  if (o.backtestFile) r = { ...r, backtest: readBacktest(o.backtestFile) };
  const rendered = await renderReport(r, o);
  fs.mkdirSync(path.join(outDir, 'charts'), { recursive: true });
  for (const c of rendered.charts) writeFileAtomic(path.join(outDir, 'charts', `${c.id}.svg`), c.svg!);
  const markdown = path.join(outDir, 'report.md');
  const html = path.join(outDir, 'report.html');
  writeFileAtomic(markdown, rendered.markdown);
  writeFileAtomic(html, rendered.html);
  return { markdown, html, rendered };
}

/**
 * Back-test results in the shape the report needs: {methods: [{key, sharpe, totalReturn, maxDrawdown, trades,
 * equity: [{t, equity}]}]}. src/backtest/ is being written; until its own results format is fixed this is the
 * contract, checked here so a wrong file fails clearly.
 */
export function readBacktest(file: string): StudyResults['backtest'] {
  const v = JSON.parse(fs.readFileSync(file, 'utf8')) as { methods?: unknown };
  if (!v || !Array.isArray(v.methods)) throw new Error(`${file}: expected {"methods": [{key, sharpe, totalReturn, maxDrawdown, trades, equity: [{t, equity}]}]}`);
  return v as StudyResults['backtest'];
}
