/**
 * Baseline forecasters, run on exactly the windows a model was scored on. A model that cannot beat these does not
 * forecast anything useful, however good its loss curve looks.
 *
 *  - persistence: the last known value repeated (the random-walk forecast; the reference for skill and DM).
 *  - drift: the line through the first and last known values, extended.
 *  - moving average: the mean of the last k known values, repeated.
 *  - AR(p) on log returns, fit by least squares on the training part, p ≤ 20 chosen by AIC.
 */

import { leastSquares, mean } from './stats.js';

export type Forecaster = (context: readonly number[], horizon: number) => number[];

function lastOf(context: readonly number[]): number {
  const last = context[context.length - 1];
  if (last === undefined) throw new Error('baseline: empty context');
  return last;
}

export function persistenceForecast(context: readonly number[], horizon: number): number[] {
  return new Array<number>(horizon).fill(lastOf(context));
}

/** ŷ_{T+h} = y_T + h · (y_T − y_1)/(T − 1): the average step over the known part, continued. */
export function driftForecast(context: readonly number[], horizon: number): number[] {
  const last = lastOf(context);
  if (context.length < 2) return new Array<number>(horizon).fill(last);
  const slope = (last - context[0]!) / (context.length - 1);
  return Array.from({ length: horizon }, (_, i) => last + (i + 1) * slope);
}

/** The mean of the last `k` known values (all of them when fewer), repeated over the horizon. */
export function movingAverageForecast(context: readonly number[], horizon: number, k: number): number[] {
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`moving average: window must be a positive integer, got ${k}`);
  lastOf(context);
  const m = mean(context.slice(Math.max(0, context.length - k)));
  return new Array<number>(horizon).fill(m);
}

// ---------------------------------------------------------------------------------------------------------------
// AR(p)

export interface ArModel {
  /** Chosen order. */
  p: number;
  /** Intercept c in r_t = c + Σ φ_i r_{t−i} + ε_t. */
  intercept: number;
  /** φ_1 … φ_p. */
  coefficients: number[];
  /** Residual variance RSS / n of the chosen fit. */
  sigma2: number;
  /** AIC of every order tried, index = p (all on the same sample, so comparable). */
  aic: number[];
  /** Observations each fit used (the series length minus the largest order tried). */
  n: number;
  /** Mean of the fitted series: the value used for lags a short context cannot supply. */
  seriesMean: number;
}

/**
 * Fits AR(p) for p = 0 … maxP by ordinary least squares with an intercept and returns the order with the smallest
 * AIC = n ln(RSS/n) + 2(p + 1). Every order is fit on the same n = N − maxP targets (t = maxP … N−1), so the
 * AICs compare like with like; fitting each order on its longest sample would favour small orders.
 */
export function fitArByAic(series: readonly number[], maxP = 20): ArModel {
  if (!(Number.isInteger(maxP) && maxP >= 0)) throw new Error(`AR: maxP must be a non-negative integer, got ${maxP}`);
  const N = series.length;
  // Cap the order at (N − 1)/3 so every fit keeps about twice as many observations as coefficients: a short
  // training part cannot support order 20, and AIC on a near-saturated fit is meaningless.
  const cap = Math.min(maxP, Math.floor((N - 1) / 3));
  if (cap < 0 || N - cap < 2) throw new Error(`AR: a series of ${N} values is too short to fit`);
  const n = N - cap;
  const y = series.slice(cap);
  const aic: number[] = [];
  let best: { p: number; beta: number[]; rss: number } | undefined;
  for (let p = 0; p <= cap; p++) {
    if (n <= p + 1) break;
    const X: number[][] = [];
    for (let t = cap; t < N; t++) {
      const row = [1];
      for (let i = 1; i <= p; i++) row.push(series[t - i]!);
      X.push(row);
    }
    let fit: { beta: number[]; rss: number };
    try {
      fit = leastSquares(X, y);
    } catch {
      // Collinear lags (e.g. a constant stretch): this and higher orders add nothing; stop here.
      break;
    }
    // A perfect fit (rss 0) would give −Infinity; floor it so the comparison still works.
    const value = n * Math.log(Math.max(fit.rss / n, 1e-300)) + 2 * (p + 1);
    aic.push(value);
    if (best === undefined || value < aic[best.p]!) best = { p, beta: fit.beta, rss: fit.rss };
  }
  if (best === undefined) throw new Error(`AR: no order could be fit to ${N} values`);
  return {
    p: best.p,
    intercept: best.beta[0]!,
    coefficients: best.beta.slice(1),
    sigma2: best.rss / n,
    aic,
    n,
    seriesMean: mean(series),
  };
}

/** Iterates the AR recursion `horizon` steps ahead from `history` (oldest first); lags before it use the mean. */
export function arForecastSeries(model: ArModel, history: readonly number[], horizon: number): number[] {
  const buf = history.slice(Math.max(0, history.length - model.p));
  while (buf.length < model.p) buf.unshift(model.seriesMean);
  const out: number[] = [];
  for (let h = 0; h < horizon; h++) {
    let next = model.intercept;
    for (let i = 1; i <= model.p; i++) next += model.coefficients[i - 1]! * buf[buf.length - i]!;
    out.push(next);
    buf.push(next);
  }
  return out;
}

/** Log returns ln(y_t / y_{t−1}); prices must be positive. */
export function logReturns(prices: readonly number[], what = 'series'): number[] {
  for (let i = 0; i < prices.length; i++) {
    if (!(prices[i]! > 0)) {
      throw new Error(`AR baseline: ${what} value ${i} is ${prices[i]}; log returns need positive prices`);
    }
  }
  const r: number[] = [];
  for (let t = 1; t < prices.length; t++) r.push(Math.log(prices[t]! / prices[t - 1]!));
  return r;
}

/**
 * Fits the AR baseline on a training price series and returns a forecaster: the window's own context supplies
 * the lagged returns, the AR recursion forecasts H returns, and prices are rebuilt as y_T · exp(Σ r̂).
 */
export function arPriceForecaster(trainingPrices: readonly number[], maxP = 20): { model: ArModel; forecast: Forecaster } {
  const model = fitArByAic(logReturns(trainingPrices, 'training'), maxP);
  const forecast: Forecaster = (context, horizon) => {
    const last = lastOf(context);
    const r = arForecastSeries(model, logReturns(context, 'context'), horizon);
    const out: number[] = [];
    let cum = 0;
    for (const step of r) {
      cum += step;
      out.push(last * Math.exp(cum));
    }
    return out;
  };
  return { model, forecast };
}
