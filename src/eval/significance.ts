/**
 * Significance tests: Diebold–Mariano for equal predictive accuracy (with the Harvey–Leybourne–Newbold small-sample
 * correction) and Holm's step-down correction when several methods are each tested against persistence.
 */

import { studentTCdf, studentTTwoSidedP } from './stats.js';

export type HacKernel = 'bartlett' | 'rectangular';

export interface DieboldMarianoResult {
  /** Number of loss differentials. */
  n: number;
  /** Forecast horizon h; the long-run variance uses h − 1 autocovariance lags. */
  h: number;
  /** Mean loss differential d̄ (negative: the first forecast has the lower loss). */
  mean_diff: number;
  /** Long-run variance estimate of d used (γ₀ + 2 Σ w_k γ_k). */
  long_run_variance: number;
  /** The uncorrected DM statistic d̄ / √(V/n). */
  dm: number;
  /** HLN-corrected statistic, compared with Student t on n − 1 degrees of freedom. */
  statistic: number;
  df: number;
  /** Two-sided p-value for H0: equal expected loss. */
  p_value: number;
  /** One-sided p-value for H1: the first forecast has the lower expected loss. */
  p_first_better: number;
  kernel: HacKernel;
}

/**
 * Diebold–Mariano test on loss differentials d_t = L1_t − L2_t (e.g. squared error of the model minus that of
 * persistence, per window).
 *
 * Long-run variance: V = γ₀ + 2 Σ_{k=1}^{h−1} w_k γ_k with γ_k = (1/n) Σ_{t=k+1}^{n} (d_t − d̄)(d_{t−k} − d̄).
 * With `bartlett` (the default; Newey–West) w_k = 1 − k/h, which keeps V ≥ 0; `rectangular` (w_k = 1) is Diebold
 * and Mariano's original choice and can go negative for h > 1, in which case the statistic is undefined (NaN).
 *
 * DM = d̄ / √(V/n); HLN: DM* = DM · √((n + 1 − 2h + h(h − 1)/n) / n), referred to Student t with n − 1 df.
 */
export function dieboldMariano(
  diffs: readonly number[],
  h = 1,
  kernel: HacKernel = 'bartlett',
): DieboldMarianoResult {
  const n = diffs.length;
  if (!(Number.isInteger(h) && h >= 1)) throw new Error(`Diebold–Mariano: h must be a positive integer, got ${h}`);
  if (n < 2) throw new Error(`Diebold–Mariano: need at least 2 loss differentials, got ${n}`);
  if (h >= n) throw new Error(`Diebold–Mariano: horizon ${h} needs more than ${n} observations`);
  let sum = 0;
  for (const d of diffs) sum += d;
  const dbar = sum / n;
  const autocov = (k: number): number => {
    let s = 0;
    for (let t = k; t < n; t++) s += (diffs[t]! - dbar) * (diffs[t - k]! - dbar);
    return s / n;
  };
  let V = autocov(0);
  for (let k = 1; k < h; k++) {
    const w = kernel === 'bartlett' ? 1 - k / h : 1;
    V += 2 * w * autocov(k);
  }
  const df = n - 1;
  const hln = Math.sqrt((n + 1 - 2 * h + (h * (h - 1)) / n) / n);
  let dm: number;
  if (V > 0) dm = dbar / Math.sqrt(V / n);
  else if (V === 0 && dbar === 0) dm = 0; // identical losses: no evidence either way
  else if (V === 0) dm = dbar > 0 ? Infinity : -Infinity; // constant non-zero difference
  else dm = NaN; // negative variance estimate (rectangular kernel only)
  const statistic = dm * hln;
  return {
    n,
    h,
    mean_diff: dbar,
    long_run_variance: V,
    dm,
    statistic,
    df,
    p_value: studentTTwoSidedP(statistic, df),
    p_first_better: Number.isNaN(statistic) ? NaN : studentTCdf(statistic, df),
    kernel,
  };
}

export interface HolmResult {
  /** Holm-adjusted p-values, in the input order. */
  adjusted: number[];
  /** Whether each hypothesis is rejected at family-wise level `alpha`. */
  reject: boolean[];
}

/**
 * Holm's step-down procedure. With the m p-values sorted ascending p_(1) ≤ … ≤ p_(m), the adjusted value is
 * p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) p_(j)); hypothesis i is rejected when p̃_i ≤ alpha. NaN p-values (a
 * test that could not be computed) are never rejected and do not count towards m.
 */
export function holm(pValues: readonly number[], alpha = 0.05): HolmResult {
  const idx = pValues.map((p, i) => ({ p, i })).filter((x) => !Number.isNaN(x.p));
  idx.sort((a, b) => a.p - b.p || a.i - b.i);
  const m = idx.length;
  const adjusted = pValues.map(() => NaN);
  let running = 0;
  idx.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[i] = running;
  });
  return { adjusted, reject: adjusted.map((p) => !Number.isNaN(p) && p <= alpha) };
}
