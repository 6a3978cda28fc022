/**
 * Forecast files (`fintune.forecast/1`, owned by src/eval/schema.ts) as back-test input. Records are validated
 * by the schema module; this file adds what only the back-test checks — that each forecast sits on a real bar
 * of the price file and that its last known value is that bar's close — and keeps line numbers, so a
 * misaligned file is reported as `FILE:LINE: …` instead of trading on the wrong bars.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { parseTime } from '../data/time.js';
import { combineSamples } from '../eval/samples.js';
import { SchemaError, validateForecast, type ForecastRecord } from '../eval/schema.js';
import { BacktestError } from './errors.js';
import { barIndex, type PriceSeries } from './prices.js';
import type { DirectionForecast } from './portfolio.js';
import type { Prediction } from './signals.js';

export interface LinedForecast {
  record: ForecastRecord;
  line: number;
}

/** Reads and validates every record of a forecasts file; an empty file is an error. */
export async function readForecastFile(file: string): Promise<LinedForecast[]> {
  if (!fs.existsSync(file)) throw new BacktestError(`${file}: forecasts file not found`);
  const lines = readline.createInterface({ input: fs.createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  const out: LinedForecast[] = [];
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new BacktestError(`${file}:${n}: not valid JSON (${(err as Error).message})`);
    }
    try {
      out.push({ record: validateForecast(value), line: n });
    } catch (err) {
      if (err instanceof SchemaError) throw new BacktestError(`${file}:${n}: ${err.message}`);
      throw err;
    }
  }
  if (out.length === 0) throw new BacktestError(`${file}: no forecasts (the file is empty; expected fintune.forecast/1 JSON lines from fintune eval)`);
  return out;
}

/** The name a forecaster is reported under: its method, plus the seed when it has one. */
export function methodKey(r: ForecastRecord): string {
  return r.seed === null ? r.method : `${r.method}#${r.seed}`;
}

/** Groups by method key, then instrument, keeping file order. */
export function groupForecasts(items: readonly LinedForecast[]): Map<string, Map<string, LinedForecast[]>> {
  const out = new Map<string, Map<string, LinedForecast[]>>();
  for (const it of items) {
    const k = methodKey(it.record);
    let m = out.get(k);
    if (!m) out.set(k, (m = new Map()));
    let list = m.get(it.record.instrument);
    if (!list) m.set(it.record.instrument, (list = []));
    list.push(it);
  }
  return out;
}

/**
 * The confidence of a forecast: a classifier probability when the record carries one (`probability`, an extra
 * field the schema keeps), else the share of sampled paths agreeing on direction, else none.
 */
export function forecastConfidence(r: ForecastRecord): number | undefined {
  const p = (r as unknown as Record<string, unknown>)['probability'];
  if (typeof p === 'number' && p >= 0 && p <= 1) return p;
  if (r.samples && r.samples.length > 0) {
    const c = combineSamples(r.samples, r.context[r.context.length - 1]!, r.true.length).confidence;
    return c ?? undefined;
  }
  return undefined;
}

export interface AlignOptions {
  /** Relative tolerance between a record's last context value and the close at t0. Default 1e-6. */
  tolerance?: number;
}

export interface AlignedPredictions {
  predictions: Prediction[];
  /** Records whose forecast did not parse (traded as "no move", i.e. flat). */
  parseFailures: number;
  /** The horizon of the records (all must agree). */
  horizon: number;
}

/**
 * Places each forecast on its bar. Errors name the file and line: a t0 that is not a bar time, a last known value
 * that is not that bar's close (the forecasts were made on other data or shifted), records of another instrument
 * or with a different horizon.
 */
export function alignForecasts(file: string, items: readonly LinedForecast[], series: PriceSeries, o: AlignOptions = {}): AlignedPredictions {
  if (items.length === 0) throw new BacktestError(`${file}: no forecasts for ${series.instrument}`);
  const tol = o.tolerance ?? 1e-6;
  const horizon = items[0]!.record.true.length;
  const predictions: Prediction[] = [];
  let parseFailures = 0;
  const seen = new Map<number, number>();
  for (const { record: r, line } of items) {
    const where = `${file}:${line}`;
    if (r.instrument !== series.instrument) {
      throw new BacktestError(`${where}: instrument ${r.instrument} is not the prices' instrument ${series.instrument} (${series.source})`);
    }
    if (r.true.length !== horizon) throw new BacktestError(`${where}: horizon ${r.true.length} differs from the file's first record (${horizon})`);
    const t = parseTime(r.t0, 'iso');
    const bar = barIndex(series, t);
    if (bar < 0) {
      throw new BacktestError(`${where}: t0 ${r.t0} is not a bar time in ${series.source} (misaligned timestamps: forecasts made on other bars?)`);
    }
    const last = r.context[r.context.length - 1]!;
    const close = series.close[bar]!;
    if (Math.abs(last - close) > tol * Math.abs(close)) {
      throw new BacktestError(
        `${where}: the last known value ${last} is not the close ${close} of bar ${r.t0} in ${series.source} (misaligned timestamps or other prices; tolerance ${tol} relative)`,
      );
    }
    const prev = seen.get(bar);
    if (prev !== undefined) throw new BacktestError(`${where}: a second forecast for t0 ${r.t0} (first at line ${prev})`);
    seen.set(bar, line);
    if (!r.parse_ok || r.predicted.length < horizon) parseFailures++;
    // A parse failure predicts no move (persistence), which no threshold trades on: it cannot add profit.
    const move = r.parse_ok && r.predicted.length === horizon ? r.predicted[horizon - 1]! - last : 0;
    predictions.push({ bar, move, confidence: forecastConfidence(r), line });
  }
  return { predictions, parseFailures, horizon };
}

/**
 * Forecast records as direction calls for the portfolio: the sign of the last predicted step against the last
 * known value (a parse failure is no call), with the record's confidence. A bin forecast (FinGPT's "up 2-3 %",
 * already turned into a signed number by its parser) is a call the same way. With `thresholdBps`, a predicted
 * move of at most that many basis points is no call.
 */
export function directionForecasts(file: string, items: readonly LinedForecast[], o: { thresholdBps?: number } = {}): DirectionForecast[] {
  const thr = o.thresholdBps ?? 0;
  if (!(thr >= 0)) throw new BacktestError(`threshold must be a number >= 0, got ${thr}`);
  return items.map(({ record: r, line }) => {
    const last = r.context[r.context.length - 1]!;
    const H = r.true.length;
    const ok = r.parse_ok && r.predicted.length === H;
    const bps = ok ? ((r.predicted[H - 1]! - last) / Math.abs(last)) * 1e4 : 0;
    return {
      instrument: r.instrument,
      t0: parseTime(r.t0, 'iso'),
      direction: Math.abs(bps) > thr ? Math.sign(bps) : 0,
      confidence: forecastConfidence(r),
      where: `${file}:${line}`,
      lastKnown: last,
    };
  });
}
