/**
 * Small numerical building blocks for the evaluation: the Student t distribution (via the regularized incomplete
 * beta function), summary statistics, and a dense least-squares solver. Written here rather than pulled from a
 * package because the evaluation must be reproducible to the last digit and the pieces are short.
 */

/** ln Γ(x) for x > 0, Lanczos approximation (g = 7, 9 terms; relative error ~1e-15 over the range we use). */
const LANCZOS_G = 7;
const LANCZOS_COEF = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma: x must be > 0, got ${x}`);
  if (x < 0.5) {
    // Reflection keeps the series in its accurate region: Γ(x)Γ(1−x) = π / sin(πx).
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  }
  const z = x - 1;
  let sum = LANCZOS_COEF[0]!;
  for (let i = 1; i < LANCZOS_COEF.length; i++) sum += LANCZOS_COEF[i]! / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/**
 * The continued fraction for I_x(a, b), evaluated with the modified Lentz method. Converges fast when
 * x < (a + 1) / (a + b + 2); the caller uses the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) otherwise.
 */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const TINY = 1e-300;
  const EPS = 1e-15;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    // Even step: d_{2m} = m(b − m)x / ((a + 2m − 1)(a + 2m)).
    let num = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + num * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + num / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    // Odd step: d_{2m+1} = −(a + m)(a + b + m)x / ((a + 2m)(a + 2m + 1)).
    num = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + num * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + num / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) return h;
  }
  throw new Error(`incomplete beta: continued fraction did not converge (x=${x}, a=${a}, b=${b})`);
}

/** The regularized incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b), for 0 ≤ x ≤ 1, a, b > 0. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0) || !(b > 0)) throw new RangeError(`incomplete beta: a and b must be > 0, got a=${a}, b=${b}`);
  if (!(x >= 0 && x <= 1)) throw new RangeError(`incomplete beta: x must be in [0, 1], got ${x}`);
  if (x === 0) return 0;
  if (x === 1) return 1;
  // Prefactor x^a (1−x)^b / (a B(a,b)), in logs to avoid overflow for large a, b.
  const logFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(logFront) * betaContinuedFraction(x, a, b)) / a;
  return 1 - (Math.exp(logFront) * betaContinuedFraction(1 - x, b, a)) / b;
}

/**
 * P(T ≤ t) for Student's t with `df` degrees of freedom (df > 0, need not be an integer).
 * Uses P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2).
 */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`t distribution: df must be > 0, got ${df}`);
  if (Number.isNaN(t)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = 0.5 * regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

/** Two-sided p-value P(|T| ≥ |t|) for Student's t with `df` degrees of freedom. */
export function studentTTwoSidedP(t: number, df: number): number {
  if (Number.isNaN(t)) return NaN;
  if (!Number.isFinite(t)) return 0;
  // Computed from the tail directly (not 2(1 − cdf)) so tiny p-values keep their precision.
  return regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

export function mean(xs: ArrayLike<number>): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s / xs.length;
}

/** Population standard deviation (divides by n): used where it normalises an error, not to estimate σ. */
export function populationStd(xs: ArrayLike<number>): number {
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i]! - m) ** 2;
  return Math.sqrt(s / xs.length);
}

export function median(xs: ArrayLike<number>): number {
  if (xs.length === 0) return NaN;
  const sorted = Array.from(xs).sort((p, q) => p - q);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The q-quantile (0 ≤ q ≤ 1) with linear interpolation between order statistics (the "type 7" rule that numpy
 * and R use by default), so bootstrap intervals match what a reader would compute from the same draws.
 */
export function quantile(xs: ArrayLike<number>, q: number): number {
  if (xs.length === 0) return NaN;
  const sorted = Array.from(xs).sort((p, r) => p - r);
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * Least squares: the β minimising ‖Xβ − y‖², by Householder QR (numerically safer than the normal equations when
 * lagged regressors are nearly collinear). X is row-major, n rows × k columns, n ≥ k. Returns β and the residual
 * sum of squares. Throws when X is rank deficient (a column is, to working precision, a combination of others).
 */
export function leastSquares(X: number[][], y: number[]): { beta: number[]; rss: number } {
  const n = X.length;
  const k = n === 0 ? 0 : X[0]!.length;
  if (y.length !== n) throw new Error(`leastSquares: ${n} rows but ${y.length} targets`);
  if (n < k) throw new Error(`leastSquares: ${n} rows cannot determine ${k} coefficients`);
  // Column-major copy: Householder works column by column.
  const A: Float64Array[] = [];
  for (let j = 0; j < k; j++) {
    const col = new Float64Array(n);
    for (let i = 0; i < n; i++) col[i] = X[i]![j]!;
    A.push(col);
  }
  const b = Float64Array.from(y);
  const diag = new Float64Array(k);
  let scale = 0;
  for (const col of A) for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(col[i]!));
  for (let j = 0; j < k; j++) {
    const col = A[j]!;
    let norm = 0;
    for (let i = j; i < n; i++) norm += col[i]! * col[i]!;
    norm = Math.sqrt(norm);
    if (norm <= 1e-12 * Math.max(scale, 1e-300) * Math.sqrt(n)) {
      throw new Error(`leastSquares: design matrix is rank deficient (column ${j})`);
    }
    const alpha = col[j]! > 0 ? -norm : norm;
    // v = x − αe₁ stored in place; the reflection H = I − 2vvᵀ/vᵀv maps x to αe₁.
    col[j] = col[j]! - alpha;
    let vv = 0;
    for (let i = j; i < n; i++) vv += col[i]! * col[i]!;
    const reflect = (target: Float64Array): void => {
      let dot = 0;
      for (let i = j; i < n; i++) dot += col[i]! * target[i]!;
      const f = (2 * dot) / vv;
      for (let i = j; i < n; i++) target[i] = target[i]! - f * col[i]!;
    };
    for (let c = j + 1; c < k; c++) reflect(A[c]!);
    reflect(b);
    diag[j] = alpha;
  }
  // Back substitution with R (diagonal in `diag`, above-diagonal entries in A[c][r] for r < c).
  const beta = new Array<number>(k).fill(0);
  for (let r = k - 1; r >= 0; r--) {
    let s = b[r]!;
    for (let c = r + 1; c < k; c++) s -= A[c]![r]! * beta[c]!;
    beta[r] = s / diag[r]!;
  }
  let rss = 0;
  for (let i = k; i < n; i++) rss += b[i]! * b[i]!;
  return { beta, rss };
}
