/**
 * Chronological train / validation / test splits of one series, with windows cut inside each part.
 *
 * The rules (see docs/data.md):
 *  - parts are consecutive blocks of bars: train, then (after `gap` bars) validation, then (after `gap` bars) test;
 *  - a window lies entirely inside one part, so no validation or test bar is ever inside a training example;
 *  - test and validation windows do not overlap by default (stride = horizon); training windows use the
 *    window config's stride (1 by default);
 *  - a pre-training corpus on other instruments must end before the fine-tuning instrument's first validation
 *    timestamp (`assertPretrainBeforeValidation`, `cutPretrainWindows`);
 *  - the result records the resolved config and the seed; the same series, config and seed give the same split
 *    (the seed only orders the training windows when `shuffleTrain` is set).
 */
import { createRng } from '../tensor/rng.js';
import { DataError } from './errors.js';
import type { OhlcvSeries } from './loaders/ohlcv.js';
import { formatTime, parseDateParam } from './time.js';
import { cutWindows, resolveWindowConfig, seriesBars, windowLength, type PriceWindow, type WindowConfig, type WindowConfigInput } from './windows.js';

export type PartName = 'train' | 'val' | 'test';
export const PART_NAMES: readonly PartName[] = ['train', 'val', 'test'];
const PART_LABEL: Record<PartName, string> = { train: 'training', val: 'validation', test: 'test' };

export interface SplitConfig {
  /** Fractions of the bars for each part, in time order (the sum may be below 1 to leave the tail out). */
  fractions?: { train: number; val: number; test: number };
  /** Or dates: validation starts at valStart, test at testStart; test ends before testEnd when given. */
  dates?: { valStart: string; testStart: string; testEnd?: string; trainStart?: string };
  /** Bars left out between parts: a number, or 'window' for one window length. Default 0. */
  gap?: number | 'window';
  window?: WindowConfigInput;
  /** Window strides per part. Defaults: train = window.stride (1), val and test = horizon (non-overlapping). */
  trainStride?: number;
  valStride?: number;
  testStride?: number;
  /** Shuffle the training windows with `seed`. Default false (time order). */
  shuffleTrain?: boolean;
  seed?: number;
}

export const DEFAULT_FRACTIONS = { train: 0.7, val: 0.15, test: 0.15 };

export interface PartRange {
  name: PartName;
  /** Bar indices [from, to). */
  from: number;
  to: number;
  bars: number;
  /** First and last bar times, formatted. */
  first: string;
  last: string;
  stride: number;
  windows: number;
}

/** Everything needed to reproduce a split, as JSON. */
export interface SplitDescription {
  file: string;
  seed: number;
  config: { mode: 'fractions' | 'dates'; fractions?: SplitConfig['fractions']; dates?: SplitConfig['dates']; gap: number; shuffleTrain: boolean; window: WindowConfig };
  parts: PartRange[];
  /** Time of the first validation bar (ms): pre-training corpora must end before it. */
  firstValTime: number;
}

export interface Split {
  description: SplitDescription;
  windows: Record<PartName, PriceWindow[]>;
}

function checkFraction(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v >= 1) throw new Error(`${name} must be a number strictly between 0 and 1, got ${String(v)}`);
  return v;
}

