/**
 * Price values ↔ numbers written in a window's text, with an exact inverse so that a model's forecast text is
 * scored in price units.
 *
 * Every scaling is anchored on a reference computed from the window's *known* part only (the bars the model
 * sees), never from the part it must predict: the known text of a window is the same whatever the future holds.
 *
 *  - raw:    the price itself.
 *  - pips:   (price − anchor) / pipSize, anchor = last known close.
 *  - bps:    10 000 · (price / anchor − 1), basis points from the last known close.
 *  - pct:    100 · (price / previous close − 1), simple returns bar to bar, in percent.
 *  - logret: ln(price / previous close), log returns bar to bar. For OHLC bars every field is taken relative to
 *            the previous bar's close, so a bar decodes from the close before it.
 *  - zscore: (price − mean) / std over the known values (std 0 is replaced by 1 so a flat window still decodes).
 *
 * The returns scalings need the close before the first known bar (the window's "base" bar), so a window using
 * them reads one bar more of history; that bar is known data, not future.
 *
 * Rounding to `precision` decimals is the only lossy step: decode(encode(x)) is x up to half a unit in the last
 * written place of the scaled value, and exact when no precision is set (shortest round-trip text).
 */

export type SeriesField = 'close' | 'ohlc';
export type Scaling = 'raw' | 'pips' | 'bps' | 'pct' | 'logret' | 'zscore';
export const SCALINGS: readonly Scaling[] = ['raw', 'pips', 'bps', 'pct', 'logret', 'zscore'];
export const SERIES_FIELDS: readonly SeriesField[] = ['close', 'ohlc'];

export interface EncodingSpec {
  field: SeriesField;
  scaling: Scaling;
  /** Decimals written after scaling; undefined writes the shortest text that reads back to the same double. */
  precision?: number;
  /** Size of one pip in price units, for scaling 'pips' (0.0001 for most FX pairs, 0.01 for JPY pairs). */
  pipSize?: number;
}

/** Values a window's scaling is anchored on; all computed from known bars only. */
export interface WindowRef {
  /** Close of the last known bar: the forecast starts from here. */
  anchor: number;
  /** Close of the bar before the first known bar (returns scalings), NaN when not used. */
  base: number;
  mean: number;
  std: number;
}

/** One bar: [close] or [open, high, low, close]. */
export type Bar = number[];

export function barWidth(field: SeriesField): number {
  return field === 'ohlc' ? 4 : 1;
}

export function needsBase(scaling: Scaling): boolean {
  return scaling === 'pct' || scaling === 'logret';
}

export function checkSpec(spec: EncodingSpec): void {
  if (!SERIES_FIELDS.includes(spec.field)) throw new Error(`field must be one of ${SERIES_FIELDS.join(', ')}, got ${JSON.stringify(spec.field)}`);
  if (!SCALINGS.includes(spec.scaling)) throw new Error(`scaling must be one of ${SCALINGS.join(', ')}, got ${JSON.stringify(spec.scaling)}`);
  if (spec.precision !== undefined && (!Number.isInteger(spec.precision) || spec.precision < 0 || spec.precision > 12)) {
    throw new Error(`precision must be an integer from 0 to 12, got ${spec.precision}`);
  }
  if (spec.scaling === 'pips' && !(typeof spec.pipSize === 'number' && spec.pipSize > 0)) {
    throw new Error(`pipSize must be a positive number for scaling 'pips', got ${spec.pipSize}`);
  }
}

/**
 * The reference of a window from its known bars (and the base bar before them for returns scalings).
 * Nothing after the last known bar is read, by construction: the caller passes only known bars.
 */
export function windowRef(knownBars: Bar[], baseClose = NaN): WindowRef {
  if (knownBars.length === 0) throw new Error('windowRef: a window needs at least one known bar');
  const last = knownBars[knownBars.length - 1]!;
  let sum = 0;
  let n = 0;
  for (const bar of knownBars) for (const v of bar) {
    sum += v;
    n++;
  }
  const mean = sum / n;
  let sq = 0;
  for (const bar of knownBars) for (const v of bar) sq += (v - mean) * (v - mean);
  const std = Math.sqrt(sq / n);
  return { anchor: last[last.length - 1]!, base: baseClose, mean, std: std > 0 ? std : 1 };
}

/**
 * Scales consecutive bars. `prevClose` is the close before `bars[0]` (ref.base for the known part, ref.anchor
 * for the predicted part); only the returns scalings use it.
 */
