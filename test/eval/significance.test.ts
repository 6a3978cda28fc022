import { describe, expect, it } from 'vitest';
import { dieboldMariano, holm } from '../../src/eval/significance.js';
import { blockBootstrapIndices, percentileInterval, resolveBootstrap } from '../../src/eval/bootstrap.js';

describe('Diebold–Mariano', () => {
  it('h = 1, worked by hand', () => {
    // d = [1, −1, 2, 0]: d̄ = 0.5; deviations 0.5, −1.5, 1.5, −0.5;
    // γ₀ = (0.25 + 2.25 + 2.25 + 0.25)/4 = 1.25 (no lags at h = 1);
    // DM = 0.5 / √(1.25/4) = 0.5 / 0.5590170 = 0.8944272;
    // HLN factor √((n + 1 − 2h + h(h−1)/n)/n) = √((4 + 1 − 2 + 0)/4) = √0.75, so DM* = √0.6 = 0.7745967;
    // t with 3 df: F(t) = 1/2 + (1/π)[(t/√3)/(1 + t²/3) + atan(t/√3)] with t/√3 = √0.2:
    //   (√0.2)/1.2 = 0.3726780, atan(√0.2) = 0.4205343 → F = 0.5 + 0.7932123/π = 0.7524873;
    // two-sided p = 2(1 − F) = 0.4950253.
    const r = dieboldMariano([1, -1, 2, 0], 1);
    expect(r.mean_diff).toBe(0.5);
    expect(r.long_run_variance).toBeCloseTo(1.25, 14);
    expect(r.dm).toBeCloseTo(0.5 / Math.sqrt(1.25 / 4), 12);
    expect(r.statistic).toBeCloseTo(Math.sqrt(0.6), 12);
    expect(r.df).toBe(3);
    const F = 0.5 + (Math.sqrt(0.2) / 1.2 + Math.atan(Math.sqrt(0.2))) / Math.PI;
    expect(r.p_value).toBeCloseTo(2 * (1 - F), 12);
    expect(r.p_value).toBeCloseTo(0.4950253, 6);
    // One-sided "first forecast better" needs d̄ < 0; here d̄ > 0, so it is F(DM*) = 0.7524873.
    expect(r.p_first_better).toBeCloseTo(F, 12);
  });

  it('h = 2 with Newey–West weights, worked by hand', () => {
    // d = [1, −1, 2, 0, 3]: d̄ = 1; deviations 0, −2, 1, −1, 2;
    // γ₀ = (0 + 4 + 1 + 1 + 4)/5 = 2; γ₁ = [(−2)(0) + (1)(−2) + (−1)(1) + (2)(−1)]/5 = −5/5 = −1;
    // Bartlett weight for lag 1 with h − 1 = 1 lag: 1 − 1/2 = 0.5 → V = 2 + 2·0.5·(−1) = 1;
    // DM = 1/√(1/5) = √5; HLN: (5 + 1 − 4 + 2/5)/5 = 0.48 → DM* = √5 · √0.48 = √2.4 = 1.5491933;
    // t with 4 df has the closed form F(t) = 1/2 + (3/4)(s − s³/3), s = t/√(4 + t²) = √2.4/√6.4 = √0.375;
    //   s = 0.6123724, s³/3 = 0.0765466 → F = 0.5 + 0.75·(0.6123724 − 0.0765466) = 0.9018694;
    // two-sided p = 2(1 − F) = 0.1962612.
    const r = dieboldMariano([1, -1, 2, 0, 3], 2);
    expect(r.long_run_variance).toBeCloseTo(1, 14);
    expect(r.statistic).toBeCloseTo(Math.sqrt(2.4), 12);
    const s = Math.sqrt(0.375);
    expect(r.p_value).toBeCloseTo(2 * (1 - (0.5 + 0.75 * (s - s ** 3 / 3))), 12);
    expect(r.p_value).toBeCloseTo(0.1962612, 6);
  });

  it('the rectangular kernel can leave no variance', () => {
    // Same d, rectangular: V = 2 + 2·(−1) = 0 with d̄ = 1 > 0 → statistic +∞, p = 0.
    const r = dieboldMariano([1, -1, 2, 0, 3], 2, 'rectangular');
    expect(r.long_run_variance).toBeCloseTo(0, 14);
    expect(r.statistic).toBe(Infinity);
    expect(r.p_value).toBe(0);
    // Identical losses: statistic 0, p = 1.
    expect(dieboldMariano([0, 0, 0], 1).p_value).toBe(1);
  });

  it('rejects too few observations', () => {
    expect(() => dieboldMariano([1], 1)).toThrow(/at least 2/);
    expect(() => dieboldMariano([1, 2, 3], 3)).toThrow(/horizon 3/);
  });
});

