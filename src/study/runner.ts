/**
 * `fintune study`: runs the grid (model × method × seed, learning-rate sweeps first) one run at a time, each in
 * its own child process (child.ts), skips runs whose result.json exists (so an interrupted study resumes where it
 * stopped), then aggregates everything into one results JSON (results.ts) that the report is generated from.
 *
 * Layout of the output folder:
 *   <out>/study.json                 the resolved config
 *   <out>/runs/<model>/<method>/seed-N/{spec.json, result.json, forecasts.jsonl, train/}
 *   <out>/runs/<model>/<method>/sweep-lr-X/…   learning-rate sweep (validation loss only)
 *   <out>/runs/<model>/multitask/seed-N/…      the multi-task case (when configured)
 *   <out>/twin/…                     the same layout for the twin protocol (when configured)
 *   <out>/results.json               fintune.study-results/1
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluateForecasts } from '../eval/evaluate.js';
import { readAll, readForecasts, type ForecastRecord } from '../eval/schema.js';
import { writeFileAtomic } from '../io/atomic.js';
import { VERSION } from '../version.js';
import { runId, type MethodSpec, type ModelSpec, type RunSpec, type StudyConfig } from './config.js';
import type { ChildSpec } from './child.js';
import { loadStudyData } from './data.js';
import type { MultiTaskResult } from './multitask.js';
import {
  meanSd,
  modelResult,
  STAT_FIELDS,
  STUDY_RESULTS_SCHEMA,
  type LossCurve,
  type MethodSummary,
  type PathExample,
  type RunResult,
  type StudyEnvironment,
  type StudyResults,
  type SweepSummary,
  type TwinComparison,
} from './results.js';

/** The package root (holds package.json): two folders above src/study or dist/study. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface StudyOptions {
  out: string;
  /**
   * Command that runs child.ts with a spec file appended: default `node <dist>/study/child.js`. Tests run the
   * TypeScript sources through a transpiling loader instead.
   */
  childArgv?: string[];
  /** Stop after this many runs have been executed (not counting skipped ones): a controlled interruption. */
  maxRuns?: number;
  log?: (line: string) => void;
  /** Forecast the test windows in main runs (default true); `fintune tune` turns it off: it only looks at validation. */
  generate?: boolean;
  /** Forecast and score the validation windows too (tune's validation-skill objective). */
  valForecast?: boolean;
  /** Environment for the children (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

export interface StudyOutcome {
  results: StudyResults;
  resultsFile: string;
  executed: string[];
  skipped: string[];
  /** True when maxRuns stopped the study before every run was done. */
  interrupted: boolean;
}

function defaultChildArgv(): string[] {
  const here = fileURLToPath(import.meta.url);
  const js = path.join(path.dirname(here), 'child.js');
  if (here.endsWith('.js') && fs.existsSync(js)) return [js];
  // Running from the TypeScript sources (tests, development): use the built child when dist/ has one.
  const built = path.join(PACKAGE_ROOT, 'dist', 'study', 'child.js');
  if (fs.existsSync(built)) return [built];
  throw new Error(`no built study child at ${built}: run "npm run build" (or pass childArgv)`);
}

export function gitCommit(): string | null {
  const r = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: PACKAGE_ROOT, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function runDirOf(out: string, id: string): string {
  return path.join(out, 'runs', ...id.split('/'));
}

function readResult(dir: string): RunResult | null {
  const f = path.join(dir, 'result.json');
  if (!fs.existsSync(f)) return null;
  try {
    return JSON.parse(fs.readFileSync(f, 'utf8')) as RunResult;
  } catch {
    return null; // a corrupt result counts as unfinished and is redone
  }
}

function runChildProcess(argv: string[], specFile: string, env: NodeJS.ProcessEnv | undefined): Promise<{ code: number | null; stderr: string; seconds: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...argv, specFile], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: env ?? process.env });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
      if (stderr.length > 20_000) stderr = stderr.slice(-20_000);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, seconds: (Date.now() - t0) / 1000 }));
  });
}

