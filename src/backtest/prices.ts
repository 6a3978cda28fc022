/**
 * Prices as the back-test needs them: bar times, opens (we trade there) and closes (signals are decided there),
 * plus what depends only on the calendar — where the gaps are and how many bars make a year.
 *
 * Files are read through the project's OHLCV loader (`src/data/loaders/ohlcv.ts`), so bad rows are reported the
 * same way everywhere. A file without an Open column (a close-only series) uses the previous close as the open:
 * that is the price one could have traded at right after the previous bar, and never a later one.
 */
import path from 'node:path';
import { loadOhlcv } from '../data/loaders/ohlcv.js';
import { BacktestError } from './errors.js';

export interface PriceSeries {
  instrument: string;
  /** Where the bars came from, for messages. */
  source: string;
  /** Bar open times, milliseconds UTC, strictly increasing. */
  time: Float64Array;
  open: Float64Array;
  close: Float64Array;
}

const YEAR_MS = 365.25 * 86_400_000;

/**
 * `EURUSD_H4.csv` → `EURUSD_H4`, `AAPL.csv` → `AAPL`: the file name without its extension, which is the name
 * `fintune eval --data FILE` writes into its forecast records, so the two match without flags.
 */
export function instrumentFromFile(file: string): string {
  return path.basename(file).replace(/\.[^.]+$/, '');
}

/** Builds a series from plain arrays (tests, callers with their own data); checks what the engine relies on. */
export function makeSeries(
  instrument: string,
  time: ArrayLike<number>,
  close: ArrayLike<number>,
  open?: ArrayLike<number>,
  source = 'prices',
): PriceSeries {
  const n = time.length;
  if (n === 0) throw new BacktestError(`${source}: no bars`);
  if (close.length !== n || (open && open.length !== n)) {
    throw new BacktestError(`${source}: time, open and close must have the same length (${n}, ${open?.length ?? n}, ${close.length})`);
  }
  const t = Float64Array.from(time);
  const c = Float64Array.from(close);
  const o = open ? Float64Array.from(open) : new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (!open) o[i] = i === 0 ? c[0]! : c[i - 1]!;
    if (i > 0 && !(t[i]! > t[i - 1]!)) throw new BacktestError(`${source}: bar ${i} time is not after bar ${i - 1} (times must strictly increase)`);
    if (!(c[i]! > 0) || !(o[i]! > 0)) throw new BacktestError(`${source}: bar ${i} has a non-positive or missing price`);
  }
  return { instrument, source, time: t, open: o, close: c };
}

/**
 * Reads a price file (anything `loadOhlcv` reads). `field` picks the close column: `adjClose` for StockNet-style
 * files whose splits and dividends would otherwise look like crashes; the open is then scaled by the same
 * adjustment factor (adjClose / close) so that open-to-close returns stay consistent.
 */
export async function loadPrices(file: string, opts: { instrument?: string; field?: 'close' | 'adjClose' } = {}): Promise<PriceSeries> {
  const s = await loadOhlcv(file);
  const field = opts.field ?? 'close';
  let close: Float64Array = s.close;
  let open: Float64Array | undefined = s.open;
  if (field === 'adjClose') {
    if (!s.adjClose) throw new BacktestError(`${file}: no Adj Close column (use the close field instead)`);
    close = s.adjClose;
    if (open) open = open.map((o, i) => (o * s.adjClose![i]!) / s.close[i]!);
  }
  return makeSeries(opts.instrument ?? instrumentFromFile(file), s.time, close, open, file);
}

/** Pip size by the usual convention: 0.01 for yen pairs, 0.0001 for other currency pairs. */
export function pipSizeFor(instrument: string): number {
  return /JPY/i.test(instrument) ? 0.01 : 0.0001;
}

/** Index of the bar whose time is exactly `t`, or -1 (binary search). */
export function barIndex(series: PriceSeries, t: number): number {
  let lo = 0;
  let hi = series.time.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = series.time[mid]!;
    if (v === t) return mid;
    if (v < t) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * Bars per year from the timestamps: bars ÷ calendar years spanned. Because weekends and holidays simply have no
 * bars, this counts them correctly (4-hour forex ≈ 1,560, daily stocks ≈ 252) without knowing the market.
 * Spans under a day cannot say anything about a year, so they return null and the caller must be told.
 */
export function inferBarsPerYear(time: ArrayLike<number>): number | null {
  const n = time.length;
  if (n < 2) return null;
  const span = time[n - 1]! - time[0]!;
  if (span < 86_400_000) return null;
  // n bars cover n intervals once the last bar's own length is counted; use the median spacing for it.
  return (n / (span + medianSpacing(time))) * YEAR_MS;
}

export function medianSpacing(time: ArrayLike<number>): number {
  const d: number[] = [];
  for (let i = 1; i < time.length; i++) d.push(time[i]! - time[i - 1]!);
  if (d.length === 0) return 0;
  d.sort((a, b) => a - b);
  return d[d.length >> 1]!;
}

/**
 * gapAfter[t] = 1 when the next bar starts later than 1.5 × the median bar spacing after bar t: a weekend, a
 * holiday or missing data. The 1.5 leaves room for clock jitter and never calls an ordinary bar a gap.
 */
export function gapsAfter(time: ArrayLike<number>, factor = 1.5): Uint8Array {
  const out = new Uint8Array(time.length);
  const limit = medianSpacing(time) * factor;
  for (let i = 0; i + 1 < time.length; i++) if (time[i + 1]! - time[i]! > limit) out[i] = 1;
  return out;
}

/** The bars [from, to) as a new series sharing the arrays (subarray views, no copy). */
export function sliceSeries(s: PriceSeries, from: number, to: number): PriceSeries {
  return { ...s, time: s.time.subarray(from, to), open: s.open.subarray(from, to), close: s.close.subarray(from, to) };
}