describe('Holm', () => {
  it('step-down adjustment, worked by hand', () => {
    // p = [0.01, 0.04, 0.03, 0.005], m = 4. Sorted: 0.005, 0.01, 0.03, 0.04 →
    // 4·0.005 = 0.02; 3·0.01 = 0.03; 2·0.03 = 0.06; 1·0.04 = 0.04 → running max 0.06.
    const r = holm([0.01, 0.04, 0.03, 0.005]);
    expect(r.adjusted[0]).toBeCloseTo(0.03, 14);
    expect(r.adjusted[1]).toBeCloseTo(0.06, 14);
    expect(r.adjusted[2]).toBeCloseTo(0.06, 14);
    expect(r.adjusted[3]).toBeCloseTo(0.02, 14);
    expect(r.reject).toEqual([true, false, false, true]);
  });

  it('caps at 1 and skips NaN', () => {
    const r = holm([0.6, NaN, 0.2]);
    // m = 2: 2·0.2 = 0.4; max(0.4, 1·0.6) = 0.6.
    expect(r.adjusted[2]).toBeCloseTo(0.4, 14);
    expect(r.adjusted[0]).toBeCloseTo(0.6, 14);
    expect(Number.isNaN(r.adjusted[1])).toBe(true);
    expect(r.reject).toEqual([false, false, false]);
    // Sorted 0.8, 0.9: min(1, 2·0.8) = 1, then max(1, 1·0.9) = 1.
    expect(holm([0.9, 0.8]).adjusted).toEqual([1, 1]);
  });
});

describe('moving-block bootstrap', () => {
  it('resamples runs of consecutive windows, reproducibly', () => {
    const settings = resolveBootstrap(10, { replicates: 50, blockLength: 3, seed: 7 });
    const a = blockBootstrapIndices(10, settings);
    const b = blockBootstrapIndices(10, settings);
    expect(a).toEqual(b);
    for (const idx of a) {
      expect(idx.length).toBe(10);
      // Blocks of 3 start at 0, 3, 6, 9 (the last cut to 1): inside a block indices are consecutive,
      // and every start lies in 0 … n − L = 7.
      for (let j = 0; j < 10; j++) {
        if (j % 3 === 0) expect(idx[j]).toBeLessThanOrEqual(7);
        else expect(idx[j]).toBe(idx[j - 1]! + 1);
      }
    }
    const c = blockBootstrapIndices(10, { ...settings, seed: 8 });
    expect(c).not.toEqual(a);
  });

  it('default block length is ⌈n^{1/3}⌉', () => {
    expect(resolveBootstrap(27).blockLength).toBe(3);
    expect(resolveBootstrap(28).blockLength).toBe(4);
    expect(resolveBootstrap(1).blockLength).toBe(1);
  });

  it('percentile interval brackets the statistic', () => {
    const data = Array.from({ length: 200 }, (_, i) => Math.sin(i) * 2 + 5);
    const settings = resolveBootstrap(data.length, { replicates: 400, seed: 1 });
    const samples = blockBootstrapIndices(data.length, settings);
    const meanOf = (idx: Int32Array): number => {
      let s = 0;
      for (const i of idx) s += data[i]!;
      return s / idx.length;
    };
    const ci = percentileInterval(samples, meanOf, settings.level)!;
    const full = data.reduce((p, q) => p + q, 0) / data.length;
    expect(ci.lower).toBeLessThan(full);
    expect(ci.upper).toBeGreaterThan(full);
    // A constant statistic has a degenerate interval.
    expect(percentileInterval(samples, () => 3, 0.9)).toEqual({ lower: 3, upper: 3, level: 0.9 });
  });
});