export function encodeBars(bars: Bar[], prevClose: number, ref: WindowRef, spec: EncodingSpec): number[][] {
  const out: number[][] = [];
  let prev = prevClose;
  for (const bar of bars) {
    const close = bar[bar.length - 1]!;
    out.push(bar.map((v) => scaleOne(v, prev, ref, spec)));
    prev = close;
  }
  return out;
}

function scaleOne(v: number, prev: number, ref: WindowRef, spec: EncodingSpec): number {
  switch (spec.scaling) {
    case 'raw':
      return v;
    case 'pips':
      return (v - ref.anchor) / spec.pipSize!;
    case 'bps':
      return 1e4 * (v / ref.anchor - 1);
    case 'pct':
      return 100 * (v / prev - 1);
    case 'logret':
      return Math.log(v / prev);
    case 'zscore':
      return (v - ref.mean) / ref.std;
  }
}

/** Exact inverse of encodeBars (up to floating point). */
export function decodeBars(rows: number[][], prevClose: number, ref: WindowRef, spec: EncodingSpec): Bar[] {
  const out: Bar[] = [];
  let prev = prevClose;
  for (const row of rows) {
    const bar = row.map((x) => unscaleOne(x, prev, ref, spec));
    out.push(bar);
    prev = bar[bar.length - 1]!;
  }
  return out;
}

function unscaleOne(x: number, prev: number, ref: WindowRef, spec: EncodingSpec): number {
  switch (spec.scaling) {
    case 'raw':
      return x;
    case 'pips':
      return ref.anchor + x * spec.pipSize!;
    case 'bps':
      return ref.anchor * (1 + x / 1e4);
    case 'pct':
      return prev * (1 + x / 100);
    case 'logret':
      return prev * Math.exp(x);
    case 'zscore':
      return ref.mean + x * ref.std;
  }
}

/** Writes one number; `-0.00` becomes `0.00` (same value, one token fewer for most tokenizers). */
export function formatNumber(x: number, precision: number | undefined): string {
  if (!Number.isFinite(x)) throw new Error(`cannot write ${x} into a window (non-finite value; a zero or negative price under a returns scaling?)`);
  const s = precision === undefined ? String(x) : x.toFixed(precision);
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
}

export interface TextLayout {
  /** Between bars. Default ' ' (the MQL5 article's format). */
  barSeparator: string;
  /** Between the fields of an OHLC bar. Default ','. */
  fieldSeparator: string;
}

export const DEFAULT_LAYOUT: TextLayout = { barSeparator: ' ', fieldSeparator: ',' };

export function barsToText(rows: number[][], precision: number | undefined, layout: TextLayout = DEFAULT_LAYOUT): string {
  return rows.map((r) => r.map((x) => formatNumber(x, precision)).join(layout.fieldSeparator)).join(layout.barSeparator);
}

/**
 * Parses text written by barsToText (or a model imitating it). Reads as many whole bars as the text holds,
 * up to `maxBars`; a malformed bar ends the reading and is reported, so a forecast cut short still scores the
 * bars it has.
 */
export function textToBars(text: string, field: SeriesField, layout: TextLayout = DEFAULT_LAYOUT, maxBars = Infinity): { rows: number[][]; problem?: string } {
  const width = barWidth(field);
  const rows: number[][] = [];
  const parts = text.split(layout.barSeparator.trim() === '' ? /\s+/ : layout.barSeparator).filter((p) => p.trim() !== '');
  for (const part of parts) {
    if (rows.length >= maxBars) break;
    const fields = width === 1 ? [part] : part.split(layout.fieldSeparator);
    if (fields.length !== width) return { rows, problem: `bar ${rows.length + 1}: expected ${width} values, got ${JSON.stringify(part)}` };
    const nums = fields.map((f) => (/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(f.trim()) ? Number(f) : NaN));
    if (nums.some((x) => Number.isNaN(x))) return { rows, problem: `bar ${rows.length + 1}: not a number: ${JSON.stringify(part)}` };
    rows.push(nums);
  }
  return { rows };
}

/** Pip size by price level: quotes of 20 or more (JPY pairs) use 0.01, others 0.0001. */
export function inferPipSize(prices: ArrayLike<number>): number {
  const sorted = Array.from(prices).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 1;
  return median >= 20 ? 0.01 : 0.0001;
}
