/**
 * Point-forecast error metrics over a set of windows. Each metric is defined in `docs/eval.md`; the comments here
 * say only what the code must get right. All errors are "pooled": every (window, horizon step) pair counts once,
 * so windows of one horizon H weigh equally.
 *
 * A window here is already scoreable: `predicted` has exactly H finite values. Turning a parse failure into a
 * persistence forecast happens before (`scoreableWindow`), so no metric can silently skip a failed window.
 */

import { mean, populationStd } from './stats.js';

/** One forecast window ready for scoring. */
export interface ScoredWindow {
  /** Known values, oldest first; the last is the "last known price" direction is measured against. */
  context: readonly number[];
  /** H forecast values. */
  predicted: readonly number[];
  /** H realised values. */
  true: readonly number[];
  /** MASE scale for this window's series (the training part's mean absolute one-step change); undefined if unknown. */
  maseScale?: number;
}

/** A forecast whose output parsed into fewer than H numbers is replaced, whole, by persistence. */
export function scoreableWindow(
  w: { context: readonly number[]; predicted: readonly number[]; true: readonly number[] },
  maseScale?: number,
): { window: ScoredWindow; parseFailed: boolean } {
  const H = w.true.length;
  const last = w.context[w.context.length - 1];
  if (last === undefined) throw new Error('scoreableWindow: empty context');
  const parseFailed = w.predicted.length < H;
  // The whole forecast is replaced rather than padding the missing tail: a model that emits one good number and
  // then garbage must not be credited with that number's skill while the rest is imputed for free.
  const predicted = parseFailed ? new Array<number>(H).fill(last) : w.predicted.slice(0, H);
  const window: ScoredWindow = { context: w.context, predicted, true: w.true };
  if (maseScale !== undefined) window.maseScale = maseScale;
  return { window, parseFailed };
}

export interface DirectionResult {
  /** Share of scored windows whose predicted direction matched the realised one; null if none was scored. */
  accuracy: number | null;
  /** Windows scored (neither the realised nor the predicted move was zero). */
  scored: number;
  /** Windows excluded because the realised last-step value equalled the last known value. */
  ties_true: number;
  /** Windows excluded because the forecast's last step equalled the last known value (no call made). */
  ties_predicted: number;
}

export interface PointMetrics {
  n_windows: number;
  horizon: number;
  mse: number;
  rmse: number;
  mae: number;
  /** Percent; pairs whose true value is 0 are left out (counted in `mape_excluded`). Null if all were. */
  mape: number | null;
  mape_excluded: number;
  /** Percent, in [0, 200]; a pair with prediction and truth both 0 contributes 0. */
  smape: number;
  /** RMSE ÷ mean over windows of (max − min of the true horizon values); null when that mean is 0. */
  nrmse_range: number | null;
  /** RMSE ÷ population standard deviation of all true values; null when that is 0. */
  nrmse_std: number | null;
  /**
   * NON-STANDARD: RMSE ÷ (max of all true values − min of all predicted values), as the MQL5 article computes it.
   * Kept only to reproduce that article's table; it mixes the prediction into its own normaliser.
   */
  nrmse_mql5: number | null;
  /** Mean over pairs of |error| ÷ that window's training-part naive scale; null unless every window has a scale. */
  mase: number | null;
  direction: DirectionResult;
}

function checkWindows(windows: readonly ScoredWindow[]): number {
  if (windows.length === 0) throw new Error('metrics: no windows to score');
  const H = windows[0]!.true.length;
  windows.forEach((w, i) => {
    if (w.true.length !== H) throw new Error(`metrics: window ${i} has horizon ${w.true.length}, window 0 has ${H}`);
    if (w.predicted.length !== H) {
      throw new Error(`metrics: window ${i} has ${w.predicted.length} predictions for horizon ${H}`);
    }
    if (w.context.length === 0) throw new Error(`metrics: window ${i} has an empty context`);
  });
  return H;
}

/** Direction at the last horizon step against the last known value; ties on either side are excluded. */
export function directionAccuracy(windows: readonly ScoredWindow[]): DirectionResult {
  let hits = 0;
  let scored = 0;
  let tiesTrue = 0;
  let tiesPred = 0;
  for (const w of windows) {
    const last = w.context[w.context.length - 1]!;
    const H = w.true.length;
    const realised = Math.sign(w.true[H - 1]! - last);
    const called = Math.sign(w.predicted[H - 1]! - last);
    if (realised === 0) {
      tiesTrue++;
      continue;
    }
    if (called === 0) {
      tiesPred++;
      continue;
    }
    scored++;
    if (realised === called) hits++;
  }
  return { accuracy: scored > 0 ? hits / scored : null, scored, ties_true: tiesTrue, ties_predicted: tiesPred };
}

