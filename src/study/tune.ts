/**
 * `fintune tune`: hyper-parameter search for one method of a study config — grid, random or genetic (the MQL5
 * article proposes a genetic search) — scored on validation data only; no test window is forecast during the
 * search. Each trial (one point of the space) is trained with one seed on every data set — several instruments
 * and/or several periods of each (`config.tune`) — and scored on each data set's own validation part; the trial's
 * objective is the mean over data sets, with the per-data-set values and the worst case recorded beside it.
 * Every trial × data set is a study run in its own child process (through the study runner, so finished runs are
 * skipped on a re-run). After the search, the best point is trained once more per data set and evaluated on that
 * data set's test part, with the baselines on the same windows (the only time a test window is read).
 *
 * Search space: `lr`, any numeric method hyper-parameter as `params.NAME`, and — with a forecasting objective
 * (validation skill or validation back-test) — the window's `data.known` (context length) and `data.horizon`.
 * Validation loss per token is not comparable across window shapes, so window searches need a forecasting one.
 *
 * Output folder:
 *   <out>/tune.json, tune.md            every trial with per-data-set and aggregate objective, the best point
 *   <out>/runs/…                        the search runs when there is one data set (the original layout)
 *   <out>/sets/<data set>/runs/…        the search runs of each data set when there are several
 *   <out>/[sets/<data set>/]final/…     the best point's test evaluation
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { createRng } from '../tensor/rng.js';
import type { DataSpec, MethodSpec, PeriodSpec, StudyConfig } from './config.js';
import { loadStudyData } from './data.js';
import type { RunResult, WindowSpan } from './results.js';
import { runStudy, type StudyOptions } from './runner.js';

export type Strategy = 'grid' | 'random' | 'genetic';
export type Space = Record<string, number[]>;
export type Objective = 'val-loss' | 'val-skill' | 'val-backtest';

export interface TuneOptions extends Pick<StudyOptions, 'childArgv' | 'log' | 'env'> {
  out: string;
  method: string;
  strategy: Strategy;
  /** Trials for random and genetic search (grid runs every combination). */
  trials: number;
  space: Space;
  /** Seed of the search itself (which points random and genetic search draw). */
  seed?: number;
  /** 'val-loss' (default, lower is better), 'val-skill' (vs persistence) or 'val-backtest' (Sharpe after costs). */
  objective?: Objective;
  /** Train the best point once more per data set and evaluate it on test with the baselines (default true). */
  finalTest?: boolean;
}

/** One data set of a search: an instrument, or one period of it. */
export interface TuneDataset {
  /** The instrument, with the period when there are several (`EURUSD.p2of3`); names its folder. */
  label: string;
  data: DataSpec;
  /** Folder of its runs relative to the tune's out: '' with one data set (the original layout), else sets/<label>. */
  dir: string;
}

/** Where a data set's parts lie (first and last bar, ISO UTC) and the windows a run uses in each, with the config's window. */
export interface DatasetInfo {
  dataset: string;
  file: string;
  instrument: string;
  period: string | null;
  bars: number;
  train: { first: string; last: string; windows: number };
  val: { first: string; last: string; windows: number };
  test: { first: string; last: string; windows: number };
}

/** One trial on one data set. */
export interface DatasetScore {
  dataset: string;
  /** The run's folder, relative to the tune's out. */
  run: string;
  /** The training seed (the config's first). */
  seed: number;
  valLoss: number | null;
  valSkill: number | null;
  valSharpe: number | null;
  /** The objective in its own units (loss, skill or Sharpe); null when the run failed or never traded. */
  objective: number | null;
  /** Which windows the run trained on, scored and forecast (test is null during a search). */
  windowsUsed: RunResult['windowsUsed'] | null;
  error?: string;
}

export interface Trial {
  index: number;
  values: Record<string, number>;
  /** Training seed of every run of this trial. */
  seed: number;
  /** The objective per data set, in data-set order. */
  perDataset: DatasetScore[];
  /**
   * The objective across data sets in its own units: the mean (what ranks trials), the worst data set's value
   * (highest loss, lowest skill or Sharpe) and which it was. Null mean when any data set has no value: a trial
   * that failed or never traded somewhere cannot win on the others alone.
   */
  aggregate: { mean: number | null; worst: number | null; worstDataset: string | null; missing: string[] };
  /** Means over data sets (the values themselves with one data set). */
  valLoss: number | null;
  valSkill: number | null;
  valSharpe?: number | null;
  /** The aggregate mean oriented so that lower is better (−skill, −Sharpe): what the search minimises. */
  score: number | null;
}

