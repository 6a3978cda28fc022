/**
 * Batched GEMM: C_b = alpha * op(A_b) @ op(B_b) + beta * C_b (see GemmParams in backend.ts).
 *
 * Each output row is accumulated in a Float64Array so that an f32 result is rounded once, not K times, and
 * matches a double-precision triple loop up to that final rounding. The loop order keeps the innermost loop
 * contiguous: op(A)'s row i is gathered once into a temporary, then
 *  - B not transposed (stored K×N): i-k-j, the inner loop walks a row of B and the accumulator;
 *  - B transposed (stored N×K): i-j-k, the inner loop is a dot product along a row of B.
 */
import type { GemmParams } from '../backend.js';
import { checkSameType, checkSize } from './check.js';

/** Throws unless every element of a batch of `rows`×`cols` matrices (row stride ld) lies inside the buffer. */
function checkMatrix(
  name: string,
  len: number,
  off: number,
  ld: number,
  stride: number,
  rows: number,
  cols: number,
  batch: number,
): void {
  if (!Number.isInteger(off) || off < 0 || !Number.isInteger(ld) || !Number.isInteger(stride) || stride < 0) {
    throw new Error(`gemm: ${name} has bad offset/ld/stride (${off}, ${ld}, ${stride})`);
  }
  if (rows === 0 || cols === 0 || batch === 0) return;
  if (rows > 1 && ld < cols) {
    throw new Error(`gemm: ${name} row stride ${ld} is smaller than its ${cols} columns`);
  }
  const last = off + (batch - 1) * stride + (rows - 1) * ld + (cols - 1);
  if (last >= len) {
    throw new Error(
      `gemm: ${name} (${rows}×${cols}, ld ${ld}, offset ${off}, batch ${batch} × stride ${stride}) ` +
        `reaches element ${last} of a buffer of length ${len}`,
    );
  }
}

export function gemm(p: GemmParams): void {
  const { transA, transB, M, N, K, alpha, beta, a, b, c, batch } = p;
  checkSize('gemm', 'M', M);
  checkSize('gemm', 'N', N);
  checkSize('gemm', 'K', K);
  checkSize('gemm', 'batch', batch);
  checkSameType('gemm', a, b, c);
  // Stored shapes: A is M×K or (transposed) K×M; B is K×N or N×K.
  checkMatrix('A', a.length, p.aOff, p.lda, p.strideA, transA ? K : M, transA ? M : K, batch);
  checkMatrix('B', b.length, p.bOff, p.ldb, p.strideB, transB ? N : K, transB ? K : N, batch);
  checkMatrix('C', c.length, p.cOff, p.ldc, p.strideC, M, N, batch);
  if (M === 0 || N === 0 || batch === 0) return;

  const { lda, ldb, ldc } = p;
  const aRow = new Float64Array(K);
  const acc = new Float64Array(N);

  for (let bt = 0; bt < batch; bt++) {
    const aBase = p.aOff + bt * p.strideA;
    const bBase = p.bOff + bt * p.strideB;
    const cBase = p.cOff + bt * p.strideC;
    for (let i = 0; i < M; i++) {
      // Row i of op(A): contiguous when A is stored M×K, a column (stride lda) when stored K×M.
      if (transA) for (let k = 0; k < K; k++) aRow[k] = a[aBase + k * lda + i];
      else for (let k = 0; k < K; k++) aRow[k] = a[aBase + i * lda + k];

      if (!transB) {
        acc.fill(0);
        for (let k = 0; k < K; k++) {
          const aik = aRow[k];
          const bk = bBase + k * ldb;
          for (let j = 0; j < N; j++) acc[j] += aik * b[bk + j];
        }
      } else {
        for (let j = 0; j < N; j++) {
          const bj = bBase + j * ldb;
          let s = 0;
          for (let k = 0; k < K; k++) s += aRow[k] * b[bj + k];
          acc[j] = s;
        }
      }

      const cRow = cBase + i * ldc;
      // beta = 0 must not read C at all: 0 * NaN would keep garbage (or an uninitialized NaN) alive.
      if (beta === 0) for (let j = 0; j < N; j++) c[cRow + j] = alpha * acc[j];
      else for (let j = 0; j < N; j++) c[cRow + j] = alpha * acc[j] + beta * c[cRow + j];
    }
  }
}
