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
import { chanceSummary, type Annualization, type StrategyResult } from './backtest.js';
import { createRng } from '../tensor/rng.js';

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
  /** The last value the forecaster saw; checked against the close at t0 when given (misaligned data). */
  lastKnown?: number;
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
  /** Relative tolerance between a forecast's lastKnown and the close at t0. Default 1e-6. */
  alignTolerance?: number;
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
    const bar = barIndex(s, f.t0);
    if (bar < 0) {
      throw new BacktestError(`${f.where ?? 'forecast'}: ${new Date(f.t0).toISOString()} is not a bar of ${f.instrument} (${s.source})`);
    }
    const tol = cfg.alignTolerance ?? 1e-6;
    if (f.lastKnown !== undefined && Math.abs(f.lastKnown - s.close[bar]!) > tol * Math.abs(s.close[bar]!)) {
      throw new BacktestError(
        `${f.where ?? 'forecast'}: the last known value ${f.lastKnown} is not the close ${s.close[bar]} of ${f.instrument} at ${new Date(f.t0).toISOString()} (misaligned timestamps, or Close vs Adj Close?)`,
      );
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
  let firstT = Infinity;
  for (const t of byDate.keys()) firstT = Math.min(firstT, t);
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
  const traded = new Set(forecasts.map((f) => f.instrument));
  for (const [name, s] of prices) {
    if (!traded.has(name)) continue;
    const from = s.time.findIndex((t) => t >= firstT);
    if (from < 0) continue;
    let to = s.time.length;
    while (to > from + 1 && s.time[to - 1]! > lastT) to--;
    const view = { ...s, time: s.time.subarray(from, to), open: s.open.subarray(from, to), close: s.close.subarray(from, to) };
    const sim = simulate(view, decided.get(name)!.subarray(from, to), {
      costs: cfg.costs?.[name] ?? cfg.defaultCosts,
      flatOverGaps: cfg.flatOverGaps,
      gaps: cfg.flatOverGaps ? gapsAfter(s.time).subarray(from, to) : undefined,
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

export interface PortfolioBenchmarks {
  /** Every forecast ticker long 1/N on every signal date, same holding and costs. */
  longAll: PortfolioResult;
  /** Direction = sign of each ticker's move over the last `lookback` bars up to t0 (previous-direction baseline). */
  momentum: PortfolioResult;
  /** Directions drawn with replacement from the model's own calls. */
  random: { draws: number; seed: number; modelSharpePercentile: number | null; sharpe: { mean: number; p05: number; p50: number; p95: number } | null };
}

/**
 * The portfolio's benchmarks on exactly the model's (ticker, date) pairs, holding and costs: long everything,
 * the previous move's direction, and a seeded bootstrap of the model's directions for a chance distribution.
 */
export function portfolioBenchmarks(
  prices: ReadonlyMap<string, PriceSeries>,
  forecasts: readonly DirectionForecast[],
  cfg: PortfolioConfig,
  modelSharpe: number | null,
  o: { draws?: number; seed?: number; lookback?: number } = {},
): PortfolioBenchmarks {
  // Benchmarks make their own calls: the model's confidence filter and last-known check do not apply to them.
  const plain = { ...cfg, minConfidence: undefined };
  const strip = (f: DirectionForecast): DirectionForecast => ({ instrument: f.instrument, t0: f.t0, direction: f.direction, where: f.where });
  const longAll = portfolioBacktest(prices, forecasts.map((f) => ({ ...strip(f), direction: 1 })), plain);
  const lookback = o.lookback ?? cfg.horizon;
  const momentum = portfolioBacktest(
    prices,
    forecasts.map((f) => {
      const s = prices.get(f.instrument)!;
      const bar = barIndex(s, f.t0);
      return { ...strip(f), direction: bar >= lookback ? Math.sign(s.close[bar]! - s.close[bar - lookback]!) : 0 };
    }),
    plain,
  );
  const draws = o.draws ?? 1000;
  const seed = o.seed ?? 0;
  if (!(Number.isInteger(draws) && draws >= 0)) throw new BacktestError(`randomDraws must be an integer >= 0, got ${draws}`);
  // The model's calls after its confidence filter are what the random draws resample.
  const calls = forecasts.filter((f) => cfg.minConfidence === undefined || f.confidence === undefined || f.confidence >= cfg.minConfidence);
  const dirs = calls.map((f) => f.direction);
  if (draws === 0 || dirs.length === 0) return { longAll, momentum, random: { draws: 0, seed, modelSharpePercentile: null, sharpe: null } };
  const rng = createRng(seed, 'backtest.portfolio.random');
  const sharpes: number[] = [];
  for (let d = 0; d < draws; d++) {
    const drawn = calls.map((f) => ({ ...strip(f), direction: dirs[rng.randint(dirs.length)]! }));
    sharpes.push(portfolioBacktest(prices, drawn, plain).metrics.sharpe ?? 0);
  }
  return { longAll, momentum, random: { draws, seed, ...chanceSummary(sharpes, modelSharpe) } };
}