/** The best point trained once more on one data set and evaluated on its test windows, with the baselines. */
export interface FinalTest {
  dataset: string;
  run: string;
  seed: number;
  windowsUsed: RunResult['windowsUsed'] | null;
  /** The model and each baseline on the same test windows. */
  rows: Array<{ name: string; kind: 'model' | 'baseline'; skill: number | null; rmse: number; mae: number; directionAccuracy: number | null }>;
  /** Back-test of the model's test forecasts with buy-and-hold and momentum on the same span (config.backtest). */
  backtest: Array<{ key: string; sharpe: number | null; totalReturn: number | null; trades: number | null }> | null;
  error?: string;
}

export interface TuneResult {
  schema: 'fintune.tune-results/2';
  method: string;
  strategy: Strategy;
  objective: 'validation loss (lower is better)' | 'validation skill vs persistence (higher is better)' | 'validation back-test Sharpe after costs (higher is better)';
  /** How trials are ranked: the mean over data sets of the objective. */
  aggregate: 'mean over data sets';
  space: Space;
  /** Seed of the search (which points are drawn) and the training seed of every run. */
  seed: number;
  runSeed: number;
  datasets: DatasetInfo[];
  trialsRun: number;
  /** Training runs of the search: trials × data sets (whether executed now or found finished). */
  trainingRuns: number;
  /** Of those, executed by this invocation and found finished from an earlier one. */
  runsExecuted: number;
  runsSkipped: number;
  trials: Trial[];
  best: Trial | null;
  /** The best point on each data set's test part (empty when finalTest is off or nothing won). */
  finalTest: FinalTest[];
  /** Where the data sets' spans make the final test less than strictly out of sample (see docs/study.md). */
  notes: string[];
}

const WINDOW_KEYS = ['data.known', 'data.horizon'];

function checkSpace(space: Space, objective: Objective): void {
  const keys = Object.keys(space);
  if (keys.length === 0) throw new Error('tune: the search space is empty; give e.g. --space \'{"lr":[1e-4,1e-3]}\'');
  for (const k of keys) {
    if (k !== 'lr' && !k.startsWith('params.') && !WINDOW_KEYS.includes(k)) throw new Error(`tune: space key "${k}" must be "lr", "params.NAME", "data.known" or "data.horizon"`);
    if (WINDOW_KEYS.includes(k) && objective === 'val-loss') {
      throw new Error(`tune: searching ${k} needs --objective val-skill or val-backtest (validation loss per token is not comparable across window shapes)`);
    }
    if (WINDOW_KEYS.includes(k) && !space[k]!.every((x) => Number.isInteger(x) && x >= 1)) throw new Error(`tune: space.${k} must hold positive integers`);
    const v = space[k];
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) throw new Error(`tune: space.${k} must be a non-empty list of numbers`);
  }
}

function gridOf(space: Space): Array<Record<string, number>> {
  let out: Array<Record<string, number>> = [{}];
  for (const [k, vals] of Object.entries(space)) out = out.flatMap((o) => vals.map((v) => ({ ...o, [k]: v })));
  return out;
}

function keyOf(values: Record<string, number>): string {
  return Object.keys(values).sort().map((k) => `${k}=${values[k]}`).join(',');
}

function methodWith(base: MethodSpec, values: Record<string, number>): MethodSpec {
  const params = { ...base.params };
  for (const [k, v] of Object.entries(values)) if (k.startsWith('params.')) params[k.slice(7)] = v;
  // Named by its values, not its index: a re-run (or another strategy in the same folder) finds a finished trial
  // under the same name only if it had the same values.
  return { ...base, name: `${base.name}-t-${keyOf(values).replace(/[^A-Za-z0-9._-]/g, '_')}`, lr: values.lr ?? base.lr, lrSweep: undefined, params };
}

