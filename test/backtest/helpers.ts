/** Synthetic prices for the back-test tests: a seeded random walk on a 4-hour calendar with weekend gaps. */
import { makeSeries, type PriceSeries } from '../../src/backtest/prices.js';
import { createRng } from '../../src/tensor/rng.js';

export const H4 = 4 * 3_600_000;
export const MONDAY = Date.UTC(2024, 0, 1); // 2024-01-01 was a Monday

/** Bar times of `n` 4-hour bars, Monday 00:00 to Friday 20:00 each week (30 a week), weekends empty. */
export function weekdayTimes(n: number, start = MONDAY): number[] {
  const out: number[] = [];
  for (let t = start; out.length < n; t += H4) {
    const day = new Date(t).getUTCDay();
    if (day !== 0 && day !== 6) out.push(t);
  }
  return out;
}

/** A geometric random walk; each open is the previous close (continuous trading, as in forex) unless `gapSd`. */
export function randomWalk(n: number, seed: number, o: { sd?: number; start?: number; instrument?: string } = {}): PriceSeries {
  const rng = createRng(seed, 'test.walk');
  const close: number[] = [];
  let p = o.start ?? 1.1;
  for (let i = 0; i < n; i++) {
    p *= Math.exp(rng.normal(0, o.sd ?? 0.002));
    close.push(p);
  }
  const open = close.map((_, i) => (i === 0 ? (o.start ?? 1.1) : close[i - 1]!));
  return makeSeries(o.instrument ?? 'EURUSD', weekdayTimes(n), close, open);
}
