import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/tensor/rng.js';
import {
  arForecastSeries,
  arPriceForecaster,
  driftForecast,
  fitArByAic,
  logReturns,
  movingAverageForecast,
  persistenceForecast,
} from '../../src/eval/baselines.js';

describe('simple baselines', () => {
  it('persistence repeats the last value', () => {
    expect(persistenceForecast([3, 1, 4], 3)).toEqual([4, 4, 4]);
  });

  it('drift extends the first-to-last slope', () => {
    // Slope (16 − 10) / 2 = 3 per step → 19, 22.
    expect(driftForecast([10, 12, 16], 2)).toEqual([19, 22]);
    // A single known value has no slope: persistence.
    expect(driftForecast([7], 2)).toEqual([7, 7]);
  });

  it('moving average of the last k values', () => {
    // Last two of [10, 12, 16] average 14.
    expect(movingAverageForecast([10, 12, 16], 2, 2)).toEqual([14, 14]);
    // k larger than the context uses all of it: (10 + 12 + 16)/3.
    expect(movingAverageForecast([10, 12, 16], 1, 10)).toEqual([38 / 3]);
    expect(() => movingAverageForecast([1], 1, 0)).toThrow(/positive integer/);
  });
});

describe('AR(p) by AIC', () => {
  it('AIC of the intercept-only fit by hand', () => {
    // Series 1..5, maxP 0: mean 3, RSS = 4 + 1 + 0 + 1 + 4 = 10, n = 5 → AIC = 5 ln(10/5) + 2·1.
    const m = fitArByAic([1, 2, 3, 4, 5], 0);
    expect(m.p).toBe(0);
    expect(m.intercept).toBeCloseTo(3, 14);
    expect(m.aic[0]).toBeCloseTo(5 * Math.log(2) + 2, 12);
    expect(m.sigma2).toBeCloseTo(2, 14);
  });

  it('selects order 2 on a synthetic AR(2) and recovers its coefficients', () => {
    // r_t = 0.001 + 0.5 r_{t−1} − 0.3 r_{t−2} + 0.01 ε_t, ε standard normal from a seeded generator.
    const rng = createRng(20261123, 'test/ar2');
    const r: number[] = [0, 0];
    for (let t = 2; t < 2100; t++) r.push(0.001 + 0.5 * r[t - 1]! - 0.3 * r[t - 2]! + 0.01 * rng.normal());
    const series = r.slice(100); // drop the burn-in from the zero start
    const m = fitArByAic(series, 20);
    expect(m.p).toBe(2);
    expect(m.aic.length).toBe(21);
    expect(m.coefficients[0]).toBeCloseTo(0.5, 1);
    expect(m.coefficients[1]).toBeCloseTo(-0.3, 1);
    expect(Math.sqrt(m.sigma2)).toBeCloseTo(0.01, 3);
    // Every order was fit on the same n = N − 20 targets.
    expect(m.n).toBe(series.length - 20);
  });

  it('iterates the recursion for multi-step forecasts', () => {
    // r_t = 1 + 0.5 r_{t−1}; from history [..., 2]: 1 + 1 = 2, then 1 + 1 = 2 (a fixed point).
    const model = { p: 1, intercept: 1, coefficients: [0.5], sigma2: 0, aic: [], n: 0, seriesMean: 0 };
    expect(arForecastSeries(model, [0, 2], 2)).toEqual([2, 2]);
    // From 0: 1, then 1.5, then 1.75.
    expect(arForecastSeries(model, [0], 3)).toEqual([1, 1.5, 1.75]);
    // An empty history stands in the series mean (0 here) for the missing lag.
    expect(arForecastSeries(model, [], 1)).toEqual([1]);
  });

  it('on prices: constant growth gives an intercept-only model that compounds', () => {
    // Training prices grow 1 % a step: every log return is ln 1.01, so AR(0) with c = ln 1.01 fits exactly
    // (higher orders are collinear with the intercept and are not fit).
    const train = Array.from({ length: 40 }, (_, t) => 100 * 1.01 ** t);
    const { model, forecast } = arPriceForecaster(train);
    expect(model.p).toBe(0);
    expect(model.intercept).toBeCloseTo(Math.log(1.01), 12);
    const f = forecast([100, 110], 2);
    expect(f[0]).toBeCloseTo(110 * 1.01, 9);
    expect(f[1]).toBeCloseTo(110 * 1.01 ** 2, 9);
  });

  it('log returns need positive prices', () => {
    expect(logReturns([1, Math.E])).toEqual([1]);
    expect(() => logReturns([1, 0], 'training')).toThrow(/training value 1 is 0/);
  });
});
