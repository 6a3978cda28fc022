/**
 * The report's charts: each is a Vega-Lite spec over rows derived from the study results object, rendered to SVG
 * headless by Vega (no browser, no canvas, no network). The rows are kept next to the SVG so a test can check
 * that the chart shows exactly the numbers the tables print.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { MethodSummary, StudyResults } from './results.js';

export type Row = Record<string, string | number | boolean | null>;

export interface Chart {
  id: string;
  title: string;
  /** What the chart shows, in one or two sentences (printed under it). */
  caption: string;
  rows: Row[];
  spec: TopLevelSpec;
  svg?: string;
}

export interface ChartOptions {
  /** Log scale for the cost bars (training time, memory, latency). */
  logCost?: boolean;
}

const WIDTH = 520;

/** Seconds, MB and ms of every method: the cost bars and the methods table read these same rows. */
export function costRows(r: StudyResults): Row[] {
  const rows: Row[] = [];
  const metrics: Array<[string, string]> = [
    ['trainSeconds', 'training time (s)'],
    ['peakRssMB', 'peak RSS (MB)'],
    ['latencyMsUnmerged', 'latency per forecast (ms)'],
  ];
  for (const m of r.methods) {
    for (const [field, label] of metrics) {
      const s = m.stats[field];
      if (s?.mean === null || s?.mean === undefined) continue;
      rows.push({ method: m.key, metric: label, field, value: s.mean, sd: s.sd ?? 0 });
    }
  }
  return rows;
}

/** Skill (mean over seeds, widest interval) against each cost, with the Pareto front per cost. */
export function skillCostRows(r: StudyResults): Row[] {
  const costs: Array<[string, string, (m: MethodSummary) => number | null]> = [
    ['trainablePct', 'trainable parameters (%)', (m) => m.trainablePct],
    ['trainSeconds', 'training time (s)', (m) => m.stats.trainSeconds?.mean ?? null],
    ['peakRssMB', 'peak RSS (MB)', (m) => m.stats.peakRssMB?.mean ?? null],
  ];
  const rows: Row[] = [];
  for (const [field, label, get] of costs) {
    const pts = r.methods
      .map((m) => ({ m, x: get(m), y: m.stats.skill?.mean ?? null }))
      .filter((p): p is { m: MethodSummary; x: number; y: number } => p.x !== null && p.y !== null && p.x > 0);
    for (const p of pts) {
      // On the front: no other method is at least as cheap and at least as skilful, and strictly better in one.
      const dominated = pts.some((q) => q !== p && q.x <= p.x && q.y >= p.y && (q.x < p.x || q.y > p.y));
      rows.push({
        method: p.m.key,
        cost: label,
        field,
        x: p.x,
        skill: p.y,
        lower: p.m.skillInterval?.lower ?? p.y,
        upper: p.m.skillInterval?.upper ?? p.y,
        pareto: !dominated,
      });
    }
  }
  return rows;
}

export function lossRows(r: StudyResults): Row[] {
  const rows: Row[] = [];
  for (const c of r.curves) {
    for (const p of c.train) rows.push({ method: c.key, seed: c.seed, split: 'train', step: p.step, loss: p.loss });
    for (const p of c.val) rows.push({ method: c.key, seed: c.seed, split: 'validation', step: p.step, loss: p.loss });
  }
  return rows;
}

/**
 * A forecast far outside the window's prices (an untrained model writing 99.9999 for EURUSD) would flatten
 * the true path into a line; values beyond the known-and-true range widened by twice its width are drawn at
 * that edge and flagged `clipped` (the tables keep the real errors).
 */
export function pathRows(r: StudyResults): Row[] {
  const rows: Row[] = [];
  r.paths.forEach((p, i) => {
    const win = `window ${i + 1} (${p.t0.slice(0, 10)})`;
    const n = p.context.length;
    const seen = [...p.context, ...p.true];
    const lo0 = Math.min(...seen);
    const hi0 = Math.max(...seen);
    const pad = 2 * Math.max(hi0 - lo0, 1e-9 * Math.abs(hi0));
    const clip = (v: number): { value: number; clipped: boolean } =>
      v < lo0 - pad ? { value: lo0 - pad, clipped: true } : v > hi0 + pad ? { value: hi0 + pad, clipped: true } : { value: v, clipped: false };
    p.context.forEach((v, k) => rows.push({ window: win, series: 'known', step: k - n + 1, value: v }));
    // The true path starts at the last known value so the lines join up.
    const last = p.context[n - 1]!;
    rows.push({ window: win, series: 'true', step: 0, value: last });
    p.true.forEach((v, h) => rows.push({ window: win, series: 'true', step: h + 1, value: v }));
    for (const [m, pred] of Object.entries(p.predicted)) {
      if (!pred.length) continue;
      rows.push({ window: win, series: m, step: 0, value: last });
      pred.forEach((v, h) => rows.push({ window: win, series: m, step: h + 1, ...clip(v) }));
    }
  });
  return rows;
}

