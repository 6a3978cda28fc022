/**
 * Study configs: which base models, which fine-tuning methods (with their hyper-parameters), which data and
 * splits, how many seeds and which budget rule. Read from JSON or YAML, checked field by field so a mistake
 * names the key, and resolved into a list of runs (model × method × seed) that the runner executes.
 *
 * Defaults live here and are documented in docs/study.md; every resolved value is written into the results
 * JSON so a report always says what was actually run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { SplitConfig } from '../data/splits.js';
import { parseTime } from '../data/time.js';
import type { Scaling } from '../data/transforms.js';

/**
 * Per-method default peak learning rates. Methods that train few parameters far from the output (prefix and
 * prompt tuning) need learning rates one to two orders of magnitude above full fine-tuning, which with the same
 * rate would simply not move; full fine-tuning with an adapter's rate destroys the base model. The values are the
 * usual starting points of the methods' papers and the PEFT library's examples, scaled for small models.
 */
export const DEFAULT_LR: Readonly<Record<string, number>> = {
  full: 1e-4,
  'mql5-stacked': 5e-5,
  lora: 1e-3,
  dora: 1e-3,
  rslora: 1e-3,
  qlora: 1e-3,
  ia3: 3e-3,
  bitfit: 1e-3,
  layernorm: 1e-3,
  houlsby: 1e-3,
  pfeiffer: 1e-3,
  parallel: 1e-3,
  prefix: 1e-2,
  prompt: 3e-2,
};

/** Rate for a method not in the table: an adapter-like default. */
export const FALLBACK_LR = 1e-3;

export interface ModelSpec {
  /** Label used in run folders and the report. */
  name: string;
  /** A checkpoint folder (config.json + safetensors) … */
  path?: string;
  /** … or a preset initialised from scratch with the run's seed (for experiments without a pre-trained base). */
  preset?: string;
}

export interface MethodSpec {
  /** Label (unique in the study); defaults to `method`. */
  name: string;
  /** The method as src/peft names it (full, lora, bitfit, prefix, …). */
  method: string;
  lr: number;
  /** When given, each rate is tried (one seed) and the one with the lowest validation loss is used. */
  lrSweep?: number[];
  /** Method hyper-parameters passed to the method (rank, alpha, bottleneck size, virtual tokens, …). */
  params: Record<string, unknown>;
}

export interface DataSpec {
  /** OHLCV file (any format src/data/loaders/ohlcv.ts reads). */
  file: string;
  instrument: string;
  /** Window: known bars, horizon, scaling and decimals written. */
  known: number;
  horizon: number;
  scaling: Scaling;
  precision: number;
  pipSize?: number;
  /** Chronological split (fractions or dates, gap). */
  split: Pick<SplitConfig, 'fractions' | 'dates' | 'gap' | 'trainStride' | 'valStride' | 'testStride'>;
  /** Use only the last this many bars of the file (small studies; 0 = all). */
  lastBars: number;
  /** At most this many test windows are forecast (the last ones; generation is the slow part). 0 = all. */
  maxTestWindows: number;
  /** At most this many validation windows scored for held-out loss. 0 = all. */
  maxValWindows: number;
  /** Held-out pre-training data (another instrument), for forgetting: loss before and after fine-tuning. */
  forgetting?: { file: string; lastBars: number; maxWindows: number };
  /**
   * Part of the file studied (tune's periods). Dates: bars with start <= time < end, then `lastBars` of those.
   * Segment: `lastBars` first, then the index-th of `count` equal consecutive blocks of that span.
   */
  period?: PeriodSpec;
}

export type PeriodSpec = { kind: 'dates'; start?: string; end?: string } | { kind: 'segment'; index: number; count: number };

/** `tune.periods`: a count of equal consecutive segments, or date ranges (see resolvePeriods). */
export type PeriodsSpec = number | Array<{ start?: string; end?: string }>;

export type BudgetRule = { rule: 'epochs'; epochs: number } | { rule: 'tokens'; tokens: number };

export interface TrainingSpec {
  batchSize: number;
  schedule: 'constant' | 'linear' | 'cosine';
  warmup: number;
  /** 'answer': loss only on the forecast part; 'all': on the whole line (the MQL5 article's way). */
  loss: 'answer' | 'all';
  /** Validation loss every this many steps (0: five times per run), for the loss curves. */
  evalEvery: number;
  clip: number;
  weightDecay: number;
}

