/**
 * The execution model: turns the positions a strategy decided at each bar's close into per-bar returns, trades
 * and costs. Everything that could leak the future is decided here, once, for every signal source:
 *
 *   - `decided[t]` is the position wanted after seeing bar t's close. It is *held* from the next bar's open:
 *     the engine shifts it by one bar itself, so no caller can trade on a close it has just seen.
 *   - A bar's return runs from its open to the next bar's open: open→close while holding the position, then
 *     close→next open (overnight, or the weekend) while holding it or, with `flatOverGaps`, flat when a gap
 *     follows (closed at this bar's close, reopened at the next open if still wanted).
 *   - Every change of position pays the cost fraction at the price where it happens; all positions are closed at
 *     the last bar's close, so the final equity is cash.
 *
 * Positions are fractions of current equity (1 = fully invested long, −0.5 = half short) and are restored to
 * the target at every trade time, so one bar's growth factor is exactly
 *   (1 − c_open·|Δw_open|)(1 + w·R_intrabar)(1 − c_close·|Δw_close|)(1 + w'·R_gap)
 * which makes costs multiplicative and exactly testable.
 */
import { BacktestError } from './errors.js';
import { gapsAfter, type PriceSeries } from './prices.js';

export interface CostModel {
  /** Full bid-ask spread in pips; each side pays half. */
  spreadPips?: number;
  /** Full bid-ask spread in basis points of price (for stocks); each side pays half. */
  spreadBps?: number;
  /** Price units per pip; required when any *Pips cost is non-zero (see pipSizeFor). */
  pipSize?: number;
  /** Commission per side, basis points of traded notional. */
  commissionBps?: number;
  /** Extra adverse fill per side, in pips. */
  slippagePips?: number;
  /** Extra adverse fill per side, in basis points. */
  slippageBps?: number;
}

/** The cost of trading one unit of notional (weight 1) at `price`, as a fraction of that notional. */
export function costFraction(c: CostModel, price: number): number {
  const pips = (c.spreadPips ?? 0) / 2 + (c.slippagePips ?? 0);
  if (pips !== 0 && !(c.pipSize! > 0)) throw new BacktestError('pipSize must be > 0 when spreadPips or slippagePips is set');
  const bps = (c.spreadBps ?? 0) / 2 + (c.slippageBps ?? 0) + (c.commissionBps ?? 0);
  return (pips !== 0 ? (pips * c.pipSize!) / price : 0) + bps / 1e4;
}

export function checkCosts(c: CostModel): void {
  for (const k of ['spreadPips', 'spreadBps', 'commissionBps', 'slippagePips', 'slippageBps', 'pipSize'] as const) {
    const v = c[k];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new BacktestError(`${k} must be a number >= 0, got ${v}`);
  }
}

export interface Trade {
  side: 1 | -1;
  /** Bar index (within the simulated series) whose open (or close, after a gap close) the trade entered at. */
  entryBar: number;
  entryTime: number;
  /** Bar at whose open the trade was closed, or at whose close (gap close, end of data). */
  exitBar: number;
  exitTime: number;
  exitAt: 'open' | 'close';
  /** Profit or loss in equity units (the run starts with equity 1), costs included. */
  pnl: number;
  /** pnl ÷ equity at entry. */
  return: number;
  /** Costs paid, equity units. */
  costs: number;
}

export interface Simulation {
  /** Net return of each bar (open to next open; the last bar: open to close). */
  returns: Float64Array;
  /** Equity after each bar, starting from 1 before bar 0. */
  equity: Float64Array;
  /** Position held during each bar's open→close. */
  held: Float64Array;
  trades: Trade[];
  /** Σ|Δposition| over all trade times (a full round trip of a weight-1 position is 2). */
  turnover: number;
  /** Total costs paid, equity units. */
  costs: number;
  /** Share of bars with a non-zero position. */
  exposure: number;
}

export interface SimOptions {
  costs?: CostModel;
  flatOverGaps?: boolean;
  /** Precomputed gapAfter flags (e.g. from the full series when simulating a slice). Default: from the times. */
  gaps?: Uint8Array;
}

