/**
 * One back-test: a forecaster's predictions on one instrument, traded by a signal rule through the execution
 * model, beside its benchmarks in the same run over the same bars — buy-and-hold, the momentum (persistence of
 * the last move) signal with the same rule, and random signals as a seeded bootstrap distribution, so the report
 * can say where the model's Sharpe ratio falls among chance.
 */
import { createRng } from '../tensor/rng.js';
import { simulate, type CostModel, type Simulation, type Trade } from './engine.js';
import { BacktestError } from './errors.js';
import { returnMetrics, tradeMetrics, type ReturnMetrics, type TradeMetrics } from './metrics.js';
import { gapsAfter, inferBarsPerYear, sliceSeries, type PriceSeries } from './prices.js';
import { decidedPositions, makeSignals, momentumPredictions, type Prediction, type Signal, type SignalRule } from './signals.js';

export interface BacktestConfig {
  rule: SignalRule;
  costs?: CostModel;
  flatOverGaps?: boolean;
  /** Override of the bars per year inferred from the timestamps. */
  barsPerYear?: number;
  /** Random-signal draws for the chance distribution (0 = none). Default 1000. */
  randomDraws?: number;
  seed?: number;
  /** Momentum lookback in bars. Default the horizon. */
  momentumLookback?: number;
}

export interface Annualization {
  inferred: number | null;
  used: number;
}

export interface StrategyResult extends ReturnMetrics, TradeMetrics {
  /** Σ|Δposition| per year. */
  turnover: number;
  exposure: number;
  /** Costs paid, as a fraction of starting equity. */
  costs: number;
}

export interface StrategyRun {
  name: string;
  metrics: StrategyResult;
  sim: Simulation;
}

export interface ChanceDistribution {
  draws: number;
  seed: number;
  /** Percentile (0–100) of the model's Sharpe among the random draws' (ties count half). */
  modelSharpePercentile: number | null;
  sharpe: { mean: number; p05: number; p50: number; p95: number } | null;
}

export interface BacktestResult {
  instrument: string;
  /** Bar times of the simulated span (shared by every strategy). */
  time: Float64Array;
  annualization: Annualization;
  signals: Signal[];
  model: StrategyRun;
  buyAndHold: StrategyRun;
  momentum: StrategyRun;
  random: ChanceDistribution;
}

/** Metrics of one simulation over its span. */
export function summarize(sim: Simulation, barsPerYear: number): StrategyResult {
  const r = returnMetrics(sim.returns, barsPerYear);
  const years = sim.returns.length / barsPerYear;
  return { ...r, ...tradeMetrics(sim.trades), turnover: years > 0 ? sim.turnover / years : 0, exposure: sim.exposure, costs: sim.costs };
}

export function resolveBarsPerYear(time: ArrayLike<number>, override?: number): Annualization {
  const inferred = inferBarsPerYear(time);
  if (override !== undefined && !(override > 0)) throw new BacktestError(`barsPerYear must be > 0, got ${override}`);
  const used = override ?? inferred;
  if (used === null) throw new BacktestError('cannot infer bars per year from under a day of bars; pass barsPerYear');
  return { inferred, used };
}

