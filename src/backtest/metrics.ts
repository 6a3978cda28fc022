/**
 * Performance figures of a strategy, from its per-bar returns and its trades. Every figure is defined in
 * docs/backtest.md; the short version is next to each field. Ratios that would divide by zero are null rather
 * than Infinity or NaN, so a JSON report always parses and a reader sees "undefined" instead of a huge number.
 */

export interface ReturnMetrics {
  bars: number;
  /** E_n / E_0 − 1. */
  totalReturn: number;
  /** (1 + totalReturn)^(P / n) − 1, P = bars per year. */
  annualizedReturn: number;
  /** Sample standard deviation (n − 1) of bar returns × √P. */
  volatility: number;
  /** mean / sd of bar returns × √P (risk-free rate 0). */
  sharpe: number | null;
  /** mean / downside deviation × √P; downside deviation = √(mean over all bars of min(r, 0)²). */
  sortino: number | null;
  /** Largest fall from a running peak of equity, as a positive fraction. */
  maxDrawdown: number;
  /** Longest stretch, in bars, from a peak until equity first gets back to it (or the end). */
  maxDrawdownBars: number;
  /** annualizedReturn / maxDrawdown. */
  calmar: number | null;
}

export interface TradeLike {
  /** Profit or loss of the trade in equity units (costs included). */
  pnl: number;
}

export interface TradeMetrics {
  trades: number;
  /** Share of trades with pnl > 0. */
  hitRate: number | null;
  /** Sum of winning pnl ÷ |sum of losing pnl|. */
  profitFactor: number | null;
}

export function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return x.length ? s / x.length : 0;
}

/** Sample standard deviation (divides by n − 1); 0 for fewer than two values. */
export function sampleSd(x: ArrayLike<number>): number {
  const n = x.length;
  if (n < 2) return 0;
  const m = mean(x);
  let s = 0;
  for (let i = 0; i < n; i++) s += (x[i]! - m) ** 2;
  return Math.sqrt(s / (n - 1));
}

/** Equity after each bar, starting from `start` (the value before the first bar is not included). */
export function equityFromReturns(returns: ArrayLike<number>, start = 1): Float64Array {
  const e = new Float64Array(returns.length);
  let v = start;
  for (let i = 0; i < returns.length; i++) {
    v *= 1 + returns[i]!;
    e[i] = v;
  }
  return e;
}

// A standard deviation this small is floating-point noise around a constant series, not risk.
const TINY = 1e-15;

export function returnMetrics(returns: ArrayLike<number>, barsPerYear: number): ReturnMetrics {
  const n = returns.length;
  const equity = equityFromReturns(returns);
  const total = n ? equity[n - 1]! - 1 : 0;
  const annualized = n && total > -1 ? Math.pow(1 + total, barsPerYear / n) - 1 : n ? -1 : 0;
  const m = mean(returns);
  const sd = sampleSd(returns);
  let down = 0;
  for (let i = 0; i < n; i++) down += Math.min(returns[i]!, 0) ** 2;
  const downside = n ? Math.sqrt(down / n) : 0;
  const root = Math.sqrt(barsPerYear);

  // Drawdown against the running peak, where the starting equity (1, before any bar) counts as a peak.
  let peak = 1;
  let peakBar = -1;
  let maxDd = 0;
  let maxDur = 0;
  for (let i = 0; i < n; i++) {
    const e = equity[i]!;
    if (e >= peak) {
      peak = e;
      peakBar = i;
    } else {
      maxDd = Math.max(maxDd, 1 - e / peak);
      maxDur = Math.max(maxDur, i - peakBar);
    }
  }
  return {
    bars: n,
    totalReturn: total,
    annualizedReturn: annualized,
    volatility: sd * root,
    sharpe: sd > TINY ? (m / sd) * root : null,
    sortino: downside > TINY ? (m / downside) * root : null,
    maxDrawdown: maxDd,
    maxDrawdownBars: maxDur,
    calmar: maxDd > TINY ? annualized / maxDd : null,
  };
}

export function tradeMetrics(trades: readonly TradeLike[]): TradeMetrics {
  let wins = 0;
  let gain = 0;
  let loss = 0;
  for (const t of trades) {
    if (t.pnl > 0) {
      wins++;
      gain += t.pnl;
    } else loss -= t.pnl;
  }
  return {
    trades: trades.length,
    hitRate: trades.length ? wins / trades.length : null,
    profitFactor: loss > TINY ? gain / loss : null,
  };
}
