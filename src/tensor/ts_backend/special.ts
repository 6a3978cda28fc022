/**
 * erf and erfc, which JavaScript's Math lacks, to near double precision (relative error ≲ 1e-13 everywhere,
 * ≲ 1e-15 for erf), so that exact GELU can be checked by finite differences in float64.
 *
 * Two classical expansions, each used where it converges quickly and without cancellation:
 *  - |x| < 2: the all-positive series erf(x) = 2/√π · e^{-x²} · Σ_n 2ⁿ x^{2n+1} / (1·3·…·(2n+1)).
 *    Every term is positive, so there is no cancellation; erfc = 1 - erf then loses at most ~2.3 digits (at x = 2).
 *  - |x| ≥ 2: the continued fraction erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + (2/2)/(x + (3/2)/(x + …)))),
 *    evaluated bottom-up from a fixed depth. At x = 2, 60 levels are converged to ~2e-16, and it only gets
 *    faster as x grows. It keeps erfc's full relative precision in the tail, where 1 - erf would be all noise.
 */

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const ONE_OVER_SQRT_PI = 1 / Math.sqrt(Math.PI);
const SERIES_LIMIT = 2;
const CF_DEPTH = 60;

/** erf(x) for 0 <= x < SERIES_LIMIT by the positive series. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  // The term ratio is 2x²/(2n+1) < 1 once n > x² - ½, so it falls fast; stop when it no longer changes the sum.
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/** erfc(x) for x >= SERIES_LIMIT by the continued fraction. */
function erfcContinuedFraction(x: number): number {
  let f = x;
  for (let n = CF_DEPTH; n >= 1; n--) f = x + n / 2 / f;
  return (ONE_OVER_SQRT_PI * Math.exp(-x * x)) / f;
}

export function erf(x: number): number {
  if (x !== x) return NaN;
  const ax = Math.abs(x);
  const r = ax < SERIES_LIMIT ? erfSeries(ax) : 1 - erfcContinuedFraction(ax);
  return x < 0 ? -r : r;
}

export function erfc(x: number): number {
  if (x !== x) return NaN;
  const ax = Math.abs(x);
  const r = ax < SERIES_LIMIT ? 1 - erfSeries(ax) : erfcContinuedFraction(ax);
  // erfc(-x) = 2 - erfc(x).
  return x < 0 ? 2 - r : r;
}