function quantileSorted(s: readonly number[], q: number): number {
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/**
 * Runs the model's predictions and the benchmarks over the span from the first prediction's bar to the last
 * one's horizon end. Annualization is inferred from the whole series (a longer sample of the calendar).
 */
export function runBacktest(series: PriceSeries, predictions: readonly Prediction[], cfg: BacktestConfig): BacktestResult {
  if (predictions.length === 0) throw new BacktestError(`no predictions to back-test for ${series.instrument}`);
  const ann = resolveBarsPerYear(series.time, cfg.barsPerYear);
  const H = cfg.rule.horizon;
  let first = Infinity;
  let last = -Infinity;
  for (const p of predictions) {
    first = Math.min(first, p.bar);
    last = Math.max(last, p.bar);
  }
  const end = Math.min(last + H + 1, series.time.length);
  const span = sliceSeries(series, first, end);
  // Gaps come from the full series' spacing so a short span cannot misjudge what a normal bar is.
  const gaps = gapsAfter(series.time).subarray(first, end);
  const simOpts = { costs: cfg.costs, flatOverGaps: cfg.flatOverGaps, gaps };
  const n = span.time.length;
  const run = (name: string, decided: Float64Array): StrategyRun => {
    const sim = simulate(span, decided, simOpts);
    return { name, sim, metrics: summarize(sim, ann.used) };
  };

  // Signals use the full series for their volatility history (bars before the span are the past, not the future).
  const signals = makeSignals(series, predictions, cfg.rule, ann.used).map((s) => ({ ...s, bar: s.bar - first }));
  const model = run('model', decidedPositions(n, signals, H));

  const hold = new Float64Array(n).fill(1);
  const buyAndHold = run('buy-and-hold', hold);

  const lookback = cfg.momentumLookback ?? H;
  const momPreds = momentumPredictions(series, signals.map((s) => s.bar + first), lookback);
  const momSignals = makeSignals(series, momPreds, cfg.rule, ann.used).map((s) => ({ ...s, bar: s.bar - first }));
  const momentum = run('momentum', decidedPositions(n, momSignals, H));

  const random = chance(span, signals, model.metrics.sharpe, H, ann.used, simOpts, cfg.randomDraws ?? 1000, cfg.seed ?? 0);
  for (const s of signals) s.time = span.time[s.bar]!;
  return { instrument: series.instrument, time: span.time, annualization: ann, signals, model, buyAndHold, momentum, random };
}

/**
 * Random signals: at the model's signal bars, directions drawn with replacement from the model's own directions
 * (a bootstrap, so exposure and the long/short mix match the model's on average), sized as the model's sizing
 * would size them. The model's Sharpe is then placed in the distribution of the random Sharpes.
 */
export function chance(
  span: PriceSeries,
  signals: readonly Signal[],
  modelSharpe: number | null,
  horizon: number,
  barsPerYear: number,
  simOpts: Parameters<typeof simulate>[2],
  draws: number,
  seed: number,
): ChanceDistribution {
  if (!(Number.isInteger(draws) && draws >= 0)) throw new BacktestError(`randomDraws must be an integer >= 0, got ${draws}`);
  const dirs = signals.map((s) => s.direction);
  if (draws === 0 || dirs.length === 0) return { draws: 0, seed, modelSharpePercentile: null, sharpe: null };
  const rng = createRng(seed, 'backtest.random');
  const sharpes: number[] = [];
  const n = span.time.length;
  for (let d = 0; d < draws; d++) {
    const pick = dirs.map(() => dirs[rng.randint(dirs.length)]!);
    const sim = simulate(span, decidedPositions(n, signals, horizon, (s, k) => (s.size > 0 ? pick[k]! : 0)), simOpts);
    // A random draw that never trades has no Sharpe; it is as good as zero for the comparison.
    sharpes.push(returnMetrics(sim.returns, barsPerYear).sharpe ?? 0);
  }
  return { draws, seed, ...chanceSummary(sharpes, modelSharpe) };
}

/** Where `modelSharpe` falls among the random Sharpes (percentile, ties half), and their summary. */
export function chanceSummary(sharpes: number[], modelSharpe: number | null): Pick<ChanceDistribution, 'modelSharpePercentile' | 'sharpe'> {
  const sorted = [...sharpes].sort((a, b) => a - b);
  const draws = sorted.length;
  if (draws === 0) return { modelSharpePercentile: null, sharpe: null };
  let pct: number | null = null;
  if (modelSharpe !== null) {
    let below = 0;
    let ties = 0;
    for (const s of sorted) {
      if (s < modelSharpe) below++;
      else if (s === modelSharpe) ties++;
    }
    pct = (100 * (below + ties / 2)) / draws;
  }
  const m = sorted.reduce((a, b) => a + b, 0) / draws;
  return {
    modelSharpePercentile: pct,
    sharpe: { mean: m, p05: quantileSorted(sorted, 0.05), p50: quantileSorted(sorted, 0.5), p95: quantileSorted(sorted, 0.95) },
  };
}

export type { Trade };
