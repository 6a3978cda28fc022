/**
 * Price windows as text: one window a line, the known bars then the bars to predict, written by a transform
 * from transforms.ts. The default is the MQL5 article's format: closes separated by spaces, 20 known then 40
 * predicted; `mql5-exact` is the 19-known variant the article's code really produced, for the reproduction study.
 *
 * A window is cut from bar indices [from, to) only, so the caller (splits.ts) decides which bars a part may use.
 */
import { DataError } from './errors.js';
import type { OhlcvSeries } from './loaders/ohlcv.js';
import { formatTime } from './time.js';
import {
  barsToText,
  barWidth,
  checkSpec,
  decodeBars,
  DEFAULT_LAYOUT,
  encodeBars,
  needsBase,
  textToBars,
  windowRef,
  type Bar,
  type EncodingSpec,
  type TextLayout,
  type WindowRef,
} from './transforms.js';

export interface WindowConfig extends EncodingSpec {
  /** Bars the model sees. */
  known: number;
  /** Bars the model predicts. */
  horizon: number;
  /** Bars between consecutive window starts. Default 1 (splits.ts uses the horizon for test windows). */
  stride: number;
  /** Text between the known part and the predicted part. Default ' '. */
  separator: string;
  layout: TextLayout;
}

export type WindowPreset = 'mql5' | 'mql5-exact';

export const WINDOW_PRESETS: Record<WindowPreset, { description: string; config: WindowConfig }> = {
  mql5: {
    description: "the MQL5 article's format: 20 known closes then 40 predicted, raw prices as quoted, separated by spaces",
    config: { known: 20, horizon: 40, stride: 1, field: 'close', scaling: 'raw', separator: ' ', layout: DEFAULT_LAYOUT },
  },
  'mql5-exact': {
    description: "the article's code as it ran: 19 known closes then 40 predicted (an off-by-one in its slicing)",
    config: { known: 19, horizon: 40, stride: 1, field: 'close', scaling: 'raw', separator: ' ', layout: DEFAULT_LAYOUT },
  },
};

export type WindowConfigInput = Partial<WindowConfig> & { preset?: WindowPreset };

