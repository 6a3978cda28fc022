/**
 * Direction (or bin) forecasts for many tickers — the StockNet and FinGPT tasks — as one equal-weight long/short
 * portfolio. On each signal date every ticker with a non-zero direction (and enough confidence) gets weight
 * direction ÷ N, N = the number of such tickers that date, so gross exposure is 1 whatever the mix. Each ticker
 * is its own sleeve run through the same execution model with its own costs; the portfolio's return on a date is
 * the sum of its sleeves' returns on that date (each sleeve's weight is a share of the whole portfolio's equity,
 * rebalanced at every trade time).
 */
import { simulate, type CostModel, type Trade } from './engine.js';
import { BacktestError } from './errors.js';
import { returnMetrics, tradeMetrics } from './metrics.js';
import { barIndex, gapsAfter, inferBarsPerYear, type PriceSeries } from './prices.js';
import type { Annualization, StrategyResult } from './backtest.js';

export interface DirectionForecast {
  instrument: string;
  /** Signal time: the close of this bar is the last thing the forecaster saw (ms UTC). */
  t0: number;
  /** +1 up, −1 down, 0 no call. A bin forecast maps its bins to these before coming here. */
  direction: number;
  /** Probability of the predicted direction, when the forecaster gives one. */
  confidence?: number;
  /** Where it came from (file:line), for messages. */
  where?: string;
}

export interface PortfolioConfig {
  /** Bars each position is held. */
  horizon: number;
  minConfidence?: number;
  /** Costs per ticker; `defaultCosts` for the rest. */
  costs?: Record<string, CostModel>;
  defaultCosts?: CostModel;
  flatOverGaps?: boolean;
  barsPerYear?: number;
}

export interface PortfolioResult {
  annualization: Annualization;
  time: Float64Array;
  returns: Float64Array;
  equity: Float64Array;
  metrics: StrategyResult;
  /** Per ticker: the sleeve's contribution (sum of its bar returns) and its trades. */
  sleeves: { instrument: string; contribution: number; trades: number; costs: number }[];
  trades: (Trade & { instrument: string })[];
  /** Signal dates and how many long / short positions each opened. */
  dates: { t0: number; long: number; short: number }[];
}

export function portfolioBacktest(prices: ReadonlyMap<string, PriceSeries>, forecasts: readonly DirectionForecast[], cfg: PortfolioConfig): PortfolioResult {
  if (forecasts.length === 0) throw new BacktestError('no direction forecasts for the portfolio');
  if (!(Number.isInteger(cfg.horizon) && cfg.horizon >= 1)) throw new BacktestError(`horizon must be an integer >= 1, got ${cfg.horizon}`);
  const byDate = new Map<number, DirectionForecast[]>();
  for (const f of forecasts) {
    const s = prices.get(f.instrument);
    if (!s) throw new BacktestError(`${f.where ?? 'forecast'}: instrument ${f.instrument} has no prices (have ${[...prices.keys()].join(', ')})`);
    if (barIndex(s, f.t0) < 0) {
      throw new BacktestError(`${f.where ?? 'forecast'}: ${new Date(f.t0).toISOString()} is not a bar of ${f.instrument} (${s.source})`);
    }
    let list = byDate.get(f.t0);
    if (!list) byDate.set(f.t0, (list = []));
    list.push(f);
  }
  const decided = new Map<string, Float64Array>();
  for (const [name, s] of prices) decided.set(name, new Float64Array(s.time.length));
  const dates: PortfolioResult['dates'] = [];
  for (const t0 of [...byDate.keys()].sort((a, b) => a - b)) {
    const active = byDate.get(t0)!.filter((f) => f.direction !== 0 && (cfg.minConfidence === undefined || f.confidence === undefined || f.confidence >= cfg.minConfidence));
    const seen = new Set<string>();
    for (const f of active) {
      if (seen.has(f.instrument)) throw new BacktestError(`${f.where ?? 'forecast'}: a second forecast for ${f.instrument} at the same time`);
      seen.add(f.instrument);
      const s = prices.get(f.instrument)!;
      const d = decided.get(f.instrument)!;
      const bar = barIndex(s, t0);
      for (let j = bar; j < Math.min(bar + cfg.horizon, s.time.length); j++) d[j] = Math.sign(f.direction) / active.length;
    }
    dates.push({ t0, long: active.filter((f) => f.direction > 0).length, short: active.filter((f) => f.direction < 0).length });
  }

  // The portfolio runs from the first signal date to the last position's horizon end, on the union of bar times.
  const firstT = Math.min(...byDate.keys());
  let lastT = -Infinity;
  for (const f of forecasts) {
    const s = prices.get(f.instrument)!;
    lastT = Math.max(lastT, s.time[Math.min(barIndex(s, f.t0) + cfg.horizon, s.time.length - 1)]!);
  }
  const perTime = new Map<number, number>();
  const exposedTimes = new Set<number>();
  const sleeves: PortfolioResult['sleeves'] = [];
  const trades: PortfolioResult['trades'] = [];
  let turnover = 0;
  for (const [name, s] of prices) {
    const from = s.time.findIndex((t) => t >= firstT);
    if (from < 0) continue;
    let to = s.time.length;
    while (to > from + 1 && s.time[to - 1]! > lastT) to--;
    const view = { ...s, time: s.time.subarray(from, to), open: s.open.subarray(from, to), close: s.close.subarray(from, to) };
    const sim = simulate(view, decided.get(name)!.subarray(from, to), {
      costs: cfg.costs?.[name] ?? cfg.defaultCosts,
      flatOverGaps: cfg.flatOverGaps,
      gaps: gapsAfter(s.time).subarray(from, to),
    });
    let contribution = 0;
    for (let j = 0; j < view.time.length; j++) {
      const t = view.time[j]!;
      perTime.set(t, (perTime.get(t) ?? 0) + sim.returns[j]!);
      if (sim.held[j] !== 0) exposedTimes.add(t);
      contribution += sim.returns[j]!;
    }
    turnover += sim.turnover;
    if (sim.trades.length || contribution !== 0) sleeves.push({ instrument: name, contribution, trades: sim.trades.length, costs: sim.costs });
    for (const tr of sim.trades) trades.push({ ...tr, instrument: name });
  }
  const time = Float64Array.from([...perTime.keys()].sort((a, b) => a - b));
  const returns = time.map((t) => perTime.get(t)!);
  const equity = new Float64Array(returns.length);
  let e = 1;
  returns.forEach((r, i) => (equity[i] = e *= 1 + r));
  const inferred = inferBarsPerYear(time);
  const used = cfg.barsPerYear ?? inferred;
  if (used === null) throw new BacktestError('cannot infer bars per year from under a day of bars; pass barsPerYear');
  const years = returns.length / used;
  const exposedBars = exposedTimes.size;
  const rm = returnMetrics(returns, used);
  return {
    annualization: { inferred, used },
    time,
    returns,
    equity,
    metrics: {
      ...rm,
      ...tradeMetrics(trades),
      turnover: years > 0 ? turnover / years : 0,
      exposure: returns.length ? exposedBars / returns.length : 0,
      costs: sleeves.reduce((a, s) => a + s.costs, 0),
    },
    sleeves,
    trades,
    dates,
  };
}
