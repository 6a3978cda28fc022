import { describe, expect, it } from 'vitest';
import {
  leastSquares,
  logGamma,
  median,
  populationStd,
  quantile,
  regularizedIncompleteBeta,
  studentTCdf,
  studentTTwoSidedP,
} from '../../src/eval/stats.js';

describe('log-gamma and the incomplete beta function', () => {
  it('logGamma matches factorials and Γ(1/2) = √π', () => {
    expect(logGamma(1)).toBeCloseTo(0, 13);
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12); // Γ(5) = 4!
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    expect(logGamma(0.1)).toBeCloseTo(Math.log(9.513507698668732), 11); // Γ(0.1), tabulated
  });

  it('I_x(a, b) on closed forms', () => {
    // I_x(1, 1) = x (uniform CDF); I_x(a, 1) = x^a.
    expect(regularizedIncompleteBeta(0.37, 1, 1)).toBeCloseTo(0.37, 14);
    expect(regularizedIncompleteBeta(0.6, 3, 1)).toBeCloseTo(0.216, 14);
    // I_0.5(a, a) = 1/2 by symmetry.
    expect(regularizedIncompleteBeta(0.5, 2.5, 2.5)).toBeCloseTo(0.5, 14);
    // I_0.3(2, 3) = Σ_{j=2..4} C(4,j) 0.3^j 0.7^{4−j} = 6·0.09·0.49 + 4·0.027·0.7 + 0.0081 = 0.2646 + 0.0756 + 0.0081.
    expect(regularizedIncompleteBeta(0.3, 2, 3)).toBeCloseTo(0.3483, 13);
    // The symmetry branch: I_0.7(3, 2) = 1 − I_0.3(2, 3).
    expect(regularizedIncompleteBeta(0.7, 3, 2)).toBeCloseTo(1 - 0.3483, 13);
    expect(regularizedIncompleteBeta(0, 2, 3)).toBe(0);
    expect(regularizedIncompleteBeta(1, 2, 3)).toBe(1);
    expect(() => regularizedIncompleteBeta(1.5, 2, 3)).toThrow(/x must be in/);
  });
});

describe('Student t CDF', () => {
  it('matches closed forms for 1, 2 and 3 degrees of freedom', () => {
    // df = 1 is the Cauchy: F(t) = 1/2 + atan(t)/π, so F(1) = 3/4.
    expect(studentTCdf(1, 1)).toBeCloseTo(0.75, 13);
    expect(studentTCdf(-3, 1)).toBeCloseTo(0.5 + Math.atan(-3) / Math.PI, 13);
    // df = 2: F(t) = 1/2 + t / (2√(2 + t²)); F(2) = 1/2 + 2/(2√6) = 0.908248290463863.
    expect(studentTCdf(2, 2)).toBeCloseTo(0.908248290463863, 12);
    // df = 3: F(t) = 1/2 + (1/π)[(t/√3)/(1 + t²/3) + atan(t/√3)];
    // F(1) = 1/2 + (1/π)[0.4330127 + π/6] = 0.80449889.
    expect(studentTCdf(1, 3)).toBeCloseTo(0.5 + (Math.sqrt(3) / 4 + Math.PI / 6) / Math.PI, 12);
    expect(studentTCdf(0, 7)).toBe(0.5);
  });

  it('matches printed t-table critical values', () => {
    // Classic table entries (3 decimals printed, so 1e-4 is the honest tolerance).
    const table: Array<[number, number, number]> = [
      [1, 12.706, 0.975],
      [5, 2.571, 0.975],
      [10, 2.228, 0.975],
      [20, 2.845, 0.995],
      [30, 1.697, 0.95],
      [4, -2.776, 0.025],
    ];
    for (const [df, t, p] of table) expect(Math.abs(studentTCdf(t, df) - p)).toBeLessThan(1e-4);
    // Large df approaches the normal: Φ(1.96) = 0.9750021.
    expect(studentTCdf(1.96, 1e6)).toBeCloseTo(0.9750021, 6);
  });

  it('two-sided p-values keep precision in the far tail', () => {
    expect(studentTTwoSidedP(2.228, 10)).toBeCloseTo(2 * (1 - studentTCdf(2.228, 10)), 12);
    // df = 1: P(|T| > t) = 1 − 2 atan(t)/π = 2 atan(1/t)/π; at t = 1e6 that is ≈ 6.366e-7.
    expect(studentTTwoSidedP(1e6, 1) / ((2 * Math.atan(1e-6)) / Math.PI)).toBeCloseTo(1, 9);
    expect(studentTTwoSidedP(Infinity, 5)).toBe(0);
  });
});

describe('summary statistics', () => {
  it('quantile uses linear interpolation between order statistics', () => {
    // Sorted [1, 2, 3, 4]: q = 0.25 sits at position 0.75 → 1 + 0.75·(2 − 1) = 1.75.
    expect(quantile([4, 1, 3, 2], 0.25)).toBeCloseTo(1.75, 14);
    expect(quantile([4, 1, 3, 2], 0.5)).toBeCloseTo(2.5, 14);
    expect(quantile([4, 1, 3, 2], 1)).toBe(4);
    expect(median([5, 1, 3])).toBe(3);
    // Population std of [2, 4, 4, 4, 5, 5, 7, 9]: mean 5, squared deviations sum 32, /8 = 4 → 2.
    expect(populationStd([2, 4, 4, 4, 5, 5, 7, 9])).toBe(2);
  });
});

describe('least squares', () => {
  it('recovers an exact line and reports zero residual', () => {
    // y = 1 + 2x at x = 0, 1, 2.
    const { beta, rss } = leastSquares([[1, 0], [1, 1], [1, 2]], [1, 3, 5]);
    expect(beta[0]).toBeCloseTo(1, 12);
    expect(beta[1]).toBeCloseTo(2, 12);
    expect(rss).toBeCloseTo(0, 20);
  });

  it('fits an overdetermined system by hand', () => {
    // Fit y = c + b x to (0, 1), (1, 1), (2, 4): x̄ = 1, ȳ = 2, Sxy = (−1)(−1) + 0 + (1)(2) = 3, Sxx = 2,
    // b = 1.5, c = 2 − 1.5 = 0.5; fitted 0.5, 2, 3.5; residuals
    // 0.5, −1, 0.5; RSS = 0.25 + 1 + 0.25 = 1.5.
    const { beta, rss } = leastSquares([[1, 0], [1, 1], [1, 2]], [1, 1, 4]);
    expect(beta[0]).toBeCloseTo(0.5, 12);
    expect(beta[1]).toBeCloseTo(1.5, 12);
    expect(rss).toBeCloseTo(1.5, 12);
  });

  it('refuses a rank-deficient design', () => {
    expect(() => leastSquares([[1, 2], [1, 2], [1, 2]], [1, 2, 3])).toThrow(/rank deficient/);
  });
});