/** Fills defaults (from a preset when named) and checks every parameter, naming the one that is wrong. */
export function resolveWindowConfig(input: WindowConfigInput = {}): WindowConfig {
  const { preset, ...rest } = input;
  if (preset !== undefined && !(preset in WINDOW_PRESETS)) {
    throw new Error(`preset must be one of ${Object.keys(WINDOW_PRESETS).join(', ')}, got ${JSON.stringify(preset)}`);
  }
  const base = WINDOW_PRESETS[preset ?? 'mql5'].config;
  const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Partial<WindowConfig>;
  const cfg: WindowConfig = { ...base, ...defined, layout: { ...base.layout, ...(defined.layout ?? {}) } };
  for (const k of ['known', 'horizon', 'stride'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new Error(`${k} must be a positive integer, got ${cfg[k]}`);
  }
  checkSpec(cfg);
  return cfg;
}

/** Bars a window occupies: known + horizon, plus the base bar the returns scalings need. */
export function windowLength(cfg: WindowConfig): number {
  return cfg.known + cfg.horizon + (needsBase(cfg.scaling) ? 1 : 0);
}

export interface PriceWindow {
  /** Index of the first bar the window reads (the base bar when the scaling has one). */
  start: number;
  /** Index of the first known bar. */
  knownStart: number;
  /** Index of the first predicted bar. */
  predStart: number;
  /** One past the last predicted bar. */
  end: number;
  /** Times of the first bar read, the first predicted bar and the last predicted bar (ms UTC). */
  startTime: number;
  predTime: number;
  endTime: number;
  ref: WindowRef;
  /** Encoded known bars (the prompt). */
  knownText: string;
  /** Encoded predicted bars (the answer). */
  targetText: string;
  /** knownText + separator + targetText: one training line. */
  text: string;
  /** The true predicted bars in price units, for scoring. */
  target: Bar[];
}

/** The bars of a series for a field: [close] or [open, high, low, close] per row. */
export function seriesBars(series: OhlcvSeries, field: WindowConfig['field']): Bar[] {
  const { close } = series;
  if (field === 'close') return Array.from(close, (c) => [c]);
  const { open, high, low } = series;
  if (!open || !high || !low) throw new DataError(`${series.file}: field 'ohlc' needs Open, High and Low columns (columns: ${series.columns.join(', ')})`);
  return Array.from(close, (c, i) => [open[i]!, high[i]!, low[i]!, c]);
}

/** Encodes one window whose first bar read is `start`. Only bars before predStart shape the reference. */
export function encodeWindow(bars: Bar[], time: ArrayLike<number>, start: number, cfg: WindowConfig): PriceWindow {
  const hasBase = needsBase(cfg.scaling);
  const knownStart = start + (hasBase ? 1 : 0);
  const predStart = knownStart + cfg.known;
  const end = predStart + cfg.horizon;
  if (start < 0 || end > bars.length) throw new Error(`encodeWindow: bars ${start}..${end - 1} are outside the series of ${bars.length} bars`);
  const known = bars.slice(knownStart, predStart);
  const target = bars.slice(predStart, end);
  const baseClose = hasBase ? bars[start]![bars[start]!.length - 1]! : NaN;
  const ref = windowRef(known, baseClose);
  const knownText = barsToText(encodeBars(known, baseClose, ref, cfg), cfg.precision, cfg.layout);
  const targetText = barsToText(encodeBars(target, ref.anchor, ref, cfg), cfg.precision, cfg.layout);
  return {
    start,
    knownStart,
    predStart,
    end,
    startTime: time[start]!,
    predTime: time[predStart]!,
    endTime: time[end - 1]!,
    ref,
    knownText,
    targetText,
    text: knownText + cfg.separator + targetText,
    target,
  };
}

export interface CutOptions {
  /** First bar index a window may read. Default 0. */
  from?: number;
  /** One past the last bar index a window may read. Default the series length. */
  to?: number;
  /** Names the range in errors, e.g. "the test part (2019-01-01 .. 2021-12-31)". */
  what?: string;
}

/** Windows lying entirely inside [from, to), starts `stride` apart, the first at `from`. */
export function cutWindows(bars: Bar[], time: ArrayLike<number>, cfg: WindowConfig, options: CutOptions = {}): PriceWindow[] {
  const from = options.from ?? 0;
  const to = options.to ?? bars.length;
  const what = options.what ?? 'the series';
  const len = windowLength(cfg);
  const available = to - from;
  if (available < len) {
    const extra = needsBase(cfg.scaling) ? ` + 1 base bar for scaling '${cfg.scaling}'` : '';
    throw new DataError(
      `a window needs ${len} bars (known=${cfg.known} + horizon=${cfg.horizon}${extra}) but ${what} has only ${Math.max(available, 0)}; lower known or horizon, or give this part more data`,
    );
  }
  const out: PriceWindow[] = [];
  for (let s = from; s + len <= to; s += cfg.stride) out.push(encodeWindow(bars, time, s, cfg));
  return out;
}

/**
 * Turns forecast text for a window back into prices: reads up to `horizon` bars and decodes them from the
 * window's reference. Returns what could be read and a problem when the text was malformed or short.
 */
export function decodeForecast(text: string, window: PriceWindow, cfg: WindowConfig): { bars: Bar[]; problem?: string } {
  const { rows, problem } = textToBars(text, cfg.field, cfg.layout, cfg.horizon);
  const bars = decodeBars(rows, window.ref.anchor, window.ref, cfg);
  if (problem) return { bars, problem };
  if (rows.length < cfg.horizon) return { bars, problem: `forecast has ${rows.length} of ${cfg.horizon} bars` };
  return { bars };
}

/** Decodes a window's own known text back to prices (round-trip checks, dashboards). */
export function decodeKnown(window: PriceWindow, cfg: WindowConfig): Bar[] {
  const { rows, problem } = textToBars(window.knownText, cfg.field, cfg.layout);
  if (problem) throw new Error(`decodeKnown: ${problem}`);
  return decodeBars(rows, window.ref.base, window.ref, cfg);
}

export type CountTokens = (text: string) => number;

/**
 * Checks that windows fit a model's context. `countTokens` is the model's tokenizer (tokenizers plug in here);
 * the line plus `reserveTokens` (BOS/EOS, a prompt template) must not exceed `contextTokens`. Throws on the
 * longest window, naming the parameters that control the length.
 */
export function assertWindowsFit(windows: Iterable<PriceWindow>, countTokens: CountTokens, contextTokens: number, cfg: WindowConfig, reserveTokens = 0): number {
  if (!Number.isInteger(contextTokens) || contextTokens < 1) throw new Error(`contextTokens must be a positive integer, got ${contextTokens}`);
  let longest = 0;
  let longestWindow: PriceWindow | undefined;
  for (const w of windows) {
    const n = countTokens(w.text) + reserveTokens;
    if (n > longest) {
      longest = n;
      longestWindow = w;
    }
  }
  if (longestWindow && longest > contextTokens) {
    throw new DataError(
      `window starting ${formatTime(longestWindow.startTime)} needs ${longest} tokens${reserveTokens ? ` (${reserveTokens} reserved)` : ''} but contextTokens is ${contextTokens}: ` +
        `lower known (${cfg.known}) or horizon (${cfg.horizon}), or precision (${cfg.precision ?? 'full'}), or use a model with a longer context`,
    );
  }
  return longest;
}

export { barWidth };
