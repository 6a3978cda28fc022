/**
 * The study's data: one instrument's closes, split and cut into windows by src/data/, turned into byte-level
 * training examples, plus the summaries the report opens with (spans, splits, bad rows, return distribution).
 *
 * Two protocols:
 *  - honest: chronological train / validation / test blocks (src/data/splits.ts), test windows non-overlapping;
 *  - mql5-leaky: the MQL5 article's recipe — every overlapping window of the whole series, shuffled, then cut
 *    80 / 10 / 10. A test window then shares almost all its bars with training windows (and its future is
 *    literally inside some of them). Kept only to measure how much that inflates the numbers.
 */
import { loadOhlcv, type OhlcvSeries } from '../data/loaders/ohlcv.js';
import { returnSummary, type ReturnSummary } from '../data/inspect.js';
import { splitSeries, type SplitDescription } from '../data/splits.js';
import { formatTime, parseDateParam } from '../data/time.js';
import { cutWindows, resolveWindowConfig, seriesBars, type PriceWindow, type WindowConfig } from '../data/windows.js';
import { createRng } from '../tensor/rng.js';
import { IGNORE_INDEX, type Example } from '../train/data.js';
import type { DataSpec, StudyConfig } from './config.js';

export interface StudyData {
  cfg: WindowConfig;
  train: PriceWindow[];
  val: PriceWindow[];
  test: PriceWindow[];
  /** Closes of the training part, for MASE's scale and the AR baseline. */
  trainCloses: number[];
  /** The studied series' times and closes (windows index into them). */
  time: Float64Array;
  close: Float64Array;
  summary: DataSummary;
}

export interface DataSummary {
  file: string;
  instrument: string;
  protocol: StudyConfig['protocol'];
  rows: number;
  first: string;
  last: string;
  badRows: number;
  badRowExamples: string[];
  window: { known: number; horizon: number; scaling: string; precision: number };
  /** `from`/`to`: bar indices [from, to) into the studied span (honest protocol only). */
  parts: Array<{ name: string; first: string; last: string; bars: number; windows: number; stride: number; from?: number; to?: number }>;
  /** Windows actually forecast (the last ones of the test part when capped). */
  testWindowsUsed: number;
  /** Simple close-to-close returns of the studied span, in percent. */
  returns: ReturnSummary | null;
  /** Histogram of those returns (for the report's chart). */
  returnHistogram: Array<{ from: number; to: number; count: number }>;
  /** Share of test windows whose last true close is above the last known one (the direction label's balance). */
  testUpShare: number | null;
}

/** Bars [from, to) of a series. */
function sliceBars(s: OhlcvSeries, from: number, to: number): OhlcvSeries {
  if (from <= 0 && to >= s.time.length) return s;
  const cut = <T extends Float64Array | Int32Array | undefined>(a: T): T => (a ? (a.slice(from, to) as T) : a);
  return { ...s, time: cut(s.time), open: cut(s.open), high: cut(s.high), low: cut(s.low), close: cut(s.close), adjClose: cut(s.adjClose), volume: cut(s.volume), lines: cut(s.lines) };
}

/** The last `n` bars of a series (0 = all): small studies use a recent slice. */
export function tailSeries(s: OhlcvSeries, n: number): OhlcvSeries {
  if (n <= 0 || n >= s.time.length) return s;
  return sliceBars(s, s.time.length - n, s.time.length);
}

/**
 * The span a data set studies: its period (tune's periods) and `lastBars`. Date periods select bars first and
 * `lastBars` keeps the last of those; segments cut the `lastBars` span into equal consecutive blocks, so the
 * segments of one file never share a bar.
 */
export function studySpan(s: OhlcvSeries, d: Pick<DataSpec, 'lastBars' | 'period'>): OhlcvSeries {
  const p = d.period;
  if (!p) return tailSeries(s, d.lastBars);
  if (p.kind === 'dates') {
    const lo = p.start === undefined ? -Infinity : parseDateParam(p.start, 'period.start');
    const hi = p.end === undefined ? Infinity : parseDateParam(p.end, 'period.end');
    let from = 0;
    while (from < s.time.length && s.time[from]! < lo) from++;
    let to = from;
    while (to < s.time.length && s.time[to]! < hi) to++;
    if (to === from) throw new Error(`${s.file}: no bars in the period ${p.start ?? '…'} to ${p.end ?? '…'}`);
    return tailSeries(sliceBars(s, from, to), d.lastBars);
  }
  const span = tailSeries(s, d.lastBars);
  const n = span.time.length;
  return sliceBars(span, Math.floor((p.index * n) / p.count), Math.floor(((p.index + 1) * n) / p.count));
}

export function windowConfigOf(d: DataSpec): WindowConfig {
  return resolveWindowConfig({ known: d.known, horizon: d.horizon, field: 'close', scaling: d.scaling, precision: d.precision, pipSize: d.pipSize, separator: ' ' });
}

