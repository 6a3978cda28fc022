/**
 * The demo's back-test: every forecaster's test forecasts through the project's back-test engine
 * (src/backtest/: next-open fills, spread and commission per side, positions held for the horizon), beside the
 * engine's benchmarks over the same bars — buy-and-hold, momentum with the same rule, and random signals with
 * the model's own long/short mix (where the model's Sharpe ratio falls among them).
 *
 * Rule: at each forecast's last known bar, long if the forecast's last step is above the last close, short if
 * below (threshold 0), fixed size 1, held for the horizon. Costs: a 1-pip EURUSD spread (half paid per side) and
 * 0.25 bps commission per side. The test windows are a sample of the test period, so the strategy is flat between
 * them while buy-and-hold is always invested: compare Sharpe ratios, not total returns, with buy-and-hold.
 */
import { alignForecasts } from '../backtest/forecasts.js';
import { makeSeries, pipSizeFor, type PriceSeries } from '../backtest/prices.js';
import { runBacktest, type BacktestResult as EngineResult, type StrategyRun } from '../backtest/backtest.js';
import type { CostModel } from '../backtest/engine.js';
import type { OhlcvSeries } from '../data/loaders/ohlcv.js';
import type { ForecastRecord } from '../eval/schema.js';

export const DEMO_COSTS: CostModel = { spreadPips: 1, commissionBps: 0.25 };

export interface BacktestResult {
  key: string;
  trades: number;
  hitRate: number | null;
  /** Final equity / starting equity − 1, costs included. */
  totalReturn: number;
  sharpe: number | null;
  maxDrawdown: number;
  /** Costs paid as a fraction of starting equity. */
  costs: number;
  /** Share of bars with a position. */
  exposure: number;
  /** Percentile of this Sharpe among random signals with the same long/short mix (null for benchmarks). */
  chancePercentile: number | null;
  parseFailures: number;
  /** Equity after each bar of the simulated span (starts at 1). */
  equity: Array<{ t: string; equity: number }>;
  rule: string;
}

export function priceSeriesOf(s: OhlcvSeries, instrument: string): PriceSeries {
  return makeSeries(instrument, s.time, s.close, s.open, s.file);
}

function entry(key: string, run: StrategyRun, time: Float64Array, extra: Pick<BacktestResult, 'chancePercentile' | 'parseFailures' | 'rule'>): BacktestResult {
  const m = run.metrics;
  const equity: BacktestResult['equity'] = [];
  for (let i = 0; i < run.sim.equity.length; i++) equity.push({ t: new Date(time[i]!).toISOString(), equity: run.sim.equity[i]! });
  return { key, trades: m.trades, hitRate: m.hitRate, totalReturn: m.totalReturn, sharpe: m.sharpe, maxDrawdown: m.maxDrawdown, costs: m.costs, exposure: m.exposure, equity, ...extra };
}

export interface DemoBacktest {
  model: BacktestResult;
  /** Buy-and-hold and momentum over the same bars. */
  benchmarks: BacktestResult[];
  engine: EngineResult;
}

export function backtestForecasts(key: string, records: readonly ForecastRecord[], series: PriceSeries, o: { seed?: number; randomDraws?: number } = {}): DemoBacktest {
  const sorted = [...records].sort((a, b) => a.t0.localeCompare(b.t0));
  const aligned = alignForecasts(`${key}/forecasts.jsonl`, sorted.map((record, i) => ({ record, line: i + 1 })), series);
  const costs = { ...DEMO_COSTS, pipSize: pipSizeFor(series.instrument) };
  const rule = `long/short on the sign of the forecast's last step, size 1, held ${aligned.horizon} bars, filled at the next open; ${costs.spreadPips}-pip spread + ${costs.commissionBps} bps commission per side`;
  const engine = runBacktest(series, aligned.predictions, { rule: { threshold: 0, units: 'bps', horizon: aligned.horizon, sizing: { kind: 'fixed' } }, costs, randomDraws: o.randomDraws ?? 300, seed: o.seed ?? 0 });
  const model = entry(key, engine.model, engine.time, { chancePercentile: engine.random.modelSharpePercentile, parseFailures: aligned.parseFailures, rule });
  const benchmarks = [
    entry('buy-and-hold', engine.buyAndHold, engine.time, { chancePercentile: null, parseFailures: 0, rule: 'always long over the same span' }),
    entry('momentum', engine.momentum, engine.time, { chancePercentile: null, parseFailures: 0, rule: `the last ${aligned.horizon} bars' move continues, same rule and costs` }),
  ];
  return { model, benchmarks, engine };
}