/** The data sets a config's search scores on: `tune.datasets` (default: `data`) × `tune.periods` (default: all). */
export function tuneDatasets(config: StudyConfig): TuneDataset[] {
  const instruments = config.tune?.instruments ?? [config.data];
  const periods = config.tune?.periods ?? 1;
  const plist: Array<{ label: string; period?: PeriodSpec }> =
    typeof periods === 'number'
      ? periods === 1
        ? [{ label: '' }]
        : Array.from({ length: periods }, (_, i) => ({ label: `p${i + 1}of${periods}`, period: { kind: 'segment' as const, index: i, count: periods } }))
      : periods.map((p) => ({ label: `${p.start ?? 'start'}_${p.end ?? 'end'}`.replace(/[^A-Za-z0-9._-]/g, '-'), period: { kind: 'dates' as const, ...p } }));
  const sets = instruments.flatMap((d) => plist.map((p) => ({ label: p.label ? `${d.instrument}.${p.label}` : d.instrument, data: p.period ? { ...d, period: p.period } : d })));
  return sets.map((s) => ({ ...s, dir: sets.length === 1 ? '' : path.join('sets', s.label) }));
}

function periodText(p: PeriodSpec | undefined): string | null {
  if (!p) return null;
  return p.kind === 'segment' ? `segment ${p.index + 1} of ${p.count}` : `${p.start ?? '…'} to ${p.end ?? '…'}`;
}

/** Loads a data set as a run would (the config's window) and says where its parts lie; fails naming the data set. */
async function describeDataset(config: StudyConfig, ds: TuneDataset): Promise<DatasetInfo> {
  let d;
  try {
    d = await loadStudyData({ protocol: config.protocol, data: ds.data });
  } catch (err) {
    throw new Error(`tune: data set ${ds.label} (${ds.data.file}${ds.data.period ? `, ${periodText(ds.data.period)}` : ''}): ${(err as Error).message}`);
  }
  const iso = (i: number): string => new Date(d.time[i]!).toISOString();
  // Windows as the runs use them: validation and test capped by maxValWindows / maxTestWindows.
  const part = (name: 'train' | 'val' | 'test'): DatasetInfo['train'] => {
    const p = d.summary.parts.find((x) => x.name === name)!;
    return { first: iso(p.from!), last: iso(p.to! - 1), windows: d[name].length };
  };
  return { dataset: ds.label, file: ds.data.file, instrument: ds.data.instrument, period: periodText(ds.data.period), bars: d.time.length, train: part('train'), val: part('val'), test: part('test') };
}

/**
 * The search selects on every data set's validation part. A data set's final test is strictly out of sample in
 * time only if no validation bar the search read (of any data set) lies at or after that test's first bar.
 */
