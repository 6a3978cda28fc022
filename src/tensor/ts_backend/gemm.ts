/**
 * Batched GEMM: C_b = alpha * op(A_b) @ op(B_b) + beta * C_b (see GemmParams in backend.ts).
 *
 * Each output row is accumulated in a Float64Array so that an f32 result is rounded once, not K times, and
 * matches a double-precision triple loop up to that final rounding. The loop order keeps the innermost loop
 * contiguous: op(A)'s row i is gathered once into a temporary, then
 *  - B not transposed (stored K×N): i-k-j, the inner loop walks a row of B and the accumulator;
 *  - B transposed (stored N×K): i-j-k, the inner loop is a dot product along a row of B.
 *
 * A bf16 or 4-bit B (`bq`) is first widened / dequantized into a temporary of C's type over the range the
 * strides reach, then multiplied as an ordinary B: plain, and the twin the native fused kernels are checked against.
 */
import type { Buf, GemmArgmaxParams, GemmParams, GemmQuantB } from '../backend.js';
import { checkSameType, checkSize } from './check.js';
import { firstArgmax } from './reduce.js';

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

const f32 = Math.fround;

/**
 * The elements [q.off, last] of a bf16 / 4-bit B as values of c's type, with last the highest element the
 * strides reach (null when B is empty). 4-bit: dequantize4bitInto's arithmetic (src/peft/quant/blockwise.ts),
 * f32(code[nibble] * absmax[block]), element e in the high nibble of byte e >> 1 when e is even.
 */
function materializeB(p: GemmParams, q: GemmQuantB): { b: Buf; bOff: number } | null {
  const rows = p.transB ? p.N : p.K;
  const cols = p.transB ? p.K : p.N;
  const len = q.format === 'bf16' ? q.data.length : q.packed.length * 2;
  checkMatrix('B', len, q.off, p.ldb, p.strideB, rows, cols, p.batch);
  if (rows === 0 || cols === 0 || p.batch === 0) return null;
  const last = q.off + (p.batch - 1) * p.strideB + (rows - 1) * p.ldb + (cols - 1);
  const n = last - q.off + 1;
  const out: Buf = p.c instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  if (q.format === 'bf16') {
    const bits = new Uint32Array(1);
    const val = new Float32Array(bits.buffer);
    for (let i = 0; i < n; i++) {
      bits[0] = q.data[q.off + i]! << 16;
      out[i] = val[0]!;
    }
  } else {
    const { packed, code, absmax, blockSize } = q;
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new Error(`gemm: 4-bit block size must be a positive integer, got ${blockSize}`);
    if (code.length < 16) throw new Error(`gemm: the 4-bit code has ${code.length} values, not 16`);
    if (Math.floor(last / blockSize) >= absmax.length) {
      throw new Error(`gemm: 4-bit B reaches block ${Math.floor(last / blockSize)} but absmax has ${absmax.length} values`);
    }
    for (let i = 0; i < n; i++) {
      const e = q.off + i;
      const byte = packed[e >> 1]!;
      const nib = e & 1 ? byte & 15 : byte >> 4;
      out[i] = f32(code[nib]! * absmax[Math.floor(e / blockSize)]!);
    }
  }
  return { b: out, bOff: 0 };
}

/**
 * A GEMM with a bias (GemmParams.bias) as the plain GEMM it equals: C's rows filled with the bias, then beta = 1.
 * Returns those parameters after filling C; throws when the bias does not fit.
 */
export function biasAsAccumulate(p: GemmParams): GemmParams {
  const { bias, M, N, batch } = p;
  if (!bias) return p;
  const off = p.biasOff ?? 0;
  if (p.beta !== 0) throw new Error(`gemm: a bias needs beta = 0, got ${p.beta}`);
  if (!Number.isInteger(off) || off < 0 || off + N > bias.length) {
    throw new Error(`gemm: bias (${bias.length} values from offset ${off}) is shorter than N = ${N}`);
  }
  checkSameType('gemm', p.c, bias, p.c);
  checkMatrix('C', p.c.length, p.cOff, p.ldc, p.strideC, M, N, batch);
  const row = bias.subarray(off, off + N);
  for (let bi = 0; bi < batch; bi++) for (let i = 0; i < M; i++) p.c.set(row, p.cOff + bi * p.strideC + i * p.ldc);
  return { ...p, bias: undefined, biasOff: undefined, beta: 1 };
}

export function gemm(p: GemmParams): void {
  if (p.bias) return gemm(biasAsAccumulate(p));
  if (p.bq) {
    const m = materializeB(p, p.bq);
    const empty: Buf = p.c instanceof Float64Array ? new Float64Array(0) : new Float32Array(0);
    // An empty B still runs the plain path, which scales C by beta (K = 0) or does nothing.
    return gemm({ ...p, bq: undefined, b: m ? m.b : empty, bOff: m ? m.bOff : 0 });
  }
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

/** gemmArgmax's reference: the product written by gemm into a temporary of A's type, then firstArgmax per row. */
export function gemmArgmaxVia(gemmFn: (p: GemmParams) => void, p: GemmArgmaxParams, out: Int32Array): void {
  if (out.length < p.M) throw new Error(`gemmArgmax: out holds ${out.length} indices for ${p.M} rows`);
  if (p.N < 1) throw new Error('gemmArgmax: no columns to pick from');
  const c = p.a instanceof Float64Array ? new Float64Array(p.M * p.N) : new Float32Array(p.M * p.N);
  gemmFn({ ...p, beta: 0, c, cOff: 0, ldc: p.N, strideC: 0, batch: 1, strideA: 0, strideB: 0 });
  for (let i = 0; i < p.M; i++) out[i] = firstArgmax(c, i * p.N, p.N);
}

export function gemmArgmax(p: GemmArgmaxParams, out: Int32Array): void {
  gemmArgmaxVia(gemm, p, out);
}