export async function runStudy(config: StudyConfig, o: StudyOptions): Promise<StudyOutcome> {
  const log = o.log ?? ((s: string) => void process.stderr.write(s + '\n'));
  const argv = o.childArgv ?? defaultChildArgv();
  fs.mkdirSync(o.out, { recursive: true });
  writeFileAtomic(path.join(o.out, 'study.json'), JSON.stringify(config, null, 2) + '\n');
  const executed: string[] = [];
  const skipped: string[] = [];
  const failures: Array<{ id: string; error: string }> = [];
  const results: RunResult[] = [];
  const sweeps: SweepSummary[] = [];
  let interrupted = false;
  const commit = gitCommit();

  const execute = async (run: RunSpec, generate: boolean, mode: ChildSpec['mode'] = 'run'): Promise<RunResult | null> => {
    const dir = runDirOf(o.out, run.id);
    const done = readResult(dir);
    if (done) {
      skipped.push(run.id);
      log(`study: ${run.id} already finished, skipped`);
      return done;
    }
    if (o.maxRuns !== undefined && executed.length >= o.maxRuns) {
      interrupted = true;
      return null;
    }
    fs.mkdirSync(dir, { recursive: true });
    const spec: ChildSpec = { config, run, runDir: dir, generate, mode, commit, valForecast: o.valForecast };
    const specFile = path.join(dir, 'spec.json');
    writeFileAtomic(specFile, JSON.stringify(spec, null, 1) + '\n');
    log(`study: ${run.id} (lr ${run.lr}) …`);
    const r = await runChildProcess(argv, specFile, o.env);
    executed.push(run.id);
    const res = readResult(dir);
    if (r.code !== 0 || !res) {
      const msg = r.stderr.trim().split('\n').slice(-5).join('\n') || `exit code ${r.code}`;
      failures.push({ id: run.id, error: msg });
      log(`study: ${run.id} FAILED: ${msg}`);
      return null;
    }
    if (mode === 'multitask') {
      log(`study: ${run.id} done in ${r.seconds.toFixed(1)} s`);
      return res;
    }
    res.processSeconds = r.seconds;
    writeFileAtomic(path.join(dir, 'result.json'), JSON.stringify(res, null, 1) + '\n');
    log(`study: ${run.id} done in ${r.seconds.toFixed(1)} s (val loss ${res.valLoss?.toFixed(4) ?? '–'}, skill ${modelResult(res.evaluation)?.skill?.toFixed(4) ?? '–'})`);
    return res;
  };

  outer: for (const model of config.models) {
    for (const method of config.methods) {
      let lr = method.lr;
      if (method.lrSweep && method.lrSweep.length > 1) {
        // Learning rate picked on validation loss with the first seed; the test windows are never looked at.
        const tried: SweepSummary['tried'] = [];
        for (const x of method.lrSweep) {
          const res = await execute({ id: runId(model.name, method.name, config.seeds[0]!, x), model, method, lr: x, seed: config.seeds[0]!, kind: 'sweep' }, false);
          if (interrupted) break outer;
          tried.push({ lr: x, valLoss: res?.valLoss ?? null });
          if (res) results.push(res);
        }
        const ok = tried.filter((t) => t.valLoss !== null);
        if (ok.length) lr = ok.reduce((a, b) => (b.valLoss! < a.valLoss! ? b : a)).lr;
        sweeps.push({ model: model.name, method: method.name, tried, chosen: lr });
      }
      for (const seed of config.seeds) {
        const res = await execute({ id: runId(model.name, method.name, seed), model, method, lr, seed, kind: 'main' }, o.generate ?? true);
        if (interrupted) break outer;
        if (res) results.push(res);
      }
    }
  }
  let multiTask: MultiTaskResult | null = null;
  if (config.multiTask && !interrupted) {
    const model = config.models[0]!;
    const method = config.methods.find((m) => m.method === config.multiTask!.method) ?? { name: config.multiTask.method, method: config.multiTask.method, lr: config.multiTask.lr, params: {} };
    const res = await execute({ id: `${model.name}/multitask/seed-${config.seeds[0]!}`, model, method, lr: config.multiTask.lr, seed: config.seeds[0]!, kind: 'sweep' }, false, 'multitask');
    multiTask = (res as unknown as { multiTask?: MultiTaskResult } | null)?.multiTask ?? null;
  }
  const studyResults = await aggregate(config, o.out, results, failures, sweeps);
  studyResults.multiTask = multiTask;
  if (config.twin && !interrupted) {
    // The same grid under the other protocol, in its own folder (resumable like the main one).
    const twinConfig: StudyConfig = {
      ...config,
      name: `${config.name}-twin`,
      protocol: config.twin.protocol,
      training: { ...config.training, loss: config.twin.loss ?? config.training.loss },
      twin: undefined,
    };
    const t = await runStudy(twinConfig, { ...o, out: path.join(o.out, 'twin'), maxRuns: o.maxRuns === undefined ? undefined : o.maxRuns - executed.length });
    executed.push(...t.executed);
    skipped.push(...t.skipped);
    interrupted = t.interrupted;
    studyResults.twin = compareTwin(studyResults, t.results);
  }
  const resultsFile = path.join(o.out, 'results.json');
  writeFileAtomic(resultsFile, JSON.stringify(studyResults, null, 1) + '\n');
  return { results: studyResults, resultsFile, executed, skipped, interrupted };
}