export function timeNotes(infos: DatasetInfo[]): string[] {
  const notes: string[] = [];
  for (const a of infos) {
    const later = infos.filter((b) => b !== a && b.val.last >= a.test.first);
    if (later.length) {
      notes.push(`${a.dataset}: its test part starts ${when(a.test.first)}, but the search also scored later validation bars (${later.map((b) => `${b.dataset} up to ${when(b.val.last)}`).join(', ')}), so the best point was chosen with data from after that start: its test result is not strictly out of sample in time.`);
    }
  }
  return notes;
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

export async function tune(config: StudyConfig, o: TuneOptions): Promise<TuneResult> {
  const objective = o.objective ?? 'val-loss';
  checkSpace(o.space, objective);
  const base = config.methods.find((m) => m.name === o.method);
  if (!base) throw new Error(`tune: method "${o.method}" is not in the config (methods: ${config.methods.map((m) => m.name).join(', ')})`);
  if (config.protocol !== 'honest') {
    throw new Error(`tune: the config's protocol is ${config.protocol}, whose validation windows share bars with its test windows; a search never scored on test needs protocol: honest`);
  }
  const log = o.log ?? ((s: string) => void process.stderr.write(s + '\n'));
  const datasets = tuneDatasets(config);
  const infos: DatasetInfo[] = [];
  for (const ds of datasets) infos.push(await describeDataset(config, ds));
  const runSeed = config.seeds[0] ?? 0;
  const higherBetter = objective !== 'val-loss';
  const rng = createRng(o.seed ?? 0, 'study.tune');
  const trials: Trial[] = [];
  const seen = new Map<string, Trial>();
  let runsExecuted = 0;
  let runsSkipped = 0;

  const configFor = (ds: TuneDataset, values: Record<string, number>, method: MethodSpec): StudyConfig => ({
    ...config,
    name: `${config.name}-tune`,
    data: { ...ds.data, known: values['data.known'] ?? config.data.known, horizon: values['data.horizon'] ?? config.data.horizon },
    methods: [method],
    models: config.models.slice(0, 1),
    seeds: [runSeed],
    twin: undefined,
    multiTask: undefined,
    tune: undefined,
  });

  // Run ids are the same on every data set: the log says which one a line is about.
  const tagged = (ds: TuneDataset, what = ''): ((line: string) => void) => (datasets.length > 1 || what ? (line) => log(`[${ds.label}${what ? ` ${what}` : ''}] ${line}`) : log);

  const evaluate = async (values: Record<string, number>): Promise<Trial> => {
    const k = keyOf(values);
    const prior = seen.get(k);
    if (prior) return prior; // a genetic child equal to an earlier trial is not run twice
    const index = trials.length;
    const method = methodWith(base, values);
    const perDataset: DatasetScore[] = [];
    for (const ds of datasets) {
      const out = path.join(o.out, ds.dir);
      const res = await runStudy(configFor(ds, values, method), { out, childArgv: o.childArgv, log: tagged(ds), env: o.env, generate: false, valForecast: objective !== 'val-loss' });
      runsExecuted += res.executed.length;
      runsSkipped += res.skipped.length;
      const run = res.results.runs.find((r) => r.method === method.name);
      const valLoss = run?.valLoss ?? null;
      const valSkill = run?.valSkill ?? null;
      const valSharpe = run?.valSharpe ?? null;
      const id = run?.id ?? `${config.models[0]!.name}/${method.name}/seed-${runSeed}`;
      perDataset.push({
        dataset: ds.label,
        run: path.join(ds.dir, 'runs', ...id.split('/')),
        seed: runSeed,
        valLoss,
        valSkill,
        valSharpe,
        objective: objective === 'val-loss' ? valLoss : objective === 'val-skill' ? valSkill : valSharpe,
        windowsUsed: run?.windowsUsed ?? null,
        ...(res.results.failures.length ? { error: res.results.failures.map((f) => f.error).join('; ') } : {}),
      });
    }
    const ok = perDataset.filter((p) => p.objective !== null);
    const missing = perDataset.filter((p) => p.objective === null).map((p) => p.dataset);
    const worstOf = ok.length ? ok.reduce((a, b) => ((higherBetter ? b.objective! < a.objective! : b.objective! > a.objective!) ? b : a)) : null;
    const aggMean = missing.length === 0 && ok.length ? mean(ok.map((p) => p.objective!)) : null;
    const meanOf = (get: (p: DatasetScore) => number | null): number | null => (perDataset.every((p) => get(p) !== null) ? mean(perDataset.map((p) => get(p)!)) : null);
    const t: Trial = {
      index,
      values,
      seed: runSeed,
      perDataset,
      aggregate: { mean: aggMean, worst: worstOf?.objective ?? null, worstDataset: worstOf?.dataset ?? null, missing },
      valLoss: meanOf((p) => p.valLoss),
      valSkill: meanOf((p) => p.valSkill),
      valSharpe: meanOf((p) => p.valSharpe),
      score: aggMean === null ? null : higherBetter ? -aggMean : aggMean,
    };
    trials.push(t);
    seen.set(k, t);
    if (datasets.length > 1) log(`tune: trial #${index} ${JSON.stringify(values)}: mean ${fmt(aggMean)} over ${datasets.length} data sets (worst ${fmt(t.aggregate.worst)} on ${t.aggregate.worstDataset ?? '–'})`);
    return t;
  };
  const pick = <T>(xs: readonly T[]): T => xs[rng.randint(xs.length)]!;
  const randomPoint = (): Record<string, number> => Object.fromEntries(Object.entries(o.space).map(([k, v]) => [k, pick(v)]));

  if (o.strategy === 'grid') {
    for (const p of gridOf(o.space)) await evaluate(p);
  } else if (o.strategy === 'random') {
    // Sampling without replacement: a repeated point would cost a trial and teach nothing.
    const size = gridOf(o.space).length;
    while (trials.length < Math.min(o.trials, size)) await evaluate(randomPoint());
  } else {
    // Genetic: a small population; each generation keeps the better half, and children take each value from
    // one of two parents, with a mutation moving a value to a neighbouring candidate.
    const popSize = Math.max(2, Math.min(6, Math.ceil(o.trials / 3)));
    let pop: Trial[] = [];
    const size = gridOf(o.space).length;
    while (pop.length < popSize && trials.length < Math.min(o.trials, size)) {
      const t = await evaluate(randomPoint());
      if (!pop.includes(t)) pop.push(t);
    }
    let stale = 0;
    while (trials.length < Math.min(o.trials, size) && stale < 3 * o.trials) {
      const ranked = [...pop].sort((a, b) => (a.score ?? Infinity) - (b.score ?? Infinity));
      const parents = ranked.slice(0, Math.max(2, Math.ceil(ranked.length / 2)));
      const a = pick(parents);
      const b = pick(parents);
      const child: Record<string, number> = {};
      for (const [k, vals] of Object.entries(o.space)) {
        let v = rng.uniform() < 0.5 ? a.values[k]! : b.values[k]!;
        if (rng.uniform() < 0.3) {
          const i = vals.indexOf(v);
          v = vals[Math.max(0, Math.min(vals.length - 1, i + (rng.uniform() < 0.5 ? -1 : 1)))]!;
        }
        child[k] = v;
      }
      let t = seen.get(keyOf(child));
      if (t) {
        // Already tried: explore an untried point instead, so a small space is covered rather than re-bred.
        const untried = gridOf(o.space).filter((p) => !seen.has(keyOf(p)));
        if (untried.length === 0) break;
        stale++;
        t = await evaluate(pick(untried));
      } else t = await evaluate(child);
      pop = [...parents, t];
    }
  }
  const ok = trials.filter((t) => t.score !== null);
  const best = ok.length ? ok.reduce((x, y) => (y.score! < x.score! ? y : x)) : null;

  // The best point, once, on each data set's test part: the search is over, so this cannot steer it.
  const finalTest: FinalTest[] = [];
  if (best && (o.finalTest ?? true)) {
    const method = methodWith(base, best.values);
    for (const ds of datasets) {
      const out = path.join(o.out, ds.dir, 'final');
      const res = await runStudy(configFor(ds, best.values, method), { out, childArgv: o.childArgv, log: tagged(ds, 'test'), env: o.env, generate: true, valForecast: false });
      const run = res.results.runs.find((r) => r.method === method.name && r.kind === 'main');
      const ev = res.results.evaluation;
      const rows: FinalTest['rows'] = (ev?.methods ?? []).map((m) => ({
        name: m.kind === 'model' ? method.name : m.method,
        kind: m.kind,
        skill: m.skill,
        rmse: m.metrics.rmse,
        mae: m.metrics.mae,
        directionAccuracy: m.metrics.direction.accuracy,
      }));
      const id = run?.id ?? `${config.models[0]!.name}/${method.name}/seed-${runSeed}`;
      finalTest.push({
        dataset: ds.label,
        run: path.join(ds.dir, 'final', 'runs', ...id.split('/')),
        seed: runSeed,
        windowsUsed: run?.windowsUsed ?? null,
        rows,
        backtest: res.results.backtest?.methods.map((m) => ({ key: m.key, sharpe: m.sharpe, totalReturn: m.totalReturn, trades: m.trades })) ?? null,
        ...(res.results.failures.length ? { error: res.results.failures.map((f) => f.error).join('; ') } : {}),
      });
    }
  }

  const result: TuneResult = {
    schema: 'fintune.tune-results/2',
    method: o.method,
    strategy: o.strategy,
    objective:
      objective === 'val-loss'
        ? 'validation loss (lower is better)'
        : objective === 'val-skill'
          ? 'validation skill vs persistence (higher is better)'
          : 'validation back-test Sharpe after costs (higher is better)',
    aggregate: 'mean over data sets',
    space: o.space,
    seed: o.seed ?? 0,
    runSeed,
    datasets: infos,
    trialsRun: trials.length,
    trainingRuns: trials.length * datasets.length,
    runsExecuted,
    runsSkipped,
    trials,
    best,
    finalTest,
    notes: datasets.length > 1 ? timeNotes(infos) : [],
  };
  fs.mkdirSync(o.out, { recursive: true });
  writeFileAtomic(path.join(o.out, 'tune.json'), JSON.stringify(result, null, 1) + '\n');
  writeFileAtomic(path.join(o.out, 'tune.md'), tuneMarkdown(result));
  return result;
}

const fmt = (x: number | null | undefined, d = 4): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));
/** An ISO time as the data docs write it: date, and the clock only when it is not midnight. */
const when = (iso: string): string => iso.slice(0, 16).replace('T', ' ').replace(/ 00:00$/, '');
const spanText = (s: WindowSpan | null | undefined): string => (s ? `${s.n} windows, ${when(s.first)} to ${when(s.last)}` : 'none');