/** RMSE by horizon step: each method averaged over its seeds, and the baselines. */
export function horizonRows(r: StudyResults): Row[] {
  const rows: Row[] = [];
  const ev = r.evaluation;
  if (!ev) return rows;
  for (const m of r.methods) {
    const per = m.seeds.map((s) => ev.methods.find((x) => x.method === `${m.key}@${s}`)?.per_horizon.rmse).filter((x): x is number[] => !!x);
    if (!per.length) continue;
    per[0]!.forEach((_, h) => rows.push({ method: m.key, kind: 'model', h: h + 1, rmse: per.reduce((a, p) => a + p[h]!, 0) / per.length }));
  }
  for (const b of r.baselines) b.per_horizon.rmse.forEach((v, h) => rows.push({ method: b.method, kind: 'baseline', h: h + 1, rmse: v }));
  return rows;
}

export function returnRows(r: StudyResults): Row[] {
  return (r.data?.returnHistogram ?? []).map((b) => ({ from: b.from, to: b.to, count: b.count }));
}

export function equityRows(r: StudyResults): Row[] {
  const rows: Row[] = [];
  for (const m of r.backtest?.methods ?? []) for (const p of m.equity) rows.push({ method: m.key, t: p.t, equity: p.equity });
  return rows;
}

export function buildCharts(r: StudyResults, o: ChartOptions = {}): Chart[] {
  const charts: Chart[] = [];
  const loss = lossRows(r);
  if (loss.length) {
    charts.push({
      id: 'loss',
      title: 'Loss curves',
      caption: 'Training loss per step (solid) and validation loss at each evaluation (dashed), one line per method and seed.',
      rows: loss,
      spec: {
        width: WIDTH,
        height: 260,
        data: { values: loss },
        mark: { type: 'line', point: false },
        encoding: {
          x: { field: 'step', type: 'quantitative', title: 'step' },
          y: { field: 'loss', type: 'quantitative', title: 'loss (nats/token)', scale: { zero: false } },
          color: { field: 'method', type: 'nominal' },
          strokeDash: { field: 'split', type: 'nominal' },
          detail: { field: 'seed', type: 'nominal' },
        },
      },
    });
  }
  const paths = pathRows(r);
  if (paths.length) {
    charts.push({
      id: 'paths',
      title: 'Predicted vs true paths',
      caption:
        'A few test windows (first seed): the known part (steps ≤ 0), the true continuation and each method’s forecast, in price units. ' +
        'Forecasts far outside the window’s range are drawn at the plot’s edge (hollow points).',
      rows: paths,
      spec: {
        data: { values: paths },
        facet: { column: { field: 'window', type: 'nominal', title: null } },
        spec: {
          width: 220,
          height: 200,
          layer: [
            {
              mark: { type: 'line' },
              encoding: {
                x: { field: 'step', type: 'quantitative', title: 'bar (0 = last known)' },
                y: { field: 'value', type: 'quantitative', title: 'close', scale: { zero: false } },
                color: { field: 'series', type: 'nominal' },
              },
            },
            {
              mark: { type: 'point', size: 30 },
              encoding: {
                x: { field: 'step', type: 'quantitative' },
                y: { field: 'value', type: 'quantitative' },
                color: { field: 'series', type: 'nominal' },
                fill: { condition: { test: 'datum.clipped', value: 'white' }, field: 'series', type: 'nominal' },
              },
            },
          ],
        },
        resolve: { scale: { y: 'independent' } },
      },
    });
  }
  const cost = costRows(r);
  if (cost.length) {
    charts.push({
      id: 'cost',
      title: 'Training time, peak memory and latency',
      caption: `Mean over seeds${o.logCost ? ' (log scale)' : ''}. Peak RSS is the child process's own maximum resident set size.`,
      rows: cost,
      spec: {
        data: { values: cost },
        facet: { column: { field: 'metric', type: 'nominal', title: null } },
        spec: {
          width: 160,
          height: 200,
          mark: 'bar',
          encoding: {
            x: { field: 'method', type: 'nominal', title: null },
            y: { field: 'value', type: 'quantitative', title: null, scale: o.logCost ? { type: 'log' } : {} },
            color: { field: 'method', type: 'nominal', legend: null },
          },
        },
        resolve: { scale: { y: 'independent' } },
      },
    });
  }
  const sc = skillCostRows(r);
  if (sc.length) {
    charts.push({
      id: 'skill-cost',
      title: 'Accuracy versus cost',
      caption:
        'Skill score against persistence (1 − MSE/MSE of persistence; above 0 beats it) with the widest 95% bootstrap interval over seeds, ' +
        'against trainable %, training time and peak RSS (log x). Filled points are on the Pareto front.',
      rows: sc,
      spec: {
        data: { values: sc },
        facet: { column: { field: 'cost', type: 'nominal', title: null } },
        spec: {
          width: 200,
          height: 220,
          layer: [
            { mark: { type: 'rule', color: '#999', strokeDash: [4, 4] }, encoding: { y: { datum: 0 } } },
            {
              mark: 'rule',
              encoding: {
                x: { field: 'x', type: 'quantitative', scale: { type: 'log' }, title: null },
                y: { field: 'lower', type: 'quantitative', title: 'skill vs persistence' },
                y2: { field: 'upper' },
                color: { field: 'method', type: 'nominal' },
              },
            },
            {
              mark: { type: 'point', size: 80 },
              encoding: {
                x: { field: 'x', type: 'quantitative', scale: { type: 'log' } },
                y: { field: 'skill', type: 'quantitative' },
                color: { field: 'method', type: 'nominal' },
                fill: { condition: { test: 'datum.pareto', field: 'method', type: 'nominal' }, value: 'white' },
                shape: { field: 'pareto', type: 'nominal', title: 'on the Pareto front', legend: { symbolStrokeColor: '#444', symbolFillColor: '#444' } },
              },
            },
          ],
        },
        resolve: { scale: { x: 'independent' } },
      },
    });
  }
  const hz = horizonRows(r);
  if (hz.length) {
    charts.push({
      id: 'horizon',
      title: 'Error by horizon step',
      caption: 'RMSE at each step ahead (methods averaged over seeds; baselines dashed).',
      rows: hz,
      spec: {
        width: WIDTH,
        height: 240,
        data: { values: hz },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'h', type: 'ordinal', title: 'steps ahead' },
          y: { field: 'rmse', type: 'quantitative', title: 'RMSE (price units)', scale: { zero: false } },
          color: { field: 'method', type: 'nominal' },
          strokeDash: { field: 'kind', type: 'nominal' },
        },
      },
    });
  }
  const ret = returnRows(r);
  if (ret.length) {
    charts.push({
      id: 'returns',
      title: 'Return distribution',
      caption: 'Close-to-close returns of the studied span, in percent (0.5–99.5 % range; tails clamped into the end bins).',
      rows: ret,
      spec: {
        width: WIDTH,
        height: 180,
        data: { values: ret },
        mark: 'bar',
        encoding: {
          x: { field: 'from', type: 'quantitative', bin: { binned: true }, title: 'return (%)' },
          x2: { field: 'to' },
          y: { field: 'count', type: 'quantitative', title: 'bars' },
        },
      },
    });
  }
  const eq = equityRows(r);
  if (eq.length) {
    charts.push({
      id: 'equity',
      title: 'Back-test equity curves',
      caption: 'Equity after costs per method, from the back-test results attached to the study.',
      rows: eq,
      spec: {
        width: WIDTH,
        height: 240,
        data: { values: eq },
        mark: 'line',
        encoding: {
          x: { field: 't', type: 'temporal', title: null },
          y: { field: 'equity', type: 'quantitative', scale: { zero: false } },
          color: { field: 'method', type: 'nominal' },
        },
      },
    });
  }
  return charts;
}

/** Renders a chart to standalone SVG text (no fonts, images or scripts fetched). */
export async function renderSvg(chart: Chart): Promise<string> {
  const spec = { ...chart.spec, config: { font: 'sans-serif', ...(chart.spec as { config?: object }).config } } as TopLevelSpec;
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
