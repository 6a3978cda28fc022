/**
 * From forecasts to positions. Any forecaster — a forecasts file, a baseline, a function — is first reduced to
 * `Prediction`s: "at the close of bar i, the forecaster expects the close to move by `move` (price units) over
 * the horizon", with an optional confidence. The signal rule then decides long / short / flat and the size, and
 * lays the decisions out per bar for the engine (which executes them one bar later; see engine.ts).
 */
import { BacktestError } from './errors.js';
import type { PriceSeries } from './prices.js';

export interface Prediction {
  /** Index of the bar whose close is the last thing the forecaster saw. */
  bar: number;
  /** Expected change of the close over the horizon, in price units. */
  move: number;
  /** In [0, 1]: sampling agreement or a classifier's probability of the predicted direction. */
  confidence?: number;
  /** Source line (forecasts file), for messages. */
  line?: number;
}

export type ThresholdUnits = 'price' | 'pips' | 'bps' | 'vol';
export const THRESHOLD_UNITS: readonly ThresholdUnits[] = ['price', 'pips', 'bps', 'vol'];

export type Sizing =
  | { kind: 'fixed'; size?: number }
  /** Size = annualVol ÷ (recent bar volatility × √barsPerYear), capped at maxLeverage (default 3). */
  | { kind: 'vol-target'; annualVol: number; maxLeverage?: number };

export interface SignalRule {
  /** Trade only when |predicted move| > threshold (in `units`); 0 trades every non-zero prediction. */
  threshold: number;
  units: ThresholdUnits;
  /** Price units per pip (units 'pips'). */
  pipSize?: number;
  /** Bars of close-to-close returns in the recent volatility ('vol' units, vol-target sizing). Default 20. */
  volLookback?: number;
  /** Skip predictions whose confidence is below this; predictions without a confidence pass. */
  minConfidence?: number;
  /** Bars a position is held after its signal. */
  horizon: number;
  /** Act on a prediction only every k bars (the next one at least k bars after the last acted on). Default horizon. */
  every?: number;
  sizing?: Sizing;
}

export interface Signal {
  bar: number;
  time: number;
  /** −1, 0 or +1. */
  direction: number;
  /** Size the sizing rule gives at this bar, whatever the direction (random benchmarks reuse it). */
  size: number;
  /** The predicted move in the threshold's units. */
  score: number;
  confidence?: number;
  /** Why a flat signal is flat: below threshold, low confidence, no volatility history. */
  reason?: 'threshold' | 'confidence' | 'no-history';
}

export function checkRule(r: SignalRule): void {
  if (!(Number.isFinite(r.threshold) && r.threshold >= 0)) throw new BacktestError(`threshold must be a number >= 0, got ${r.threshold}`);
  if (!THRESHOLD_UNITS.includes(r.units)) throw new BacktestError(`units must be one of ${THRESHOLD_UNITS.join(', ')}, got ${JSON.stringify(r.units)}`);
  if (r.units === 'pips' && !(r.pipSize! > 0)) throw new BacktestError('pipSize must be > 0 for a threshold in pips');
  if (!(Number.isInteger(r.horizon) && r.horizon >= 1)) throw new BacktestError(`horizon must be an integer >= 1, got ${r.horizon}`);
  if (r.every !== undefined && !(Number.isInteger(r.every) && r.every >= 1)) throw new BacktestError(`every must be an integer >= 1, got ${r.every}`);
  if (r.volLookback !== undefined && !(Number.isInteger(r.volLookback) && r.volLookback >= 2)) {
    throw new BacktestError(`volLookback must be an integer >= 2, got ${r.volLookback}`);
  }
  if (r.minConfidence !== undefined && !(r.minConfidence >= 0 && r.minConfidence <= 1)) {
    throw new BacktestError(`minConfidence must be in [0, 1], got ${r.minConfidence}`);
  }
  const s = r.sizing;
  if (s?.kind === 'fixed' && s.size !== undefined && !(s.size > 0)) throw new BacktestError(`size must be > 0, got ${s.size}`);
  if (s?.kind === 'vol-target') {
    if (!(s.annualVol > 0)) throw new BacktestError(`target volatility must be > 0, got ${s.annualVol}`);
    if (s.maxLeverage !== undefined && !(s.maxLeverage > 0)) throw new BacktestError(`maxLeverage must be > 0, got ${s.maxLeverage}`);
  }
}

/**
 * Sample sd of the close-to-close returns of the `lookback` bars ending at `bar` (uses closes bar−lookback ..
 * bar, all known at bar's close); null without enough history.
 */
export function recentVolatility(close: ArrayLike<number>, bar: number, lookback: number): number | null {
  if (bar - lookback < 0) return null;
  let s = 0;
  let s2 = 0;
  for (let i = bar - lookback + 1; i <= bar; i++) {
    const r = close[i]! / close[i - 1]! - 1;
    s += r;
    s2 += r * r;
  }
  const m = s / lookback;
  const v = (s2 - lookback * m * m) / (lookback - 1);
  return Math.sqrt(Math.max(v, 0));
}

/** The predictions acted on: in bar order, each at least `every` bars after the previous one kept. */
export function cadence(preds: readonly Prediction[], every: number): Prediction[] {
  const sorted = [...preds].sort((a, b) => a.bar - b.bar);
  const out: Prediction[] = [];
  let next = -Infinity;
  for (const p of sorted) {
    if (p.bar >= next) {
      out.push(p);
      next = p.bar + every;
    }
  }
  return out;
}