function keyOf(config: StudyConfig, model: string, method: string): string {
  return config.models.length > 1 ? `${model}/${method}` : method;
}

/** Builds the results object from finished runs (also usable on a partly finished study). */
export async function aggregate(config: StudyConfig, out: string, runs: RunResult[], failures: StudyResults['failures'], sweeps: SweepSummary[]): Promise<StudyResults> {
  const main = runs.filter((r) => r.kind === 'main');
  // Every main run's forecasts, evaluated together: the same windows, one Holm family for all forecasters.
  const all: ForecastRecord[] = [];
  const bySeedKey = new Map<string, ForecastRecord[]>();
  for (const r of main) {
    const f = path.join(runDirOf(out, r.id), 'forecasts.jsonl');
    if (!fs.existsSync(f)) continue;
    const recs = await readAll(readForecasts(f));
    const key = keyOf(config, r.model, r.method);
    for (const rec of recs) rec.method = key;
    bySeedKey.set(`${key}@${r.seed}`, recs);
    all.push(...recs);
  }
  let data: StudyResults['data'] = null;
  let trainCloses: number[] | null = null;
  try {
    const d = await loadStudyData(config);
    data = d.summary;
    trainCloses = d.trainCloses;
  } catch {
    data = null;
  }
  const evaluation = all.length
    ? evaluateForecasts(all, { training: trainCloses ? { [config.data.instrument]: trainCloses } : undefined, bootstrap: { replicates: 300, seed: 0 } })
    : null;

  const methods: MethodSummary[] = [];
  for (const model of config.models) {
    for (const method of config.methods) {
      const key = keyOf(config, model.name, method.name);
      const rs = config.seeds.map((s) => main.find((r) => r.model === model.name && r.method === method.name && r.seed === s) ?? null);
      const present = rs.filter((r): r is RunResult => r !== null);
      if (present.length === 0) continue;
      const stats: MethodSummary['stats'] = {};
      for (const [name, get] of Object.entries(STAT_FIELDS)) stats[name] = meanSd(rs.map((r) => (r ? get(r) : null)));
      let interval: MethodSummary['skillInterval'] = null;
      const dm: MethodSummary['dm'] = [];
      for (const s of config.seeds) {
        const m = evaluation?.methods.find((x) => x.method === `${key}@${s}`);
        if (m?.ci.skill) {
          interval = interval
            ? { lower: Math.min(interval.lower, m.ci.skill.lower), upper: Math.max(interval.upper, m.ci.skill.upper), level: m.ci.skill.level }
            : { ...m.ci.skill };
        }
        dm.push(m?.dm ? { seed: s, p_holm: m.dm.p_holm, reject: m.dm.reject, better: m.dm.mean_diff < 0 } : null);
      }
      const beats = (stats.skill!.mean ?? -1) > 0 && dm.length > 0 && dm.every((d) => d !== null && d.reject && d.better);
      const first = present[0]!;
      methods.push({
        key,
        model: model.name,
        method: method.name,
        methodKind: method.method,
        params: method.params,
        lr: first.lr,
        seeds: config.seeds,
        trainable: first.trainable,
        trainablePct: first.trainablePct,
        stats,
        skillInterval: interval,
        dm,
        beatsPersistence: beats,
      });
    }
  }

  const curves: LossCurve[] = main.map((r) => ({ run: r.id, key: keyOf(config, r.model, r.method), seed: r.seed, ...readCurve(path.join(runDirOf(out, r.id), 'train', 'metrics.jsonl')) }));

  // A few test windows with every method's first-seed forecast, spread over the test period.
  const paths: PathExample[] = [];
  const seed0 = config.seeds[0]!;
  const firstKey = methods[0] ? `${methods[0].key}@${seed0}` : null;
  const ref = firstKey ? bySeedKey.get(firstKey) : undefined;
  if (ref && ref.length) {
    const picks = [...new Set([0, Math.floor(ref.length / 2), ref.length - 1])];
    for (const i of picks) {
      const w = ref[i]!;
      const predicted: Record<string, number[]> = {};
      for (const m of methods) {
        const rec = bySeedKey.get(`${m.key}@${seed0}`)?.find((x) => x.t0 === w.t0);
        if (rec) predicted[m.key] = rec.parse_ok ? rec.predicted : [];
      }
      paths.push({ t0: w.t0, context: w.context, true: w.true, predicted });
    }
  }

  const env0 = main[0]?.env ?? runs[0]?.env ?? null;
  const environment: StudyEnvironment = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    ramGB: os.totalmem() / 2 ** 30,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    fintune: VERSION,
    commit: gitCommit(),
    backend: env0?.backend ?? null,
    simd: env0?.simd ?? null,
    threads: env0?.threads ?? null,
  };
  const backtest = config.backtest.enabled && methods.length ? await backtestMethods(config, out, main, methods) : null;
  return {
    schema: STUDY_RESULTS_SCHEMA,
    name: config.name,
    description: config.description,
    protocol: config.protocol,
    createdAt: new Date().toISOString(),
    settings: {
      seeds: config.seeds,
      budget: config.budget,
      training: config.training,
      generation: config.generation,
      models: config.models as unknown as ModelSpec[],
      methods: config.methods as unknown as MethodSpec[],
    },
    environment,
    data,
    runs,
    failures,
    sweeps,
    methods,
    baselines: evaluation?.methods.filter((m) => m.kind === 'baseline') ?? [],
    evaluation,
    curves,
    paths,
    backtest,
    twin: null,
  };
}

