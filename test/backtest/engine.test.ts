import { describe, expect, it } from 'vitest';
import { costFraction, simulate } from '../../src/backtest/engine.js';
import { returnMetrics } from '../../src/backtest/metrics.js';
import { gapsAfter, inferBarsPerYear, makeSeries } from '../../src/backtest/prices.js';
import { H4, MONDAY, randomWalk, weekdayTimes } from './helpers.js';

const flat = (n: number, price = 1.1) => makeSeries('EURUSD', weekdayTimes(n), new Array(n).fill(price), new Array(n).fill(price));

describe('execution timing', () => {
  it('holds a decision from the next bar: decided[t] is held in bar t + 1', () => {
    const s = randomWalk(10, 1);
    const decided = new Float64Array(10);
    decided[3] = 1;
    const sim = simulate(s, decided);
    expect(Array.from(sim.held)).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
    // Bar 4's return is its open → next open: open[5] / open[4] − 1 (no costs).
    expect(sim.returns[4]).toBeCloseTo(s.open[5]! / s.open[4]! - 1, 14);
    expect(sim.trades).toHaveLength(1);
    expect(sim.trades[0]!.entryBar).toBe(4);
    expect(sim.trades[0]!.exitBar).toBe(5);
  });

  it('a decision at bar t cannot change any return up to bar t', () => {
    const s = randomWalk(50, 2);
    const a = new Float64Array(50).map((_, i) => (i % 3 === 0 ? 1 : -1));
    const b = Float64Array.from(a);
    b[20] = -b[20]!;
    const ra = simulate(s, a, { costs: { spreadPips: 1, pipSize: 1e-4 } }).returns;
    const rb = simulate(s, b, { costs: { spreadPips: 1, pipSize: 1e-4 } }).returns;
    expect(Array.from(rb.subarray(0, 21))).toEqual(Array.from(ra.subarray(0, 21)));
    expect(rb[21]).not.toBe(ra[21]);
  });
});

describe('no look-ahead', () => {
  // A random walk cannot be predicted from its past. A signal built from the *next* bar's return (the leak) can
  // only make money by seeing the future; the same signal lagged one bar (what is really known) must not.
  const n = 3000;
  const s = randomWalk(n, 7);
  const P = inferBarsPerYear(s.time)!;
  const costs = { spreadPips: 1, pipSize: 1e-4 };
  const leaked = new Float64Array(n);
  const lagged = new Float64Array(n);
  for (let t = 1; t + 1 < n; t++) {
    leaked[t] = Math.sign(s.close[t + 1]! - s.close[t]!); // decided at t from the return at t + 1: the leak
    lagged[t] = Math.sign(s.close[t]! - s.close[t - 1]!); // the same signal, one bar later: known at t
  }

  it('the injected leak makes an impossible profit', () => {
    const m = returnMetrics(simulate(s, leaked, { costs }).returns, P);
    expect(m.sharpe!).toBeGreaterThan(20);
    expect(m.totalReturn).toBeGreaterThan(10);
  });

  it('the properly lagged signal does not', () => {
    const m = returnMetrics(simulate(s, lagged, { costs }).returns, P);
    // Annualized Sharpe of a no-skill strategy over ~2 years of 4-hour bars: standard error ≈ √(P/n) ≈ 0.7.
    expect(Math.abs(m.sharpe!)).toBeLessThan(3);
    expect(m.totalReturn).toBeLessThan(0.5);
  });
});