/** Applies the rule to each prediction (after the cadence filter). */
export function makeSignals(series: PriceSeries, preds: readonly Prediction[], rule: SignalRule, barsPerYear: number): Signal[] {
  checkRule(rule);
  const lookback = rule.volLookback ?? 20;
  const sizing = rule.sizing ?? { kind: 'fixed' };
  const out: Signal[] = [];
  for (const p of cadence(preds, rule.every ?? rule.horizon)) {
    if (p.bar < 0 || p.bar >= series.time.length) throw new BacktestError(`prediction bar ${p.bar} is outside the price series (0..${series.time.length - 1})`);
    const price = series.close[p.bar]!;
    const needsVol = rule.units === 'vol' || sizing.kind === 'vol-target';
    const vol = needsVol ? recentVolatility(series.close, p.bar, lookback) : null;
    const sig: Signal = { bar: p.bar, time: series.time[p.bar]!, direction: 0, size: 0, score: 0, confidence: p.confidence };
    out.push(sig);
    if (needsVol && (vol === null || vol === 0)) {
      sig.reason = 'no-history';
      continue;
    }
    switch (rule.units) {
      case 'price':
        sig.score = p.move;
        break;
      case 'pips':
        sig.score = p.move / rule.pipSize!;
        break;
      case 'bps':
        sig.score = (p.move / price) * 1e4;
        break;
      case 'vol':
        // The move as a return, in units of the volatility expected over the horizon (random-walk scaling).
        sig.score = p.move / price / (vol! * Math.sqrt(rule.horizon));
        break;
    }
    sig.size = sizing.kind === 'fixed' ? (sizing.size ?? 1) : Math.min(sizing.annualVol / (vol! * Math.sqrt(barsPerYear)), sizing.maxLeverage ?? 3);
    if (rule.minConfidence !== undefined && p.confidence !== undefined && p.confidence < rule.minConfidence) sig.reason = 'confidence';
    else if (Math.abs(sig.score) > rule.threshold) sig.direction = Math.sign(sig.score);
    else sig.reason = 'threshold';
  }
  return out;
}

/**
 * Lays signals out as the position decided after each bar's close: a signal at bar i decides bars i .. i+H−1
 * (held i+1 .. i+H by the engine); a later signal replaces an earlier one where they overlap.
 */
export function decidedPositions(n: number, signals: readonly Signal[], horizon: number, direction?: (s: Signal, k: number) => number): Float64Array {
  const decided = new Float64Array(n);
  signals.forEach((s, k) => {
    const d = direction ? direction(s, k) : s.direction;
    const end = Math.min(s.bar + horizon, n);
    for (let j = s.bar; j < end; j++) decided[j] = d * s.size;
  });
  return decided;
}

/**
 * Momentum (persistence of the last move): at bar i, predicts the close moves over the horizon as much as it did
 * over the last `lookback` bars. Persistence of the *level* predicts no move and would never trade, so this is
 * the persistence baseline that a direction rule can use.
 */
export function momentumPredictions(series: PriceSeries, bars: readonly number[], lookback: number): Prediction[] {
  const out: Prediction[] = [];
  for (const i of bars) if (i - lookback >= 0) out.push({ bar: i, move: series.close[i]! - series.close[i - lookback]! });
  return out;
}

/**
 * Predictions from a function forecaster. It is handed only the closes up to and including bar i (a view that
 * ends there), so it cannot look ahead even by mistake. It returns the predicted path (its last value is the
 * horizon's close) or a single predicted close, or null for no opinion.
 */
export function functionPredictions(
  series: PriceSeries,
  bars: readonly number[],
  forecast: (closes: Float64Array, bar: number) => number | readonly number[] | null,
): Prediction[] {
  const out: Prediction[] = [];
  for (const i of bars) {
    const f = forecast(series.close.subarray(0, i + 1), i);
    if (f === null) continue;
    const last = typeof f === 'number' ? f : f[f.length - 1];
    if (last === undefined || !Number.isFinite(last)) continue;
    out.push({ bar: i, move: last - series.close[i]! });
  }
  return out;
}

/** Bars start, start + k, … < end: the forecast schedule of a baseline or function forecaster. */
export function everyKBars(start: number, end: number, k: number): number[] {
  const out: number[] = [];
  for (let i = start; i < end; i += k) out.push(i);
  return out;
}

/**
 * Predictions from a window forecaster in src/eval's shape (`(context, horizon) → path`, e.g. drift or AR): at
 * each scheduled bar i it sees the `known` closes ending at i. The schedule is every `every` bars (default the
 * horizon, which keeps a slow forecaster's generation affordable), starting once `known` bars exist.
 */
export function windowForecasterPredictions(
  series: PriceSeries,
  forecaster: (context: readonly number[], horizon: number) => number[],
  o: { known: number; horizon: number; every?: number; from?: number; to?: number },
): Prediction[] {
  if (!(Number.isInteger(o.known) && o.known >= 1)) throw new BacktestError(`known must be an integer >= 1, got ${o.known}`);
  if (!(Number.isInteger(o.horizon) && o.horizon >= 1)) throw new BacktestError(`horizon must be an integer >= 1, got ${o.horizon}`);
  const start = Math.max(o.from ?? 0, o.known - 1);
  const bars = everyKBars(start, o.to ?? series.time.length, o.every ?? o.horizon);
  return functionPredictions(series, bars, (closes) => {
    const path = forecaster(Array.from(closes.subarray(closes.length - o.known)), o.horizon);
    return path.length === o.horizon ? path : null;
  });
}