/** All pooled point metrics for one method's windows. */
export function pointMetrics(windows: readonly ScoredWindow[]): PointMetrics {
  const H = checkWindows(windows);
  let se = 0;
  let ae = 0;
  let ape = 0;
  let apeCount = 0;
  let sape = 0;
  let scaled = 0;
  let allScaled = true;
  let rangeSum = 0;
  let maxTrue = -Infinity;
  let minPred = Infinity;
  const allTrue: number[] = [];
  for (const w of windows) {
    let lo = Infinity;
    let hi = -Infinity;
    const scale = w.maseScale;
    if (scale === undefined || !(scale > 0)) allScaled = false;
    for (let h = 0; h < H; h++) {
      const y = w.true[h]!;
      const p = w.predicted[h]!;
      const e = p - y;
      se += e * e;
      ae += Math.abs(e);
      if (y !== 0) {
        ape += Math.abs(e / y);
        apeCount++;
      }
      const denom = Math.abs(p) + Math.abs(y);
      if (denom > 0) sape += (2 * Math.abs(e)) / denom;
      if (allScaled) scaled += Math.abs(e) / scale!;
      lo = Math.min(lo, y);
      hi = Math.max(hi, y);
      maxTrue = Math.max(maxTrue, y);
      minPred = Math.min(minPred, p);
      allTrue.push(y);
    }
    rangeSum += hi - lo;
  }
  const n = windows.length * H;
  const mse = se / n;
  const rmse = Math.sqrt(mse);
  const meanRange = rangeSum / windows.length;
  const std = populationStd(allTrue);
  const mql5Denominator = maxTrue - minPred;
  return {
    n_windows: windows.length,
    horizon: H,
    mse,
    rmse,
    mae: ae / n,
    mape: apeCount > 0 ? (100 * ape) / apeCount : null,
    mape_excluded: n - apeCount,
    smape: (100 * sape) / n,
    nrmse_range: meanRange > 0 ? rmse / meanRange : null,
    nrmse_std: std > 0 ? rmse / std : null,
    nrmse_mql5: mql5Denominator !== 0 ? rmse / mql5Denominator : null,
    mase: allScaled ? scaled / n : null,
    direction: directionAccuracy(windows),
  };
}

export interface HorizonCurves {
  /** Index h − 1 holds the metric over all windows at horizon step h. */
  mse: number[];
  rmse: number[];
  mae: number[];
}

/** Error by horizon step: how fast the forecast degrades with lead time. */
export function perHorizonCurves(windows: readonly ScoredWindow[]): HorizonCurves {
  const H = checkWindows(windows);
  const se = new Array<number>(H).fill(0);
  const ae = new Array<number>(H).fill(0);
  for (const w of windows) {
    for (let h = 0; h < H; h++) {
      const e = w.predicted[h]! - w.true[h]!;
      se[h] = se[h]! + e * e;
      ae[h] = ae[h]! + Math.abs(e);
    }
  }
  const mse = se.map((s) => s / windows.length);
  return { mse, rmse: mse.map(Math.sqrt), mae: ae.map((s) => s / windows.length) };
}

/** Mean squared error of each window over its horizon: the per-window loss the DM test and bootstrap use. */
export function windowSquaredErrors(windows: readonly ScoredWindow[]): number[] {
  return windows.map((w) => {
    let s = 0;
    for (let h = 0; h < w.true.length; h++) s += (w.predicted[h]! - w.true[h]!) ** 2;
    return s / w.true.length;
  });
}

/** Mean absolute error of each window over its horizon. */
export function windowAbsoluteErrors(windows: readonly ScoredWindow[]): number[] {
  return windows.map((w) => {
    let s = 0;
    for (let h = 0; h < w.true.length; h++) s += Math.abs(w.predicted[h]! - w.true[h]!);
    return s / w.true.length;
  });
}

/** 1 − MSE_model / MSE_reference: 0 means no better than the reference, negative means worse. */
export function skillScore(mseModel: number, mseReference: number): number | null {
  return mseReference > 0 ? 1 - mseModel / mseReference : null;
}

/**
 * The MASE scale of a training series: the mean absolute one-step change, i.e. the in-sample MAE of the naive
 * "tomorrow equals today" forecast. Null when the series has fewer than two values or never moves.
 */
export function naiveScale(training: readonly number[]): number | null {
  if (training.length < 2) return null;
  const diffs: number[] = [];
  for (let t = 1; t < training.length; t++) diffs.push(Math.abs(training[t]! - training[t - 1]!));
  const s = mean(diffs);
  return s > 0 ? s : null;
}
