import { describe, expect, it } from 'vitest';
import { equityFromReturns, returnMetrics, tradeMetrics } from '../../src/backtest/metrics.js';

describe('return metrics against a hand-computed example', () => {
  // Bar returns r = [+10 %, −20 %, +5 %, +10 %], 4 bars per year (so one year in all).
  //   equity: 1.1, 0.88, 0.924, 1.0164          total = 0.0164, annualized = 1.0164^(4/4) − 1 = 0.0164
  //   mean = 0.05 / 4 = 0.0125
  //   deviations 0.0875, −0.2125, 0.0375, 0.0875; squares sum 0.061875; / 3 = 0.020625; sd = 0.1436141
  //   volatility = sd·√4 = 0.2872281;  Sharpe = 0.0125 / 0.1436141 · 2 = 0.1740777
  //   downside: only −0.2 counts, √(0.04 / 4) = 0.1;  Sortino = 0.0125 / 0.1 · 2 = 0.25
  //   drawdown: peak 1.1 after bar 0; 0.88 is 20 % below it (the worst); bars 1, 2, 3 stay below it → 3 bars
  //   Calmar = 0.0164 / 0.2 = 0.082
  const m = returnMetrics([0.1, -0.2, 0.05, 0.1], 4);
  it('matches each figure', () => {
    expect(m.bars).toBe(4);
    expect(m.totalReturn).toBeCloseTo(0.0164, 12);
    expect(m.annualizedReturn).toBeCloseTo(0.0164, 12);
    expect(m.volatility).toBeCloseTo(0.2872281, 6);
    expect(m.sharpe!).toBeCloseTo(0.1740777, 6);
    expect(m.sortino!).toBeCloseTo(0.25, 12);
    expect(m.maxDrawdown).toBeCloseTo(0.2, 12);
    expect(m.maxDrawdownBars).toBe(3);
    expect(m.calmar!).toBeCloseTo(0.082, 12);
  });

  it('annualizes by bars per year: 2 bars of +1 % at 252 bars a year', () => {
    // (1.01²)^(252/2) − 1 = 1.01^252 − 1
    const a = returnMetrics([0.01, 0.01], 252);
    expect(a.annualizedReturn).toBeCloseTo(Math.pow(1.01, 252) - 1, 9);
    // Constant returns have no spread: Sharpe, Sortino and Calmar are undefined, not infinite.
    expect(a.sharpe).toBeNull();
    expect(a.sortino).toBeNull();
    expect(a.calmar).toBeNull();
    expect(a.maxDrawdown).toBe(0);
  });

  it('counts a drawdown that ends when equity regains its peak', () => {
    // equity 1.1, 0.99, 1.1 (regained: 0.99 · 1.1111… = 1.1), then 1.21: one underwater bar; dd = 1 − 0.99/1.1 = 0.1
    const a = returnMetrics([0.1, -0.1, 1.1 / 0.99 - 1, 0.1], 4);
    expect(a.maxDrawdown).toBeCloseTo(0.1, 12);
    expect(a.maxDrawdownBars).toBe(1);
  });

  it('starts the drawdown from the initial equity', () => {
    // −10 % then +5 %: equity 0.9, 0.945; never back to 1 → dd 10 %, 2 bars underwater.
    const a = returnMetrics([-0.1, 0.05], 2);
    expect(a.maxDrawdown).toBeCloseTo(0.1, 12);
    expect(a.maxDrawdownBars).toBe(2);
  });

  it('compounds equity', () => {
    expect(Array.from(equityFromReturns([0.5, -0.5]))).toEqual([1.5, 0.75]);
  });
});

describe('trade metrics', () => {
  it('hit rate and profit factor by hand', () => {
    // wins 0.5 + 0.1 = 0.6, losses 0.2 + 0.3 = 0.5 → PF 1.2; 2 of 4 win → 50 %
    const t = tradeMetrics([{ pnl: 0.5 }, { pnl: -0.2 }, { pnl: 0.1 }, { pnl: -0.3 }]);
    expect(t.trades).toBe(4);
    expect(t.hitRate).toBe(0.5);
    expect(t.profitFactor!).toBeCloseTo(1.2, 12);
  });
  it('no trades or no losers give null ratios', () => {
    expect(tradeMetrics([])).toEqual({ trades: 0, hitRate: null, profitFactor: null });
    expect(tradeMetrics([{ pnl: 1 }]).profitFactor).toBeNull();
  });
});