describe('costs', () => {
  it('a round trip on flat prices loses exactly the spread and commissions', () => {
    // Price 1.1, spread 2 pips (each side pays 1 pip = 0.0001 / 1.1 of notional), commission 0.5 bp a side:
    // c = 0.0001 / 1.1 + 0.00005 per side; long 1 for bars 1..3, closed at bar 4's open → equity (1 − c)².
    const s = flat(8);
    const decided = new Float64Array(8);
    decided.fill(1, 0, 3);
    const sim = simulate(s, decided, { costs: { spreadPips: 2, pipSize: 1e-4, commissionBps: 0.5 } });
    const c = 0.0001 / 1.1 + 0.00005;
    expect(sim.equity[7]).toBeCloseTo((1 - c) ** 2, 15);
    expect(sim.costs).toBeCloseTo(c + (1 - c) * c, 15);
    expect(sim.turnover).toBe(2);
    expect(sim.trades[0]!.pnl).toBeCloseTo((1 - c) ** 2 - 1, 15);
  });

  it('reduce equity by exactly Π(1 − c·|Δw|) at each trade price, on any path', () => {
    const s = randomWalk(400, 3);
    const decided = new Float64Array(400).map((_, i) => [1, 1, 0, -0.5, -0.5, 2][i % 6]!);
    const costs = { spreadPips: 1.4, pipSize: 1e-4, commissionBps: 0.3, slippagePips: 0.2, spreadBps: 0.1 };
    const gross = simulate(s, decided);
    const net = simulate(s, decided, { costs });
    let factor = 1;
    let prev = 0;
    for (let t = 0; t < 400; t++) {
      const w = net.held[t]!;
      factor *= 1 - costFraction(costs, s.open[t]!) * Math.abs(w - prev);
      prev = w;
    }
    factor *= 1 - costFraction(costs, s.close[399]!) * Math.abs(prev); // everything is closed at the last close
    expect(net.equity[399]! / gross.equity[399]!).toBeCloseTo(factor, 12);
    // Per bar too: each bar's growth is the gross growth times that bar's cost factors.
    expect(net.returns[10]).toBeCloseTo((1 + gross.returns[10]!) * (1 - costFraction(costs, s.open[10]!) * Math.abs(net.held[10]! - net.held[9]!)) - 1, 14);
    expect(net.trades.reduce((a, t) => a + t.pnl, 0)).toBeCloseTo(net.equity[399]! - 1, 12);
  });

  it('cost fraction: pips need a pip size, and each side pays half the spread', () => {
    expect(costFraction({ spreadPips: 2, pipSize: 0.01 }, 150)).toBeCloseTo(0.01 / 150, 15);
    expect(costFraction({ spreadBps: 2, commissionBps: 1, slippageBps: 0.5 }, 100)).toBeCloseTo(2.5e-4, 15);
    expect(() => costFraction({ spreadPips: 1 }, 1)).toThrow(/pipSize/);
    expect(() => simulate(flat(3), [0, 0, 0], { costs: { commissionBps: -1 } })).toThrow(/commissionBps must be a number >= 0/);
  });
});

describe('gaps', () => {
  // Friday 16:00 and 20:00, then Monday 00:00 and 04:00. Closes: 1.00, 1.00 (Fri 20:00), Monday opens 1.10
  // (a 10 % weekend gap) and closes 1.10, 1.21.
  const fri = MONDAY + 4 * 86_400_000;
  const time = [fri + 16 * 3_600_000, fri + 20 * 3_600_000, MONDAY + 7 * 86_400_000, MONDAY + 7 * 86_400_000 + H4];
  const s = makeSeries('EURUSD', time, [1.0, 1.0, 1.1, 1.21], [1.0, 1.0, 1.1, 1.1]);
  const decided = [1, 1, 1, 0]; // long from Fri 20:00 until the end

  it('finds the weekend', () => {
    expect(Array.from(gapsAfter(s.time))).toEqual([0, 1, 0, 0]);
  });

  it('a position carried over the weekend takes the gap return', () => {
    const sim = simulate(s, decided);
    // bar 1 (Fri 20:00): 1.00 → 1.00 intrabar, then 1.00 → 1.10 over the weekend: +10 %; bar 2 flat; bar 3 +10 %.
    expect(Array.from(sim.returns).map((r) => +r.toFixed(12))).toEqual([0, 0.1, 0, 0.1]);
    expect(sim.trades).toHaveLength(1);
  });

  it('flatOverGaps closes at Friday\'s close and reopens at Monday\'s open, paying both sides again', () => {
    const sim = simulate(s, decided, { flatOverGaps: true });
    expect(Array.from(sim.returns).map((r) => +r.toFixed(12))).toEqual([0, 0, 0, 0.1]);
    expect(sim.trades.map((t) => [t.entryBar, t.exitBar, t.exitAt])).toEqual([
      [1, 1, 'close'],
      [2, 3, 'close'],
    ]);
    const c = 0.0001;
    const withCosts = simulate(s, decided, { flatOverGaps: true, costs: { commissionBps: 1 } });
    // four sides: open Fri 20:00, close Fri 20:00, open Mon 00:00, close at the end
    expect(withCosts.equity[3]).toBeCloseTo(1.1 * (1 - c) ** 4, 14);
    expect(withCosts.turnover).toBe(4);
  });

  it('infers bars per year from the calendar: 30 bars a week → ≈ 1565', () => {
    const b = inferBarsPerYear(weekdayTimes(30 * 52))!;
    expect(b).toBeGreaterThan(1540);
    expect(b).toBeLessThan(1580);
  });
});
