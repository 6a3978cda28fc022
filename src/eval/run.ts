/**
 * The seam where a forecaster plugs into evaluation: `runForecaster` asks it for each window's forecast, times
 * it, applies the parse rules (fewer than H finite numbers = parse failure; K samples → median), and returns
 * forecast records ready for `writeForecasts` and `evaluateForecasts`. A model-backed forecaster (greedy or
 * constrained decoding, sampling) only has to implement `WindowForecaster`.
 */

import { performance } from 'node:perf_hooks';
import { evaluateForecasts, type EvaluateOptions, type EvaluationResults } from './evaluate.js';
import { combineSamples } from './samples.js';
import { FORECAST_SCHEMA, readAll, readForecasts, type ForecastRecord } from './schema.js';

/** One window to forecast: what is known, and (kept away from the forecaster) what happened. */
export interface EvalWindow {
  instrument: string;
  /** Time of the last known value, ISO 8601. */
  t0: string;
  context: readonly number[];
  true: readonly number[];
}

/** What a forecaster returns for one window. */
export interface ForecastOutput {
  /** The numbers parsed from the output, in horizon order; may be short (parse failure) or absent with samples. */
  predicted?: readonly number[];
  /** K sampled paths; when given without `predicted`, their per-step median is the forecast. */
  samples?: ReadonlyArray<readonly number[]>;
  /** The raw text, for inspecting failures. */
  raw?: string;
}

export interface WindowForecaster {
  method: string;
  seed: number | null;
  /** Sees only the known part and the horizon length, never the realised values. */
  forecast(context: readonly number[], horizon: number, where: { instrument: string; t0: string }): ForecastOutput | Promise<ForecastOutput>;
}

/** The leading run of finite numbers, at most `horizon` long: what actually parsed. */
function parsedPrefix(values: readonly number[], horizon: number): number[] {
  const out: number[] = [];
  for (const v of values) {
    if (out.length === horizon || !Number.isFinite(v)) break;
    out.push(v);
  }
  return out;
}

/** Runs `forecaster` over `windows` in order and returns one validated-shape forecast record per window. */
export async function runForecaster(
  windows: readonly EvalWindow[],
  forecaster: WindowForecaster,
  run: string,
): Promise<ForecastRecord[]> {
  const records: ForecastRecord[] = [];
  for (const w of windows) {
    const H = w.true.length;
    const started = performance.now();
    const out = await forecaster.forecast(w.context.slice(), H, { instrument: w.instrument, t0: w.t0 });
    const latency = performance.now() - started;
    let predicted: number[];
    let samples: number[][] | undefined;
    if (out.samples !== undefined) {
      samples = out.samples.map((s) => parsedPrefix(s, H));
    }
    if (out.predicted !== undefined) {
      predicted = parsedPrefix(out.predicted, H);
    } else if (samples !== undefined) {
      predicted = combineSamples(samples, w.context[w.context.length - 1]!, H).predicted;
    } else {
      predicted = [];
    }
    const record: ForecastRecord = {
      schema: FORECAST_SCHEMA,
      run,
      method: forecaster.method,
      seed: forecaster.seed,
      instrument: w.instrument,
      t0: w.t0,
      context: w.context.slice(),
      predicted,
      true: w.true.slice(),
      parse_ok: predicted.length === H,
      latency_ms: latency,
    };
    if (samples !== undefined) record.samples = samples;
    if (out.raw !== undefined) record.raw = out.raw;
    records.push(record);
  }
  return records;
}

/** Reads one or more forecast files (e.g. one per forecaster) and evaluates them together. */
export async function evaluateForecastFiles(files: readonly string[], opts: EvaluateOptions = {}): Promise<EvaluationResults> {
  const records: ForecastRecord[] = [];
  for (const f of files) records.push(...(await readAll(readForecasts(f))));
  return evaluateForecasts(records, opts);
}