/** Runs the strategy; `decided[t]` is the position wanted after bar t's close (held from bar t + 1). */
export function simulate(series: PriceSeries, decided: ArrayLike<number>, o: SimOptions = {}): Simulation {
  const n = series.time.length;
  if (decided.length !== n) throw new BacktestError(`decided positions (${decided.length}) must have one entry per bar (${n})`);
  const costs = o.costs ?? {};
  checkCosts(costs);
  const gaps = o.flatOverGaps ? (o.gaps ?? gapsAfter(series.time)) : undefined;
  const { open, close, time } = series;
  const returns = new Float64Array(n);
  const equity = new Float64Array(n);
  const held = new Float64Array(n);
  const trades: Trade[] = [];
  // Held in a box: TypeScript cannot see the helpers below reassign a plain `let`, and would narrow it to null.
  const box: { cur: (Trade & { entryEquity: number }) | null } = { cur: null };
  let E = 1;
  let wPrev = 0;
  let turnover = 0;
  let totalCosts = 0;
  let exposed = 0;

  const closeTrade = (bar: number, at: 'open' | 'close'): void => {
    const cur = box.cur;
    if (!cur) return;
    cur.exitBar = bar;
    cur.exitTime = time[bar]!;
    cur.exitAt = at;
    cur.return = cur.pnl / cur.entryEquity;
    const { entryEquity: _, ...t } = cur;
    trades.push(t);
    box.cur = null;
  };
  const openTrade = (bar: number, side: 1 | -1, eq: number): void => {
    box.cur = { side, entryBar: bar, entryTime: time[bar]!, exitBar: bar, exitTime: time[bar]!, exitAt: 'open', pnl: 0, return: 0, costs: 0, entryEquity: eq };
  };

  for (let t = 0; t < n; t++) {
    const E0 = E;
    const w = t === 0 ? 0 : decided[t - 1]!;
    if (!Number.isFinite(w)) throw new BacktestError(`decided position at bar ${t - 1} is not a finite number`);
    held[t] = w;
    if (w !== 0) exposed++;

    // 1. Trade at the open. A flip is a close of the old trade plus an open of a new one; each pays its own part.
    const cO = costFraction(costs, open[t]!);
    const dOpen = Math.abs(w - wPrev);
    if (dOpen > 0) {
      const sameSide = wPrev !== 0 && w !== 0 && Math.sign(w) === Math.sign(wPrev);
      if (sameSide) {
        box.cur!.pnl -= E * cO * dOpen;
        box.cur!.costs += E * cO * dOpen;
      } else {
        if (wPrev !== 0) {
          box.cur!.pnl -= E * cO * Math.abs(wPrev);
          box.cur!.costs += E * cO * Math.abs(wPrev);
          closeTrade(t, 'open');
        }
        if (w !== 0) {
          openTrade(t, w > 0 ? 1 : -1, E);
          box.cur!.pnl -= E * cO * Math.abs(w);
          box.cur!.costs += E * cO * Math.abs(w);
        }
      }
      totalCosts += E * cO * dOpen;
      turnover += dOpen;
      E *= 1 - cO * dOpen;
    }

    // 2. Hold through the bar.
    const intrabar = w * (close[t]! / open[t]! - 1);
    if (box.cur) box.cur.pnl += E * intrabar;
    E *= 1 + intrabar;

    // 3. At the close: everything is closed after the last bar, and before a gap when asked to.
    const last = t === n - 1;
    const wAfter = last || (gaps && gaps[t]) ? 0 : w;
    const dClose = Math.abs(w - wAfter);
    if (dClose > 0) {
      const cC = costFraction(costs, close[t]!);
      box.cur!.pnl -= E * cC * dClose;
      box.cur!.costs += E * cC * dClose;
      totalCosts += E * cC * dClose;
      turnover += dClose;
      E *= 1 - cC * dClose;
      closeTrade(t, 'close');
    }

    // 4. Close to the next open (overnight or over the gap).
    if (!last && wAfter !== 0) {
      const gap = wAfter * (open[t + 1]! / close[t]! - 1);
      box.cur!.pnl += E * gap;
      E *= 1 + gap;
    }
    returns[t] = E / E0 - 1;
    equity[t] = E;
    wPrev = wAfter;
  }
  return { returns, equity, held, trades, turnover, costs: totalCosts, exposure: n ? exposed / n : 0 };
}