/** tune.md: the search as a reader needs it — every trial per data set, the aggregate, the best point and its test. */
export function tuneMarkdown(r: TuneResult): string {
  const L: string[] = [];
  const names = r.datasets.map((d) => d.dataset);
  L.push(`# Tune: ${r.method} (${r.strategy})`, '');
  L.push(`Objective: ${r.objective}; trials ranked by the ${r.aggregate}. ${r.trialsRun} trial(s) × ${names.length} data set(s) = ${r.trainingRuns} training run(s) (${r.runsExecuted} run now, ${r.runsSkipped} found finished). Search seed ${r.seed}; every run trained with seed ${r.runSeed}. No test window was forecast during the search.`, '');
  L.push('## Data sets', '', '| data set | file | period | train | validation (searched) | test (final only) |', '| --- | --- | --- | --- | --- | --- |');
  const part = (p: DatasetInfo['train']): string => `${when(p.first)} – ${when(p.last)} (${p.windows} windows)`;
  for (const d of r.datasets) L.push(`| ${d.dataset} | ${path.basename(d.file)} | ${d.period ?? 'all'} | ${part(d.train)} | ${part(d.val)} | ${part(d.test)} |`);
  L.push('', '## Trials', '');
  L.push(`| # | point | ${names.join(' | ')} | mean | worst (data set) |`, `| ${['---', '---', ...names.map(() => '---'), '---', '---'].join(' | ')} |`);
  const ranked = [...r.trials].sort((a, b) => (a.score ?? Infinity) - (b.score ?? Infinity) || a.index - b.index);
  for (const t of ranked) {
    const cells = names.map((n) => fmt(t.perDataset.find((p) => p.dataset === n)?.objective));
    L.push(`| ${t.index}${t === r.best ? ' (best)' : ''} | \`${JSON.stringify(t.values)}\` | ${cells.join(' | ')} | ${fmt(t.aggregate.mean)} | ${fmt(t.aggregate.worst)} (${t.aggregate.worstDataset ?? '–'}) |`);
  }
  L.push('');
  L.push(
    'How to read it: the ranking is by the mean, so the best point is the one that did best on average. A point that wins on average can still lose on some data set: compare its column with the others and look at the worst case. A winner whose worst data set is far below its mean is not a setting that works everywhere; a small gap between the top trials is within the noise of one seed and a few validation windows.',
    '',
  );
  if (r.best) {
    L.push('## Best point', '', `\`${JSON.stringify(r.best.values)}\`: mean ${fmt(r.best.aggregate.mean)}, worst ${fmt(r.best.aggregate.worst)} on ${r.best.aggregate.worstDataset ?? '–'}.`, '');
  } else L.push('## Best point', '', 'No trial has a value on every data set: there is no best point.', '');
  if (r.finalTest.length) {
    L.push('## The best point on test', '', 'Trained once more per data set with the same seed and evaluated on that data set\'s test windows, with the baselines on the same windows.', '');
    for (const f of r.finalTest) {
      L.push(`### ${f.dataset}`, '');
      if (f.error) L.push(`Failed: ${f.error}`, '');
      if (f.rows.length) {
        L.push('| forecaster | skill vs persistence | RMSE | MAE | direction accuracy |', '| --- | --- | --- | --- | --- |');
        for (const x of f.rows) L.push(`| ${x.name}${x.kind === 'baseline' ? ' (baseline)' : ''} | ${fmt(x.skill)} | ${fmt(x.rmse, 6)} | ${fmt(x.mae, 6)} | ${fmt(x.directionAccuracy, 3)} |`);
        L.push('', `Test windows: ${spanText(f.windowsUsed?.test)}.`, '');
      }
      if (f.backtest?.length) {
        L.push('| back-test | Sharpe | total return | trades |', '| --- | --- | --- | --- |');
        for (const b of f.backtest) L.push(`| ${b.key} | ${fmt(b.sharpe, 3)} | ${fmt(b.totalReturn, 4)} | ${b.trades ?? '–'} |`);
        L.push('');
      }
    }
  }
  if (r.notes.length) L.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return L.join('\n');
}
