/**
 * Reductions over a contiguous [outer, axis, inner] layout, plus sumSquares. Sums run in doubles (a Float64Array
 * of `inner` partial sums), so the f32 result is rounded once. Each output is written only after its whole axis
 * has been read, and lands at or before data already consumed, so out may even start at x's own offset.
 */
import type { Buf } from '../backend.js';
import { checkSameType, checkSize, checkSpan } from './check.js';

function checkReduce(kernel: string, outer: number, axis: number, inner: number, x: Buf, xOff: number, out: Buf, outOff: number): void {
  checkSize(kernel, 'outer', outer);
  checkSize(kernel, 'axis', axis);
  checkSize(kernel, 'inner', inner);
  checkSameType(kernel, x, out);
  checkSpan(kernel, 'x', x, xOff, outer * axis * inner);
  checkSpan(kernel, 'out', out, outOff, outer * inner);
}

export function reduceSum(outer: number, axis: number, inner: number, x: Buf, xOff: number, out: Buf, outOff: number): void {
  checkReduce('reduceSum', outer, axis, inner, x, xOff, out, outOff);
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(0);
    const base = xOff + o * axis * inner;
    // a outer, i inner: the inner loop reads x contiguously.
    for (let a = 0; a < axis; a++) {
      const row = base + a * inner;
      for (let i = 0; i < inner; i++) acc[i] += x[row + i];
    }
    const ob = outOff + o * inner;
    for (let i = 0; i < inner; i++) out[ob + i] = acc[i];
  }
}

export function reduceMax(
  outer: number,
  axis: number,
  inner: number,
  x: Buf,
  xOff: number,
  out: Buf,
  outOff: number,
  idx: Int32Array | null,
): void {
  checkReduce('reduceMax', outer, axis, inner, x, xOff, out, outOff);
  if (idx !== null) checkSpan('reduceMax', 'idx', idx, 0, outer * inner);
  if (axis === 0 && outer * inner > 0) {
    // Like torch.max, a max over nothing has no value (and no index) to report.
    throw new Error(`reduceMax: cannot reduce an empty axis (outer ${outer}, axis 0, inner ${inner})`);
  }
  for (let o = 0; o < outer; o++) {
    const base = xOff + o * axis * inner;
    for (let i = 0; i < inner; i++) {
      let best = x[base + i];
      let bestIdx = 0;
      // Strict `>` keeps the first of equal maxima; once a NaN is held nothing replaces it (NaN > y is false), and a
      // NaN met later replaces a number, so the first NaN wins.
      if (best === best) {
        for (let a = 1; a < axis; a++) {
          const v = x[base + a * inner + i];
          if (v !== v) {
            best = v;
            bestIdx = a;
            break;
          }
          if (v > best) {
            best = v;
            bestIdx = a;
          }
        }
      }
      out[outOff + o * inner + i] = best;
      if (idx !== null) idx[o * inner + i] = bestIdx;
    }
  }
}

export function sumSquares(n: number, x: Buf, xOff: number): number {
  checkSize('sumSquares', 'n', n);
  checkSpan('sumSquares', 'x', x, xOff, n);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = x[xOff + i];
    s += v * v;
  }
  return s;
}

/**
 * Index (relative to off) of the first largest of a[off, off + n): a plain `v > best` scan from the first element,
 * so NaN never wins unless it is first, and ties go to the lower index. The greedy pick over logits, wherever it
 * is made (generate(), gemmArgmax's reference; the native fused kernel follows the same rule).
 */
export function firstArgmax(a: ArrayLike<number>, off: number, n: number): number {
  let best = 0;
  let m = a[off]!;
  for (let j = 1; j < n; j++) {
    const v = a[off + j]!;
    if (v > m) {
      m = v;
      best = j;
    }
  }
  return best;
}
