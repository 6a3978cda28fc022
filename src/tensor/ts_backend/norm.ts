/**
 * LayerNorm and RMSNorm over rows of a contiguous [N, C] x, forward and backward.
 *
 * Statistics are computed in doubles with two passes (mean, then the mean of squared deviations) rather than
 * E[x²] - E[x]², which cancels badly when |mean| ≫ std. The variance is the biased one (divide by C), as in
 * torch.nn.LayerNorm. Backward kernels first reduce each row to two scalars and only then write dx element by
 * element, so dx may alias dout (or x) safely.
 */
import type { Buf } from '../backend.js';
import { checkSameType, checkSize, checkSpan } from './check.js';

function checkRows(kernel: string, N: number, C: number): void {
  checkSize(kernel, 'N', N);
  checkSize(kernel, 'C', C);
}

export function layerNormForward(
  N: number,
  C: number,
  eps: number,
  x: Buf,
  w: Buf | null,
  b: Buf | null,
  out: Buf,
  mean: Buf,
  rstd: Buf,
): void {
  const K = 'layerNormForward';
  checkRows(K, N, C);
  checkSameType(K, x, w, b, out, mean, rstd);
  checkSpan(K, 'x', x, 0, N * C);
  checkSpan(K, 'out', out, 0, N * C);
  checkSpan(K, 'mean', mean, 0, N);
  checkSpan(K, 'rstd', rstd, 0, N);
  if (w !== null) checkSpan(K, 'w', w, 0, C);
  if (b !== null) checkSpan(K, 'b', b, 0, C);

  for (let n = 0; n < N; n++) {
    const row = n * C;
    let s = 0;
    for (let i = 0; i < C; i++) s += x[row + i];
    const mu = s / C;
    let ss = 0;
    for (let i = 0; i < C; i++) {
      const d = x[row + i] - mu;
      ss += d * d;
    }
    const r = 1 / Math.sqrt(ss / C + eps);
    for (let i = 0; i < C; i++) {
      let y = (x[row + i] - mu) * r;
      if (w !== null) y *= w[i];
      if (b !== null) y += b[i];
      out[row + i] = y;
    }
    mean[n] = mu;
    rstd[n] = r;
  }
}

/**
 * With x̂ = (x - mean)·rstd and g = dout·w (g = dout without affine):
 *   dx = rstd · (g - mean(g) - x̂ · mean(g·x̂)),  dw += dout·x̂,  db += dout.
 */
export function layerNormBackward(
  N: number,
  C: number,
  dout: Buf,
  x: Buf,
  w: Buf | null,
  mean: Buf,
  rstd: Buf,
  dx: Buf,
  dw: Buf | null,
  db: Buf | null,
): void {
  const K = 'layerNormBackward';
  checkRows(K, N, C);
  checkSameType(K, dout, x, w, mean, rstd, dx, dw, db);
  checkSpan(K, 'dout', dout, 0, N * C);
  checkSpan(K, 'x', x, 0, N * C);
  checkSpan(K, 'dx', dx, 0, N * C);
  checkSpan(K, 'mean', mean, 0, N);
  checkSpan(K, 'rstd', rstd, 0, N);
  if (w !== null) checkSpan(K, 'w', w, 0, C);
  if (dw !== null) checkSpan(K, 'dw', dw, 0, C);
  if (db !== null) checkSpan(K, 'db', db, 0, C);

  for (let n = 0; n < N; n++) {
    const row = n * C;
    const mu = mean[n];
    const r = rstd[n];
    let sumG = 0;
    let sumGX = 0;
    for (let i = 0; i < C; i++) {
      const xh = (x[row + i] - mu) * r;
      const g = w !== null ? dout[row + i] * w[i] : dout[row + i];
      sumG += g;
      sumGX += g * xh;
    }
    const meanG = sumG / C;
    const meanGX = sumGX / C;
    for (let i = 0; i < C; i++) {
      const d = dout[row + i];
      const xh = (x[row + i] - mu) * r;
      const g = w !== null ? d * w[i] : d;
      // Parameter gradients first: dx may alias dout, and this is the last read of dout[row + i].
      if (dw !== null) dw[i] += d * xh;
      if (db !== null) db[i] += d;
      dx[row + i] = r * (g - meanG - xh * meanGX);
    }
  }
}

export function rmsNormForward(N: number, C: number, eps: number, x: Buf, w: Buf | null, out: Buf, rstd: Buf): void {
  const K = 'rmsNormForward';
  checkRows(K, N, C);
  checkSameType(K, x, w, out, rstd);
  checkSpan(K, 'x', x, 0, N * C);
  checkSpan(K, 'out', out, 0, N * C);
  checkSpan(K, 'rstd', rstd, 0, N);
  if (w !== null) checkSpan(K, 'w', w, 0, C);

  for (let n = 0; n < N; n++) {
    const row = n * C;
    let ss = 0;
    for (let i = 0; i < C; i++) {
      const v = x[row + i];
      ss += v * v;
    }
    const r = 1 / Math.sqrt(ss / C + eps);
    for (let i = 0; i < C; i++) out[row + i] = w !== null ? x[row + i] * r * w[i] : x[row + i] * r;
    rstd[n] = r;
  }
}

/**
 * y = x·r·w with r = (mean(x²) + eps)^-½, so ∂r/∂x_j = -r³·x_j / C and, with g = dout·w,
 *   dx = r·g - x · r³ · mean(g·x),  dw += dout·x·r.
 */
export function rmsNormBackward(
  N: number,
  C: number,
  dout: Buf,
  x: Buf,
  w: Buf | null,
  rstd: Buf,
  dx: Buf,
  dw: Buf | null,
): void {
  const K = 'rmsNormBackward';
  checkRows(K, N, C);
  checkSameType(K, dout, x, w, rstd, dx, dw);
  checkSpan(K, 'dout', dout, 0, N * C);
  checkSpan(K, 'x', x, 0, N * C);
  checkSpan(K, 'dx', dx, 0, N * C);
  checkSpan(K, 'rstd', rstd, 0, N);
  if (w !== null) checkSpan(K, 'w', w, 0, C);
  if (dw !== null) checkSpan(K, 'dw', dw, 0, C);

  for (let n = 0; n < N; n++) {
    const row = n * C;
    const r = rstd[n];
    let sumGX = 0;
    for (let i = 0; i < C; i++) {
      const g = w !== null ? dout[row + i] * w[i] : dout[row + i];
      sumGX += g * x[row + i];
    }
    const coef = (r * r * r * sumGX) / C;
    for (let i = 0; i < C; i++) {
      const d = dout[row + i];
      const xi = x[row + i];
      const g = w !== null ? d * w[i] : d;
      if (dw !== null) dw[i] += d * xi * r;
      dx[row + i] = r * g - xi * coef;
    }
  }
}