export interface GenerationSpec {
  /** 1 = greedy constrained decoding; K > 1 = K samples, scored by their median. */
  samples: number;
  /** Sample even with one forecast per window (the article's do_sample); default: greedy when samples = 1. */
  sample: boolean;
  temperature: number;
  topP?: number;
}

export interface StudyConfig {
  name: string;
  description: string;
  /** Folder of the config file: relative paths in it resolve from here. */
  baseDir: string;
  models: ModelSpec[];
  methods: MethodSpec[];
  data: DataSpec;
  seeds: number[];
  budget: BudgetRule;
  training: TrainingSpec;
  generation: GenerationSpec;
  /**
   * 'honest' (default): chronological splits, non-overlapping test windows, baselines. 'mql5-leaky': the
   * article's recipe — overlapping windows shuffled into a random 80/20 split, so test windows share bars with
   * training windows. Only for measuring how much that inflates the numbers.
   */
  protocol: 'honest' | 'mql5-leaky';
  /**
   * A twin run of the same grid under another protocol (the article's leaky recipe next to its honest twin): run
   * into <out>/twin/ and compared in the report, with the leak's effect computed from both.
   */
  twin?: { protocol: 'honest' | 'mql5-leaky'; loss?: 'answer' | 'all' };
  /**
   * Back-test of every method's first-seed test forecasts (src/backtest/): long/short by the sign of the predicted
   * move beyond `thresholdBps`, held for the horizon, paying `spreadBps` per round trip. Default on.
   */
  backtest: { enabled: boolean; thresholdBps: number; spreadBps: number };
  /** The multi-task case: a forecasting and a sentiment adapter of `method` on one base (first model, first seed). */
  multiTask?: { method: string; lr: number; train: string; eval: string; maxTrain: number; maxEval: number };
  /**
   * `fintune tune` only: score each trial on several data sets — instruments (each the `data` mapping with some
   * keys replaced) × periods — instead of `data` alone. Ignored by `fintune study`.
   */
  tune?: { instruments: DataSpec[]; periods: PeriodsSpec };
}

export class ConfigError extends Error {}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(o: Obj, key: string, where: string, dflt: number | undefined, check: (x: number) => boolean = Number.isFinite, what = 'a number'): number {
  const v = o[key];
  if (v === undefined || v === null) {
    if (dflt === undefined) throw new ConfigError(`${where}.${key} is required (${what})`);
    return dflt;
  }
  if (typeof v !== 'number' || !check(v)) throw new ConfigError(`${where}.${key} must be ${what}, got ${JSON.stringify(v)}`);
  return v;
}

const posInt = (x: number): boolean => Number.isInteger(x) && x >= 1;
const nonNegInt = (x: number): boolean => Number.isInteger(x) && x >= 0;
const positive = (x: number): boolean => Number.isFinite(x) && x > 0;