/** Train loss per step and validation loss at each evaluation, from the trainer's metrics.jsonl (bad lines skipped). */
export function readCurve(file: string): Pick<LossCurve, 'train' | 'val'> {
  const train: LossCurve['train'] = [];
  const val: LossCurve['val'] = [];
  if (!fs.existsSync(file)) return { train, val };
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let m: { step?: number; loss?: number; valLoss?: number };
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      continue;
    }
    if (typeof m.step !== 'number') continue;
    if (typeof m.loss === 'number') train.push({ step: m.step, loss: m.loss });
    if (typeof m.valLoss === 'number') val.push({ step: m.step, loss: m.valLoss });
  }
  return { train, val };
}

/** Headline metrics of the methods both studies ran, side by side under each protocol. */
export function compareTwin(a: StudyResults, b: StudyResults): TwinComparison {
  const leaky = a.protocol === 'mql5-leaky' ? a : b;
  const honest = leaky === a ? b : a;
  const other = leaky === a ? b : a;
  const rows: TwinComparison['rows'] = [];
  for (const m of leaky.methods) {
    const h = honest.methods.find((x) => x.key === m.key);
    if (!h) continue;
    for (const metric of ['nrmse_mql5', 'skill', 'rmse', 'direction_accuracy']) {
      rows.push({ key: m.key, metric, leaky: m.stats[metric]?.mean ?? null, honest: h.stats[metric]?.mean ?? null });
    }
  }
  return { name: other.name, protocol: other.protocol, rows };
}

/**
 * Each method's first-seed test forecasts traded by src/backtest/ on the study's price file (next bar's open,
 * spread paid), with buy-and-hold and momentum on the same span. A method whose back-test cannot run (too few
 * forecasts, say) is left out with a note rather than failing the study.
 */
async function backtestMethods(config: StudyConfig, out: string, main: RunResult[], methods: MethodSummary[]): Promise<StudyResults['backtest']> {
  const [{ loadPrices }, { readForecastFile, alignForecasts }, { runBacktest }, { reportEntry }] = await Promise.all([
    import('../backtest/prices.js'),
    import('../backtest/forecasts.js'),
    import('../backtest/backtest.js'),
    import('../backtest/output.js'),
  ]);
  const series = await loadPrices(config.data.file, { instrument: config.data.instrument });
  const entries: NonNullable<StudyResults['backtest']>['methods'] = [];
  const notes: string[] = [];
  // Benchmarks (from the first back-test; every method trades the same span) go after the methods.
  let benchmarks: typeof entries = [];
  for (const m of methods) {
    const run = main.find((r) => r.model === m.model && r.method === m.method && r.seed === m.seeds[0]);
    const file = run ? path.join(runDirOf(out, run.id), 'forecasts.jsonl') : null;
    if (!file || !fs.existsSync(file)) continue;
    try {
      const items = await readForecastFile(file);
      const aligned = alignForecasts(file, items, series);
      const r = runBacktest(series, aligned.predictions, {
        rule: { threshold: config.backtest.thresholdBps, units: 'bps', horizon: aligned.horizon, sizing: { kind: 'fixed' } },
        costs: { spreadBps: config.backtest.spreadBps },
        randomDraws: 0,
      });
      entries.push(reportEntry(m.key, r.model.metrics, r.time, r.model.sim.equity));
      if (!benchmarks.length) benchmarks = [r.buyAndHold, r.momentum].map((b) => reportEntry(b.name, b.metrics, r.time, b.sim.equity));
    } catch (err) {
      notes.push(`${m.key}: ${(err as Error).message}`);
    }
  }
  entries.push(...benchmarks);
  return entries.length || notes.length ? { methods: entries, notes } : null;
}
