/**
 * A language model as a price forecaster over data windows: each window's known part is written exactly as in
 * training (windows.ts), the model continues it under constrained numeric decoding, and the numbers are mapped
 * back to prices with the window's own inverse transform — so forecasts are scored in price units, beside the
 * baselines, on the same windows.
 */
import { decodeBars } from '../data/transforms.js';
import type { PriceWindow, WindowConfig } from '../data/windows.js';
import type { CausalLM } from '../models/common.js';
import { forecastFromText, type ForecastTokenizer } from './forecaster.js';
import { FORECAST_SCHEMA, type ForecastRecord } from './schema.js';

export interface PriceForecastOptions {
  run: string;
  method: string;
  seed?: number | null;
  instrument: string;
  /** 1 = greedy (default); K > 1 samples K paths and takes the median. */
  samples?: number;
  temperature?: number;
  /** Most integer digits per forecast number (see ForecastOptions.maxIntDigits). */
  maxIntDigits?: number;
  /** Called after each window (progress). */
  onWindow?: (done: number, total: number) => void;
}

/** Digits after the point the window text uses: the encoding's precision, else what the known text shows. */
export function textPrecision(cfg: WindowConfig, knownText: string): number {
  if (cfg.precision !== undefined) return cfg.precision;
  let p = 0;
  for (const t of knownText.split(/[\s,]+/)) {
    const i = t.indexOf('.');
    if (i >= 0) p = Math.max(p, t.length - i - 1);
  }
  return p;
}

/** Forecast every window; one fintune.forecast/1 record each (close prices; parse failures kept, flagged). */
export function forecastWindows(
  model: CausalLM,
  tok: ForecastTokenizer,
  series: { time: ArrayLike<number>; close: ArrayLike<number> },
  windows: readonly PriceWindow[],
  cfg: WindowConfig,
  o: PriceForecastOptions,
): ForecastRecord[] {
  if (cfg.field !== 'close') throw new Error(`model forecasts are scored on closes; window field "${cfg.field}" is not supported here yet`);
  const out: ForecastRecord[] = [];
  windows.forEach((w, i) => {
    const context = Array.from({ length: w.predStart - w.knownStart }, (_, k) => series.close[w.knownStart + k]!);
    const lastKnown = w.ref.anchor;
    const H = w.target.length;
    const f = forecastFromText(model, tok, w.knownText + cfg.separator, encodedLastKnown(w), {
      horizon: H,
      precision: textPrecision(cfg, w.knownText),
      separator: cfg.layout.barSeparator,
      samples: o.samples,
      temperature: o.temperature,
      seed: o.seed ?? 0,
      allowNegative: cfg.scaling !== 'raw',
      maxIntDigits: o.maxIntDigits,
    });
    const toPrice = (nums: number[]): number[] => decodeBars(nums.map((v) => [v]), lastKnown, w.ref, cfg).map((b) => b[b.length - 1]!);
    const rec: ForecastRecord = {
      schema: FORECAST_SCHEMA,
      run: o.run,
      method: o.method,
      seed: o.seed ?? null,
      instrument: o.instrument,
      t0: new Date(series.time[w.predStart - 1]!).toISOString(),
      context,
      predicted: f.predicted.length ? toPrice(f.predicted) : [],
      true: w.target.map((b) => b[b.length - 1]!),
      parse_ok: f.parse_ok,
      latency_ms: f.latency_ms,
      raw: f.raw,
    };
    if (f.samples) rec.samples = f.samples.map((s) => (s.length ? toPrice(s) : []));
    out.push(rec);
    o.onWindow?.(i + 1, windows.length);
  });
  return out;
}

/** The last known value in the text's own units (for the direction agreement of sampled forecasts). */
function encodedLastKnown(w: PriceWindow): number {
  const parts = w.knownText.trim().split(/\s+/);
  const v = Number(parts[parts.length - 1]);
  return Number.isFinite(v) ? v : 0;
}