function bool(o: Obj, key: string, where: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw new ConfigError(`${where}.${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function str(o: Obj, key: string, where: string, dflt?: string): string {
  const v = o[key];
  if (v === undefined || v === null) {
    if (dflt === undefined) throw new ConfigError(`${where}.${key} is required (a string)`);
    return dflt;
  }
  if (typeof v !== 'string' || v === '') throw new ConfigError(`${where}.${key} must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function oneOf<T extends string>(o: Obj, key: string, where: string, choices: readonly T[], dflt: T): T {
  const v = o[key] ?? dflt;
  if (!choices.includes(v as T)) throw new ConfigError(`${where}.${key} must be one of ${choices.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** Decimals written by default for a scaling: enough to resolve a typical bar-to-bar move, few enough tokens. */
export function defaultPrecision(scaling: Scaling): number {
  switch (scaling) {
    case 'bps':
      return 1;
    case 'pips':
      return 1;
    case 'pct':
      return 2;
    case 'logret':
      return 4;
    case 'zscore':
      return 2;
    case 'raw':
      return 4;
  }
}

const SCALINGS: readonly Scaling[] = ['raw', 'pips', 'bps', 'pct', 'logret', 'zscore'];

/** Reads a config file (JSON when it parses as JSON or ends in .json, YAML otherwise). */
export function readStudyConfig(file: string, overrides: { quick?: boolean; seeds?: number } = {}): StudyConfig {
  if (!fs.existsSync(file)) throw new ConfigError(`${file}: no such file`);
  const text = fs.readFileSync(file, 'utf8');
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'} (${(err as Error).message})`);
  }
  try {
    return resolveStudyConfig(raw, path.dirname(path.resolve(file)), overrides);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${file}: ${err.message}`);
    throw err;
  }
}

export function resolveStudyConfig(raw: unknown, baseDir: string, overrides: { quick?: boolean; seeds?: number } = {}): StudyConfig {
  if (!isObj(raw)) throw new ConfigError('the config must be a mapping with models, methods and data');
  const name = str(raw, 'name', 'config', 'study');
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new ConfigError(`config.name must use letters, digits, '.', '_' or '-' (it names folders), got ${JSON.stringify(name)}`);

  // ---- models
  if (!Array.isArray(raw.models) || raw.models.length === 0) throw new ConfigError('config.models must be a non-empty list of {name, path} or {name, preset}');
  const models: ModelSpec[] = raw.models.map((m, i) => {
    const where = `models[${i}]`;
    if (typeof m === 'string') return { name: m, preset: m };
    if (!isObj(m)) throw new ConfigError(`${where} must be a mapping {name, path} or {name, preset}`);
    const p = m.path === undefined ? undefined : path.resolve(baseDir, str(m, 'path', where));
    const preset = m.preset === undefined ? undefined : str(m, 'preset', where);
    if ((p ? 1 : 0) + (preset ? 1 : 0) !== 1) throw new ConfigError(`${where} needs exactly one of path (a checkpoint folder) or preset`);
    if (p && !fs.existsSync(path.join(p, 'config.json'))) throw new ConfigError(`${where}.path ${p}: no config.json there`);
    return { name: str(m, 'name', where, preset ?? path.basename(p!)), path: p, preset };
  });
  unique(models.map((m) => m.name), 'models[].name');

  // ---- methods
  if (!Array.isArray(raw.methods) || raw.methods.length === 0) throw new ConfigError('config.methods must be a non-empty list');
  const methods: MethodSpec[] = raw.methods.map((m, i) => {
    const where = `methods[${i}]`;
    const o: Obj = typeof m === 'string' ? { method: m } : isObj(m) ? m : {};
    if (typeof m !== 'string' && !isObj(m)) throw new ConfigError(`${where} must be a method name or a mapping {method, lr, params}`);
    const method = str(o, 'method', where, typeof o.name === 'string' ? o.name : undefined);
    const lr = num(o, 'lr', where, DEFAULT_LR[method] ?? FALLBACK_LR, positive, 'a positive number');
    let lrSweep: number[] | undefined;
    if (o.lrSweep !== undefined) {
      if (!Array.isArray(o.lrSweep) || o.lrSweep.length === 0 || !o.lrSweep.every((x) => typeof x === 'number' && x > 0)) {
        throw new ConfigError(`${where}.lrSweep must be a non-empty list of positive numbers`);
      }
      lrSweep = o.lrSweep as number[];
    }
    const params = o.params === undefined ? {} : o.params;
    if (!isObj(params)) throw new ConfigError(`${where}.params must be a mapping of hyper-parameters`);
    return { name: str(o, 'name', where, method), method, lr, lrSweep, params };
  });
  unique(methods.map((m) => m.name), 'methods[].name');

  // ---- data
  if (!isObj(raw.data)) throw new ConfigError('config.data is required: {file, instrument, known, horizon, scaling, split}');
  const data = resolveData(raw.data, baseDir, 'data');

  // ---- seeds: a count (seeds 0..n-1) or an explicit list; --quick runs one.
  let seeds: number[];
  const rs = raw.seeds ?? 3;
  if (typeof rs === 'number' && posInt(rs)) seeds = Array.from({ length: rs }, (_, i) => i);
  else if (Array.isArray(rs) && rs.length > 0 && rs.every((s) => typeof s === 'number' && nonNegInt(s))) seeds = rs as number[];
  else throw new ConfigError(`config.seeds must be a count or a list of non-negative integers, got ${JSON.stringify(rs)}`);
  if (overrides.seeds !== undefined) seeds = Array.from({ length: overrides.seeds }, (_, i) => i);
  if (overrides.quick) seeds = seeds.slice(0, 1);

  // ---- budget: one rule for every method, so no method wins by training longer.
  const b = raw.budget ?? { rule: 'epochs', epochs: 1 };
  if (!isObj(b)) throw new ConfigError('config.budget must be {rule: epochs, epochs: N} or {rule: tokens, tokens: N}');
  const rule = oneOf(b, 'rule', 'budget', ['epochs', 'tokens'] as const, 'epochs');
  const budget: BudgetRule = rule === 'epochs' ? { rule, epochs: num(b, 'epochs', 'budget', 1, positive, 'a positive number') } : { rule, tokens: num(b, 'tokens', 'budget', undefined, posInt, 'a positive integer') };

  const t = isObj(raw.training) ? raw.training : {};
  const training: TrainingSpec = {
    batchSize: num(t, 'batchSize', 'training', 8, posInt, 'a positive integer'),
    schedule: oneOf(t, 'schedule', 'training', ['constant', 'linear', 'cosine'] as const, 'linear'),
    warmup: num(t, 'warmup', 'training', 0, nonNegInt, 'an integer >= 0'),
    loss: oneOf(t, 'loss', 'training', ['answer', 'all'] as const, 'answer'),
    evalEvery: num(t, 'evalEvery', 'training', 0, nonNegInt, 'an integer >= 0'),
    clip: num(t, 'clip', 'training', 1, (x) => x >= 0, 'a number >= 0'),
    weightDecay: num(t, 'weightDecay', 'training', 0, (x) => x >= 0, 'a number >= 0'),
  };
  const g = isObj(raw.generation) ? raw.generation : {};
  const generation: GenerationSpec = {
    samples: num(g, 'samples', 'generation', 1, posInt, 'a positive integer'),
    sample: bool(g, 'sample', 'generation', false),
    temperature: num(g, 'temperature', 'generation', 1, positive, 'a positive number'),
    topP: g.topP === undefined ? undefined : num(g, 'topP', 'generation', undefined, (x) => x > 0 && x <= 1, 'a number in (0, 1]'),
  };
  return {
    name,
    description: typeof raw.description === 'string' ? raw.description : '',
    baseDir,
    models,
    methods,
    data,
    seeds,
    budget,
    training,
    generation,
    protocol: oneOf(raw, 'protocol', 'config', ['honest', 'mql5-leaky'] as const, 'honest'),
    twin: resolveTwin(raw.twin),
    multiTask: resolveMultiTask(raw.multiTask, baseDir),
    backtest: resolveBacktest(raw.backtest),
    tune: resolveTune(raw.tune, baseDir, data),
  };
}

/** One `data` mapping (the config's own, or a tune data set's merged over it), checked key by key under `where`. */
function resolveData(d: Obj, baseDir: string, where: string): DataSpec {
  const scaling = oneOf(d, 'scaling', where, SCALINGS, 'bps');
  const file = path.resolve(baseDir, str(d, 'file', where));
  if (!fs.existsSync(file)) throw new ConfigError(`${where}.file ${file}: no such file`);
  const split = d.split === undefined ? {} : d.split;
  if (!isObj(split)) throw new ConfigError(`${where}.split must be a mapping (fractions or dates, gap)`);
  let forgetting: DataSpec['forgetting'];
  if (d.forgetting !== undefined) {
    if (!isObj(d.forgetting)) throw new ConfigError(`${where}.forgetting must be a mapping {file, lastBars, maxWindows}`);
    const f = path.resolve(baseDir, str(d.forgetting, 'file', `${where}.forgetting`));
    if (!fs.existsSync(f)) throw new ConfigError(`${where}.forgetting.file ${f}: no such file`);
    forgetting = { file: f, lastBars: num(d.forgetting, 'lastBars', `${where}.forgetting`, 0, nonNegInt, 'an integer >= 0'), maxWindows: num(d.forgetting, 'maxWindows', `${where}.forgetting`, 64, posInt, 'a positive integer') };
  }
  return {
    file,
    instrument: str(d, 'instrument', where, path.basename(file).replace(/\.[^.]*$/, '')),
    known: num(d, 'known', where, 20, posInt, 'a positive integer'),
    horizon: num(d, 'horizon', where, 5, posInt, 'a positive integer'),
    scaling,
    // At least one decimal: the constrained decoder recognises a number's end by its last decimal digit.
    precision: num(d, 'precision', where, defaultPrecision(scaling), (x) => Number.isInteger(x) && x >= 1 && x <= 8, 'an integer from 1 to 8 (the constrained decoder needs a decimal point to know where a number ends)'),
    pipSize: d.pipSize === undefined ? undefined : num(d, 'pipSize', where, undefined, positive, 'a positive number'),
    split: split as DataSpec['split'],
    lastBars: num(d, 'lastBars', where, 0, nonNegInt, 'an integer >= 0'),
    maxTestWindows: num(d, 'maxTestWindows', where, 0, nonNegInt, 'an integer >= 0'),
    maxValWindows: num(d, 'maxValWindows', where, 0, nonNegInt, 'an integer >= 0'),
    forgetting,
  };
}

/**
 * Keys a tune data set may replace. The window (`known`, `horizon`) is not among them: it is shared by every data
 * set (or searched), so that one trial means one setting everywhere and its scores can be averaged.
 */
const INSTRUMENT_KEYS = ['file', 'instrument', 'scaling', 'precision', 'pipSize', 'split', 'lastBars', 'maxTestWindows', 'maxValWindows'];

/**
 * A tune data set: `base` (the config's `data`) with some keys replaced. A new file drops the base's instrument
 * label and pip size (they described the other file); a new scaling drops the base's precision (its default
 * depends on the scaling).
 */
export function resolveTuneInstrument(base: DataSpec, entry: unknown, baseDir: string, where: string): DataSpec {
  const o: Obj = typeof entry === 'string' ? { file: entry } : isObj(entry) ? entry : (() => {
    throw new ConfigError(`${where} must be a file name or a mapping {file, instrument, …}`);
  })();
  for (const k of Object.keys(o)) {
    if (!INSTRUMENT_KEYS.includes(k)) {
      const why = k === 'known' || k === 'horizon' ? ' (the window is shared by every data set; search it with --space data.' + k + ')' : '';
      throw new ConfigError(`${where}.${k} is not a data-set key${why}; allowed: ${INSTRUMENT_KEYS.join(', ')}`);
    }
  }
  const merged: Obj = { ...(base as unknown as Obj) };
  if (o.file !== undefined) {
    delete merged.instrument;
    delete merged.pipSize;
  }
  if (o.scaling !== undefined) delete merged.precision;
  return resolveData({ ...merged, ...o }, baseDir, where);
}

/**
 * `tune.periods`: a count of consecutive, non-overlapping segments of each data set's span, or date ranges
 * `[{start, end}]` (start inclusive, end exclusive), in time order and not overlapping. Each period gets its own
 * train / validation / test split, so no period's test bars are in another's training or validation part.
 */
export function resolvePeriods(v: unknown, where = 'tune.periods'): PeriodsSpec {
  if (v === undefined || v === null) return 1;
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 1 || v > 100) throw new ConfigError(`${where} must be a count from 1 to 100 or a list of {start, end}, got ${JSON.stringify(v)}`);
    return v;
  }
  if (!Array.isArray(v) || v.length === 0) throw new ConfigError(`${where} must be a count or a non-empty list of {start, end}, got ${JSON.stringify(v)}`);
  let prevEnd = -Infinity;
  return v.map((p, i) => {
    const w = `${where}[${i}]`;
    if (!isObj(p)) throw new ConfigError(`${w} must be a mapping {start, end}`);
    for (const k of Object.keys(p)) if (k !== 'start' && k !== 'end') throw new ConfigError(`${w}.${k} is not a period key (start, end)`);
    const date = (k: 'start' | 'end'): { text?: string; ms: number } => {
      const x = p[k];
      if (x === undefined || x === null) return { ms: k === 'start' ? -Infinity : Infinity };
      // YAML reads an unquoted 2020-01-01 as a Date.
      const text = x instanceof Date ? x.toISOString().slice(0, 10) : typeof x === 'string' ? x : '';
      const ms = text ? parseTime(text, 'iso') : NaN;
      if (Number.isNaN(ms)) throw new ConfigError(`${w}.${k} must be a date (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS), got ${JSON.stringify(x)}`);
      return { text, ms };
    };
    const s = date('start');
    const e = date('end');
    if (s.text === undefined && e.text === undefined) throw new ConfigError(`${w} needs start, end or both`);
    if (!(s.ms < e.ms)) throw new ConfigError(`${w}.start (${s.text}) must be before ${w}.end (${e.text})`);
    if (s.ms < prevEnd) throw new ConfigError(`${w} overlaps the period before it (periods must be in time order and disjoint: one period's test bars would be another's training)`);
    prevEnd = e.ms;
    return { start: s.text, end: e.text };
  });
}

function resolveTune(v: unknown, baseDir: string, data: DataSpec): StudyConfig['tune'] {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new ConfigError('config.tune must be a mapping {datasets, periods}');
  for (const k of Object.keys(v)) if (k !== 'datasets' && k !== 'periods') throw new ConfigError(`tune.${k} is not a tune key (datasets, periods)`);
  let instruments = [data];
  if (v.datasets !== undefined) {
    if (!Array.isArray(v.datasets) || v.datasets.length === 0) throw new ConfigError('tune.datasets must be a non-empty list of files or {file, instrument, …} mappings');
    instruments = v.datasets.map((e, i) => resolveTuneInstrument(data, e, baseDir, `tune.datasets[${i}]`));
  }
  const periods = resolvePeriods(v.periods);
  checkTuneData(instruments, periods, 'tune.datasets');
  return { instruments, periods };
}

/** Checks that hold however the data sets were given (config or command line); instrument labels name folders. */
export function checkTuneData(instruments: DataSpec[], periods: PeriodsSpec, where: string): void {
  unique(instruments.map((d) => d.instrument), `${where}[].instrument`);
  if (periods !== 1) {
    instruments.forEach((d) => {
      if (d.split.dates) {
        throw new ConfigError(`tune.periods needs fraction splits, but ${d.instrument} has split.dates (one split for the whole file); give split.fractions so each period gets its own train / validation / test`);
      }
    });
  }
}

function unique(names: string[], what: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new ConfigError(`${what}: "${n}" appears twice`);
    if (!/^[A-Za-z0-9._-]+$/.test(n)) throw new ConfigError(`${what}: "${n}" must use letters, digits, '.', '_' or '-' (it names folders)`);
    seen.add(n);
  }
}

/** One run of the grid: a model, a method at one learning rate, a seed. */
export interface RunSpec {
  id: string;
  model: ModelSpec;
  method: MethodSpec;
  lr: number;
  seed: number;
  /** 'sweep' runs pick the learning rate on validation loss; 'main' runs are reported. */
  kind: 'main' | 'sweep';
}

export function runId(model: string, method: string, seed: number, lr?: number): string {
  return lr === undefined ? `${model}/${method}/seed-${seed}` : `${model}/${method}/sweep-lr-${lr}`;
}

function resolveTwin(v: unknown): StudyConfig['twin'] {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new ConfigError('config.twin must be a mapping {protocol: honest | mql5-leaky, loss?: answer | all}');
  return {
    protocol: oneOf(v, 'protocol', 'twin', ['honest', 'mql5-leaky'] as const, 'honest'),
    loss: v.loss === undefined ? undefined : oneOf(v, 'loss', 'twin', ['answer', 'all'] as const, 'answer'),
  };
}

function resolveMultiTask(v: unknown, baseDir: string): StudyConfig['multiTask'] {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new ConfigError('config.multiTask must be a mapping {method, train, eval, maxTrain, maxEval, lr}');
  const method = str(v, 'method', 'multiTask', 'bitfit');
  const file = (k: string): string => {
    const f = path.resolve(baseDir, str(v, k, 'multiTask'));
    if (!fs.existsSync(f)) throw new ConfigError(`multiTask.${k} ${f}: no such file`);
    return f;
  };
  return {
    method,
    lr: num(v, 'lr', 'multiTask', DEFAULT_LR[method] ?? FALLBACK_LR, positive, 'a positive number'),
    train: file('train'),
    eval: file('eval'),
    maxTrain: num(v, 'maxTrain', 'multiTask', 512, posInt, 'a positive integer'),
    maxEval: num(v, 'maxEval', 'multiTask', 200, posInt, 'a positive integer'),
  };
}

function resolveBacktest(v: unknown): StudyConfig['backtest'] {
  if (v === false) return { enabled: false, thresholdBps: 0, spreadBps: 1 };
  const o: Obj = v === undefined || v === null || v === true ? {} : isObj(v) ? v : (() => {
    throw new ConfigError('config.backtest must be false or a mapping {thresholdBps, spreadBps}');
  })();
  return {
    enabled: true,
    thresholdBps: num(o, 'thresholdBps', 'backtest', 0, (x) => x >= 0, 'a number >= 0'),
    spreadBps: num(o, 'spreadBps', 'backtest', 1, (x) => x >= 0, 'a number >= 0'),
  };
}
