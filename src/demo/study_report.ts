/**
 * The demo's results in the study report's shape (`fintune.study-results/1`, src/study/results.ts), so the
 * project's report generator (src/study/report.ts: methods table, charts, verdict) renders the demo exactly as
 * it renders a study. The demo has one seed and runs every method in one process, so: statistics are over one
 * seed (no spread), and peak RSS is the demo process's (read from each run's metrics.jsonl), not a per-method
 * measurement — the report's notes say so.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { returnSummary } from '../data/inspect.js';
import type { EvaluationResults } from '../eval/evaluate.js';
import type { ForecastRecord } from '../eval/schema.js';
import { getBackend } from '../tensor/backends.js';
import { meanSd, STAT_FIELDS, STUDY_RESULTS_SCHEMA, type LossCurve, type MethodSummary, type PathExample, type RunResult, type StudyResults } from '../study/results.js';
import { demoMethods } from './config.js';
import type { DemoResult } from './run.js';

/** A forecaster's forecasts and the folder they were written to (pre-trained model and each fine-tuned one). */
export interface DemoForecasts {
  key: string;
  dir: string;
  records: ForecastRecord[];
}

interface MetricRow {
  step?: number;
  loss?: number;
  valLoss?: number;
  tokens?: number;
  tokensPerSec?: number;
  rssMB?: number;
}

function readMetrics(dir: string): MetricRow[] {
  const f = path.join(dir, 'metrics.jsonl');
  if (!fs.existsSync(f)) return [];
  const rows: MetricRow[] = [];
  for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      rows.push(JSON.parse(line) as MetricRow);
    } catch {
      // A damaged line costs one point of a curve, not the report.
    }
  }
  return rows;
}

function dirBytes(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? dirBytes(path.join(dir, e.name)) : fs.statSync(path.join(dir, e.name)).size;
  return n;
}

/** The combined evaluation narrowed to one model and the baselines: what a study run's own evaluation holds. */
function runEvaluation(ev: EvaluationResults, key: string, seed: number): EvaluationResults {
  // Seeded forecasts are named "method@seed" by the evaluation.
  return { ...ev, methods: ev.methods.filter((m) => m.method === key || m.method === `${key}@${seed}` || m.kind === 'baseline') };
}

