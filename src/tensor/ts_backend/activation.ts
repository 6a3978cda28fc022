/**
 * Pointwise activations (GELU in both forms, SiLU) and the row softmax, forward and backward. Each element is
 * read before its output is written and nothing else reads it afterwards, so out may alias x and dx may alias
 * dout, as the contract allows.
 */
import type { Buf } from '../backend.js';
import { checkSameType, checkSize, checkSpan } from './check.js';
import { sigmoid } from './elementwise.js';
import { erfc } from './special.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_CUBIC = 0.044715;
const INV_SQRT_2 = 1 / Math.SQRT2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

function checkPointwise(kernel: string, n: number, ...bufs: [string, Buf][]): void {
  checkSize(kernel, 'n', n);
  checkSameType(kernel, ...bufs.map(([, b]) => b));
  for (const [name, b] of bufs) checkSpan(kernel, name, b, 0, n);
}

/**
 * Exact GELU x·Φ(x) with Φ(x) = ½·erfc(-x/√2). Written with erfc rather than ½(1 + erf(x/√2)) so that for very
 * negative x, where Φ is tiny, it keeps full relative precision instead of cancelling 1 - 0.99999….
 */
function geluExact(x: number): number {
  return 0.5 * x * erfc(-x * INV_SQRT_2);
}

/** d/dx x·Φ(x) = Φ(x) + x·φ(x), φ the standard normal density. */
function geluExactGrad(x: number): number {
  return 0.5 * erfc(-x * INV_SQRT_2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/** GPT-2's gelu_new: ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³). */
function geluTanh(x: number): number {
  const u = SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x);
  return 0.5 * x * (1 + Math.tanh(u));
}

/** ½(1 + t) + ½x(1 - t²)·du/dx, t = tanh(u), du/dx = √(2/π)(1 + 3·0.044715x²). */
function geluTanhGrad(x: number): number {
  const u = SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x);
  const t = Math.tanh(u);
  const du = SQRT_2_OVER_PI * (1 + 3 * GELU_CUBIC * x * x);
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
}

export function geluForward(n: number, approximate: boolean, x: Buf, out: Buf): void {
  checkPointwise('geluForward', n, ['x', x], ['out', out]);
  const f = approximate ? geluTanh : geluExact;
  for (let i = 0; i < n; i++) out[i] = f(x[i]);
}

export function geluBackward(n: number, approximate: boolean, x: Buf, dout: Buf, dx: Buf): void {
  checkPointwise('geluBackward', n, ['x', x], ['dout', dout], ['dx', dx]);
  const g = approximate ? geluTanhGrad : geluExactGrad;
  for (let i = 0; i < n; i++) dx[i] = dout[i] * g(x[i]);
}

export function siluForward(n: number, x: Buf, out: Buf): void {
  checkPointwise('siluForward', n, ['x', x], ['out', out]);
  for (let i = 0; i < n; i++) {
    const v = x[i];
    out[i] = v * sigmoid(v);
  }
}

/** d/dx x·σ(x) = σ(x)·(1 + x·(1 - σ(x))). */
export function siluBackward(n: number, x: Buf, dout: Buf, dx: Buf): void {
  checkPointwise('siluBackward', n, ['x', x], ['dout', dout], ['dx', dx]);
  for (let i = 0; i < n; i++) {
    const v = x[i];
    const s = sigmoid(v);
    dx[i] = dout[i] * s * (1 + v * (1 - s));
  }
}

/**
 * Row softmax, shifted by the row max so exp never overflows. The exponentials are kept in a double row buffer
 * (no second exp, no f32 rounding before the division). A row of all -Infinity gives NaN, as in PyTorch.
 */
export function softmaxForward(N: number, C: number, x: Buf, out: Buf): void {
  const K = 'softmaxForward';
  checkSize(K, 'N', N);
  checkSize(K, 'C', C);
  checkSameType(K, x, out);
  checkSpan(K, 'x', x, 0, N * C);
  checkSpan(K, 'out', out, 0, N * C);
  const e = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const row = n * C;
    // A NaN is skipped by `>` here but still poisons the whole row through the sum below, as in PyTorch.
    let max = -Infinity;
    for (let i = 0; i < C; i++) if (x[row + i] > max) max = x[row + i];
    let sum = 0;
    for (let i = 0; i < C; i++) {
      e[i] = Math.exp(x[row + i] - max);
      sum += e[i];
    }
    for (let i = 0; i < C; i++) out[row + i] = e[i] / sum;
  }
}

export function softmaxBackward(N: number, C: number, y: Buf, dy: Buf, dx: Buf): void {
  const K = 'softmaxBackward';
  checkSize(K, 'N', N);
  checkSize(K, 'C', C);
  checkSameType(K, y, dy, dx);
  checkSpan(K, 'y', y, 0, N * C);
  checkSpan(K, 'dy', dy, 0, N * C);
  checkSpan(K, 'dx', dx, 0, N * C);
  for (let n = 0; n < N; n++) {
    const row = n * C;
    let dot = 0;
    for (let i = 0; i < C; i++) dot += dy[row + i] * y[row + i];
    for (let i = 0; i < C; i++) dx[row + i] = y[row + i] * (dy[row + i] - dot);
  }
}