/** Bar index ranges of the parts, before windows are cut. */
export function partRanges(time: ArrayLike<number>, config: SplitConfig, cfg: WindowConfig): { ranges: Record<PartName, [number, number]>; gap: number; mode: 'fractions' | 'dates' } {
  const n = time.length;
  const gapCfg = config.gap ?? 0;
  const gap = gapCfg === 'window' ? windowLength(cfg) : gapCfg;
  if (!Number.isInteger(gap) || gap < 0) throw new Error(`gap must be a non-negative integer or 'window', got ${String(gapCfg)}`);
  if (config.fractions && config.dates) throw new Error('give either fractions or dates for a split, not both');
  if (config.dates) {
    const d = config.dates;
    const valStart = parseDateParam(d.valStart, 'dates.valStart');
    const testStart = parseDateParam(d.testStart, 'dates.testStart');
    const testEnd = d.testEnd === undefined ? Infinity : parseDateParam(d.testEnd, 'dates.testEnd');
    const trainStart = d.trainStart === undefined ? -Infinity : parseDateParam(d.trainStart, 'dates.trainStart');
    if (!(trainStart < valStart)) throw new Error(`dates.trainStart (${d.trainStart}) must be before dates.valStart (${d.valStart})`);
    if (!(valStart < testStart)) throw new Error(`dates.valStart (${d.valStart}) must be before dates.testStart (${d.testStart})`);
    if (!(testStart < testEnd)) throw new Error(`dates.testStart (${d.testStart}) must be before dates.testEnd (${d.testEnd})`);
    const firstAtOrAfter = (t: number): number => {
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (time[mid]! < t) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    const a0 = firstAtOrAfter(trainStart);
    const a = firstAtOrAfter(valStart);
    const b = firstAtOrAfter(testStart);
    const c = firstAtOrAfter(testEnd);
    return { ranges: { train: [a0, a], val: [a + gap, b], test: [b + gap, c] }, gap, mode: 'dates' };
  }
  const f = config.fractions ?? DEFAULT_FRACTIONS;
  const ft = checkFraction('fractions.train', f.train);
  const fv = checkFraction('fractions.val', f.val);
  const fs = checkFraction('fractions.test', f.test);
  if (ft + fv + fs > 1 + 1e-9) throw new Error(`fractions.train + fractions.val + fractions.test must be at most 1, got ${ft + fv + fs}`);
  const a = Math.round(n * ft);
  const b = Math.round(n * (ft + fv));
  const c = Math.round(n * Math.min(1, ft + fv + fs));
  return { ranges: { train: [0, a], val: [a + gap, b], test: [b + gap, c] }, gap, mode: 'fractions' };
}

/** The parameter a user changes when a part is empty or too short. */
function partParameter(name: PartName, mode: 'fractions' | 'dates'): string {
  if (mode === 'fractions') return `fractions.${name}`;
  return name === 'train' ? 'dates.valStart (or dates.trainStart)' : name === 'val' ? 'dates.valStart / dates.testStart' : 'dates.testStart (or dates.testEnd)';
}

/** Splits a series and cuts windows inside each part. Throws, naming the parameter, when a part is empty or too short. */
export function splitSeries(series: OhlcvSeries, config: SplitConfig = {}): Split {
  const cfg = resolveWindowConfig(config.window);
  const seed = config.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`seed must be a non-negative integer, got ${seed}`);
  const { time } = series;
  const { ranges, gap, mode } = partRanges(time, config, cfg);
  const strides: Record<PartName, number> = {
    train: config.trainStride ?? cfg.stride,
    val: config.valStride ?? cfg.horizon,
    test: config.testStride ?? cfg.horizon,
  };
  for (const p of PART_NAMES) {
    const s = strides[p];
    if (!Number.isInteger(s) || s < 1) throw new Error(`${p}Stride must be a positive integer, got ${s}`);
  }
  const bars = seriesBars(series, cfg.field);
  const windows = {} as Record<PartName, PriceWindow[]>;
  const parts: PartRange[] = [];
  for (const p of PART_NAMES) {
    const [from, to] = ranges[p];
    const param = partParameter(p, mode);
    if (to <= from) {
      const gapNote = gap > 0 && p !== 'train' ? ` after a gap of ${gap} bars` : '';
      throw new DataError(`${series.file}: the split leaves the ${PART_LABEL[p]} part empty${gapNote} (${series.time.length} bars from ${formatTime(time[0]!)} to ${formatTime(time[time.length - 1]!)}); change ${param}${gap > 0 ? ' or gap' : ''}`);
    }
    const what = `the ${PART_LABEL[p]} part (${to - from} bars, ${formatTime(time[from]!)} .. ${formatTime(time[to - 1]!)}; set by ${param})`;
    windows[p] = cutWindows(bars, time, { ...cfg, stride: strides[p] }, { from, to, what: `${series.file}: ${what}` });
    parts.push({ name: p, from, to, bars: to - from, first: formatTime(time[from]!), last: formatTime(time[to - 1]!), stride: strides[p], windows: windows[p].length });
  }
  const shuffleTrain = config.shuffleTrain ?? false;
  if (shuffleTrain) {
    const perm = createRng(seed, 'data.split.train').permutation(windows.train.length);
    windows.train = Array.from(perm, (i) => windows.train[i]!);
  }
  const description: SplitDescription = {
    file: series.file,
    seed,
    config: { mode, gap, shuffleTrain, window: cfg, ...(mode === 'dates' ? { dates: config.dates } : { fractions: config.fractions ?? DEFAULT_FRACTIONS }) },
    parts,
    firstValTime: time[ranges.val[0]]!,
  };
  return { description, windows };
}

/**
 * Rejects a pre-training corpus (other instruments) that reaches the fine-tuning instrument's first validation
 * timestamp: a model pre-trained on EURUSD bars from the validation period has seen that period's market.
 */
export function assertPretrainBeforeValidation(split: SplitDescription, corpus: { name: string; lastTime: number }): void {
  if (!(corpus.lastTime < split.firstValTime)) {
    throw new DataError(
      `pre-training corpus ${corpus.name} ends ${formatTime(corpus.lastTime)}, not before the first validation timestamp ${formatTime(split.firstValTime)} of ${split.file}; ` +
        `end the corpus earlier (pretrainEnd before ${formatTime(split.firstValTime)}) or move the validation start later`,
    );
  }
}

/**
 * Windows from another instrument for pre-training, cut only from bars strictly before the fine-tuning split's
 * first validation timestamp (or an earlier `end`), and checked with assertPretrainBeforeValidation.
 */
export function cutPretrainWindows(series: OhlcvSeries, split: SplitDescription, window: WindowConfigInput = split.config.window, end?: number): PriceWindow[] {
  const cfg = resolveWindowConfig(window);
  const cutoff = end ?? split.firstValTime;
  if (cutoff > split.firstValTime) {
    assertPretrainBeforeValidation(split, { name: series.file, lastTime: cutoff });
  }
  let to = 0;
  while (to < series.time.length && series.time[to]! < cutoff) to++;
  const windows = cutWindows(seriesBars(series, cfg.field), series.time, cfg, {
    to,
    what: `${series.file} before ${formatTime(cutoff)} (pre-training corpus)`,
  });
  const last = windows[windows.length - 1]!;
  assertPretrainBeforeValidation(split, { name: series.file, lastTime: last.endTime });
  return windows;
}