export function studyResultsOf(r: DemoResult, forecasts: DemoForecasts[], closes: ArrayLike<number>): StudyResults {
  const ev = r.evaluation;
  const backend = getBackend();
  const plans = new Map(demoMethods().map((m) => [m.name, m]));
  const runs: RunResult[] = [];
  const curves: LossCurve[] = [];
  for (const f of forecasts) {
    const run = r.runs.find((x) => x.name === f.key);
    const plan = plans.get(f.key);
    const rows = readMetrics(f.dir);
    const tokens = rows.reduce((s, x) => s + (x.tokens ?? 0), 0);
    const trainSeconds = run?.trainSeconds ?? 0;
    const lat = f.records.map((x) => x.latency_ms ?? NaN).filter(Number.isFinite);
    const latency = lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : null;
    const merged = fs.existsSync(path.join(f.dir, 'final')) && f.key !== 'full' && run !== undefined;
    runs.push({
      id: f.key,
      kind: 'main',
      model: 'demo-price-gpt',
      method: f.key,
      methodKind: plan?.method ?? 'none',
      params: plan?.params ?? {},
      lr: plan?.lr ?? 0,
      seed: r.seed,
      steps: run?.steps ?? 0,
      epochs: 0,
      tokens: run ? tokens : 0,
      trainSeconds,
      wallSeconds: trainSeconds + (run?.forecastSeconds ?? 0),
      tokensPerSec: trainSeconds > 0 ? tokens / trainSeconds : 0,
      peakRssMB: Math.max(0, ...rows.map((x) => x.rssMB ?? 0)),
      trainable: run?.trainable ?? 0,
      totalParams: run?.total ?? r.pretrain.params,
      trainablePct: run?.trainable && run.total ? (100 * run.trainable) / run.total : 0,
      artefactBytes: dirBytes(path.join(f.dir, 'final')),
      latencyMsUnmerged: latency,
      latencyMsMerged: latency,
      mergedNote: merged ? 'forecasts from the unmerged adapter; the saved final/ model is merged' : 'forecasts from the model as trained',
      finalTrainLoss: run?.finalLoss ?? r.pretrain.finalLoss,
      valLoss: run?.valLoss ?? null,
      forgetting: null,
      env: { cpu: r.machine.cpu, backend: backend.name, simd: backend.simd, threads: backend.threads, node: r.machine.node, fintune: r.machine.fintune },
      evaluation: ev ? runEvaluation(ev, f.key, r.seed) : null,
      finishedAt: r.finishedAt || new Date().toISOString(),
    });
    if (run) {
      curves.push({
        run: f.key,
        key: f.key,
        seed: r.seed,
        train: rows.filter((x) => typeof x.step === 'number' && typeof x.loss === 'number').map((x) => ({ step: x.step!, loss: x.loss! })),
        val: rows.filter((x) => typeof x.step === 'number' && typeof x.valLoss === 'number').map((x) => ({ step: x.step!, loss: x.valLoss! })),
      });
    }
  }
  const methods: MethodSummary[] = runs.map((run) => {
    const m = run.evaluation?.methods.find((x) => x.kind === 'model') ?? null;
    const stats = Object.fromEntries(Object.entries(STAT_FIELDS).map(([k, f]) => [k, meanSd([f(run)])]));
    const better = m?.dm ? m.dm.mean_diff < 0 : false;
    return {
      key: run.method,
      model: run.model,
      method: run.method,
      methodKind: run.methodKind,
      params: run.params,
      lr: run.lr,
      seeds: [r.seed],
      trainable: run.trainable,
      trainablePct: run.trainablePct,
      stats,
      skillInterval: m?.ci.skill ?? null,
      dm: [m?.dm ? { seed: r.seed, p_holm: m.dm.p_holm, reject: m.dm.reject, better } : null],
      beatsPersistence: !!(m?.dm?.reject && better && (m.skill ?? 0) > 0),
    };
  });
  // Three test windows spread over the test period, with every forecaster's path.
  const paths: PathExample[] = [];
  const base = forecasts[0]?.records ?? [];
  for (const i of [0, Math.floor(base.length / 2), base.length - 1]) {
    const w = base[i];
    if (!w || paths.some((p) => p.t0 === w.t0)) continue;
    const predicted: Record<string, number[]> = {};
    for (const f of forecasts) {
      const x = f.records.find((y) => y.t0 === w.t0);
      if (x && x.predicted.length) predicted[f.key] = x.predicted;
    }
    paths.push({ t0: w.t0, context: w.context, true: w.true, predicted });
  }
  return {
    schema: STUDY_RESULTS_SCHEMA,
    name: `fintune demo (${r.size})`,
    description:
      `Pre-trained from scratch on ${r.data.pretrainOn.join(', ')} (cut before ${r.data.heldOut}'s validation period), fine-tuned on ${r.data.heldOut} with ` +
      `${r.runs.map((x) => x.name).join(', ')}; every forecaster on the same ${r.data.testWindows} non-overlapping test windows. One seed (${r.seed}), so no spread over seeds; ` +
      `all runs share one process, so peak RSS is the demo's, not each method's.`,
    protocol: 'honest',
    createdAt: r.finishedAt || new Date().toISOString(),
    settings: { seeds: [r.seed], budget: { size: r.size }, training: null, generation: { samples: r.data.forecastSamples, temperature: 1, decoding: 'constrained numeric, element-wise median of the samples' }, models: ['demo-price-gpt'], methods: demoMethods() },
    environment: {
      cpu: r.machine.cpu,
      cores: r.machine.cpus,
      ramGB: os.totalmem() / 2 ** 30,
      os: `${os.type()} ${os.release()}`,
      node: r.machine.node,
      fintune: r.machine.fintune,
      commit: null,
      backend: backend.name,
      simd: backend.simd,
      threads: backend.threads,
    },
    data: {
      file: `${r.data.heldOut}.csv`,
      instrument: r.data.heldOut,
      protocol: 'honest',
      rows: r.data.parts.reduce((s, p) => s + p.bars, 0),
      first: r.data.parts[0]?.first ?? '',
      last: r.data.parts[r.data.parts.length - 1]?.last ?? '',
      badRows: 0,
      badRowExamples: [],
      window: r.data.window,
      parts: r.data.parts.map((p) => ({ ...p, stride: p.name === 'train' ? 1 : r.data.window.horizon })),
      testWindowsUsed: r.data.testWindows,
      returns: returnSummary(closes) ?? null,
      returnHistogram: [],
      testUpShare: base.length ? base.filter((w) => w.true[w.true.length - 1]! > w.context[w.context.length - 1]!).length / base.length : null,
    },
    runs,
    failures: r.runs.filter((x) => !x.ok).map((x) => ({ id: x.name, error: x.error ?? 'failed' })),
    sweeps: [],
    methods,
    baselines: ev ? ev.methods.filter((m) => m.kind === 'baseline') : [],
    evaluation: ev,
    curves,
    paths,
    backtest: { methods: r.backtest.map((b) => ({ key: b.key, sharpe: b.sharpe, totalReturn: b.totalReturn, maxDrawdown: b.maxDrawdown, trades: b.trades, equity: b.equity })) },
    twin: null,
  };
}