export async function loadStudyData(config: Pick<StudyConfig, 'data' | 'protocol'>): Promise<StudyData> {
  const d = config.data;
  // Bad rows are skipped and counted, not fatal: the report lists how many, with the first few file:line notes.
  const full = await loadOhlcv(d.file, { onBadRow: 'skip' });
  const series = studySpan(full, d);
  const cfg = windowConfigOf(d);
  let train: PriceWindow[], val: PriceWindow[], test: PriceWindow[];
  let parts: DataSummary['parts'];
  let trainCloses: number[];
  if (config.protocol === 'honest') {
    const split = splitSeries(series, { ...d.split, window: cfg });
    ({ train, val, test } = split.windows);
    parts = partsOf(split.description);
    const tr = split.description.parts[0]!;
    trainCloses = Array.from(series.close.subarray(tr.from, tr.to));
  } else {
    // The article's recipe: all overlapping windows of the series, shuffled once, split by position.
    const all = cutWindows(seriesBars(series, 'close'), series.time, { ...cfg, stride: 1 }, { what: `${d.file}` });
    const perm = createRng(0, 'study.mql5.shuffle').permutation(all.length);
    const shuffled = Array.from(perm, (i) => all[i]!);
    const nTr = Math.floor(shuffled.length * 0.8);
    const nVa = Math.floor(shuffled.length * 0.1);
    train = shuffled.slice(0, nTr);
    val = shuffled.slice(nTr, nTr + nVa);
    // Test windows in time order so the report's plots and the bootstrap's blocks read naturally.
    test = shuffled.slice(nTr + nVa).sort((a, b) => a.start - b.start);
    const span = (ws: PriceWindow[]): { first: string; last: string } => {
      const s = Math.min(...ws.map((w) => w.startTime));
      const e = Math.max(...ws.map((w) => w.endTime));
      return { first: formatTime(s), last: formatTime(e) };
    };
    parts = [
      { name: 'train', ...span(train), bars: series.time.length, windows: train.length, stride: 1 },
      { name: 'val', ...span(val), bars: series.time.length, windows: val.length, stride: 1 },
      { name: 'test', ...span(test), bars: series.time.length, windows: test.length, stride: 1 },
    ];
    trainCloses = Array.from(series.close.subarray(0, Math.floor(series.close.length * 0.8)));
  }
  if (d.maxTestWindows > 0 && test.length > d.maxTestWindows) test = test.slice(test.length - d.maxTestWindows);
  if (d.maxValWindows > 0 && val.length > d.maxValWindows) val = val.slice(val.length - d.maxValWindows);
  const closes = Array.from(series.close);
  const up = test.filter((w) => w.target[w.target.length - 1]![0]! > w.ref.anchor).length;
  const summary: DataSummary = {
    file: d.file,
    instrument: d.instrument,
    protocol: config.protocol,
    rows: series.time.length,
    first: formatTime(series.time[0]!),
    last: formatTime(series.time[series.time.length - 1]!),
    badRows: full.badRows.length,
    badRowExamples: full.badRows.slice(0, 5).map((b) => `${b.file}:${b.line}: ${b.message}`),
    window: { known: cfg.known, horizon: cfg.horizon, scaling: cfg.scaling, precision: cfg.precision ?? 0 },
    parts,
    testWindowsUsed: test.length,
    returns: returnSummary(closes) ?? null,
    returnHistogram: histogram(closes),
    testUpShare: test.length ? up / test.length : null,
  };
  return { cfg, train, val, test, trainCloses, time: series.time, close: series.close, summary };
}

function partsOf(desc: SplitDescription): DataSummary['parts'] {
  return desc.parts.map((p) => ({ name: p.name, first: p.first, last: p.last, bars: p.bars, windows: p.windows, stride: p.stride, from: p.from, to: p.to }));
}

/** 30 equal bins over the 0.5–99.5 % range of percent returns (the extreme tails are clamped into the end bins). */
function histogram(closes: number[]): DataSummary['returnHistogram'] {
  const r: number[] = [];
  for (let i = 1; i < closes.length; i++) if (closes[i - 1]! > 0) r.push(100 * (closes[i]! / closes[i - 1]! - 1));
  if (r.length < 2) return [];
  const s = [...r].sort((a, b) => a - b);
  const lo = s[Math.floor(0.005 * (s.length - 1))]!;
  const hi = s[Math.ceil(0.995 * (s.length - 1))]!;
  if (!(hi > lo)) return [{ from: lo, to: hi, count: r.length }];
  const bins = 30;
  const w = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const x of r) counts[Math.min(bins - 1, Math.max(0, Math.floor((x - lo) / w)))]!++;
  return counts.map((count, i) => ({ from: lo + i * w, to: lo + (i + 1) * w, count }));
}

/** UTF-8 bytes as token ids: what a byte-level model reads (every fixture and preset covers ids 0–255). */
export function byteIds(text: string): Int32Array {
  return Int32Array.from(Buffer.from(text, 'utf8'));
}

/**
 * A window as a training example. With loss 'answer' only the forecast part is scored (the model is never asked
 * to predict the context it is given); 'all' scores the whole line like the article's plain-text training.
 */
export function windowExample(w: PriceWindow, cfg: WindowConfig, loss: 'answer' | 'all'): Example {
  const prompt = byteIds(w.knownText + cfg.separator);
  const all = byteIds(w.text);
  const inputIds = all.slice(0, -1);
  const labels = all.slice(1);
  if (loss === 'answer') for (let t = 0; t + 1 < prompt.length; t++) labels[t] = IGNORE_INDEX;
  return { inputIds, labels };
}
