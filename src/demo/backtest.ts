/**
 * The demo's back-test of forecasts, with trading costs.
 *
 * src/backtest/ is being written by another engineer; until it lands this is a deliberately simple stand-in,
 * behind one function (`backtestForecasts`) so it can be swapped for the real engine without touching the rest
 * of the demo. The rule is the plainest one a forecast supports:
 *
 *   at each test window's last known bar, go long if the forecast's last step is above the last known close,
 *   short if below, stay flat if equal; hold for the horizon and close at the last true bar.
 *
 * Windows do not overlap, so positions never overlap either and returns simply add up. Each trade pays
 * `costBps` (spread plus commission, round trip) on entry; a flat window pays nothing. Returns are in basis
 * points of the position's notional (no leverage, no compounding), which is what makes methods comparable.
 */
import type { ForecastRecord } from '../eval/schema.js';

export interface BacktestOptions {
  /** Round-trip cost per trade in basis points. Default 1.5 (about a 1-pip EURUSD spread plus a small commission). */
  costBps?: number;
  /** Windows per year for the annualized Sharpe ratio; default 260 (a 6-bar window of 4-hour bars is one trading day). */
  periodsPerYear?: number;
}

export interface BacktestResult {
  key: string;
  trades: number;
  long: number;
  short: number;
  flat: number;
  /** Share of trades whose gross return was positive. */
  hitRate: number | null;
  grossBps: number;
  costBps: number;
  netBps: number;
  /** Net return as a fraction (netBps / 10 000), the report's `totalReturn`. */
  totalReturn: number;
  /** Annualized mean / sd of the per-window net returns (flat windows count as 0); null under 2 windows. */
  sharpe: number | null;
  /** Largest peak-to-trough fall of cumulative net return, as a fraction. */
  maxDrawdown: number;
  equity: Array<{ t: string; equity: number }>;
  rule: string;
}

/** Long/short/flat from a forecast; null when the forecast failed to parse (counted as flat). */
export function signal(r: Pick<ForecastRecord, 'context' | 'predicted'>): -1 | 0 | 1 {
  if (r.predicted.length === 0) return 0;
  const last = r.context[r.context.length - 1]!;
  const p = r.predicted[r.predicted.length - 1]!;
  return p > last ? 1 : p < last ? -1 : 0;
}

export function backtestForecasts(key: string, records: readonly ForecastRecord[], o: BacktestOptions = {}): BacktestResult {
  const cost = o.costBps ?? 1.5;
  const perYear = o.periodsPerYear ?? 260;
  const sorted = [...records].sort((a, b) => a.t0.localeCompare(b.t0));
  let equity = 0;
  let peak = 0;
  let maxDd = 0;
  let gross = 0;
  let paid = 0;
  let wins = 0;
  const counts = { long: 0, short: 0, flat: 0 };
  const rets: number[] = [];
  const curve: BacktestResult['equity'] = [];
  for (const r of sorted) {
    const s = signal(r);
    const entry = r.context[r.context.length - 1]!;
    const exit = r.true[r.true.length - 1]!;
    const move = 1e4 * (exit / entry - 1);
    const g = s * move;
    const c = s === 0 ? 0 : cost;
    if (s === 1) counts.long++;
    else if (s === -1) counts.short++;
    else counts.flat++;
    if (s !== 0 && g > 0) wins++;
    gross += g;
    paid += c;
    rets.push(g - c);
    equity += g - c;
    peak = Math.max(peak, equity);
    maxDd = Math.max(maxDd, peak - equity);
    curve.push({ t: r.t0, equity: equity / 1e4 });
  }
  const trades = counts.long + counts.short;
  const mean = rets.length ? rets.reduce((a, b) => a + b, 0) / rets.length : 0;
  const sd = rets.length > 1 ? Math.sqrt(rets.reduce((a, b) => a + (b - mean) ** 2, 0) / (rets.length - 1)) : 0;
  return {
    key,
    trades,
    ...counts,
    hitRate: trades ? wins / trades : null,
    grossBps: gross,
    costBps: paid,
    netBps: gross - paid,
    totalReturn: (gross - paid) / 1e4,
    sharpe: rets.length > 1 && sd > 0 ? (mean / sd) * Math.sqrt(perYear) : null,
    maxDrawdown: maxDd / 1e4,
    equity: curve,
    rule: `sign of the forecast's last step vs the last known close; hold ${sorted[0]?.true.length ?? 0} bars; ${cost} bps per round trip`,
  };
}

/** Always long over the same windows: the benchmark a direction forecast has to beat after costs. */
export function buyAndHold(records: readonly ForecastRecord[], o: BacktestOptions = {}): BacktestResult {
  const longs = records.map((r) => ({ ...r, predicted: r.true.map(() => r.context[r.context.length - 1]! + 1) }));
  return { ...backtestForecasts('always long', longs, o), rule: `long every window; ${o.costBps ?? 1.5} bps per round trip` };
}
