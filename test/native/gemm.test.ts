// GEMM twin tests: the native SGEMM against the TS reference on odd shapes, every transpose combination,
// offsets and padded row strides, beta modes and batch broadcasting, under every ISA path and both thread counts.
import { describe, it } from 'vitest';
import type { GemmParams } from '../../src/tensor/backend.js';
import { tsBackend } from '../../src/tensor/ts_backend/index.js';
import { setNativeGemmSharedB } from '../../src/tensor/native_backend.js';
import { PATHS, expectClose, native, randn, usePath } from './helpers.js';

interface Case {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  alpha: number;
  beta: number;
  batch: number;
  broadcastB: boolean;
  pad: number; // extra elements per row (non-contiguous rows)
  off: number;
}

function build(c: Case, seed: number): { p: GemmParams; cRef: Float32Array } {
  const ar = c.transA ? c.K : c.M;
  const ac = c.transA ? c.M : c.K;
  const br = c.transB ? c.N : c.K;
  const bc = c.transB ? c.K : c.N;
  const lda = ac + c.pad;
  const ldb = bc + c.pad;
  const ldc = c.N + c.pad;
  const strideA = ar * lda + 3;
  const strideB = c.broadcastB ? 0 : br * ldb + 5;
  const strideC = c.M * ldc + 1;
  const a = randn(c.off + strideA * c.batch, seed);
  const b = randn(c.off + (c.broadcastB ? br * ldb : strideB * c.batch), seed + 1);
  const cc = randn(c.off + strideC * c.batch, seed + 2);
  if (c.beta === 0) cc.fill(NaN); // beta = 0 must ignore C, even NaN
  const cRef = cc.slice();
  const p: GemmParams = {
    transA: c.transA, transB: c.transB, M: c.M, N: c.N, K: c.K, alpha: c.alpha, beta: c.beta,
    a, aOff: c.off, lda, strideA, b, bOff: c.off, ldb, strideB, c: cc, cOff: c.off, ldc, strideC, batch: c.batch,
  };
  return { p, cRef };
}

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [7, 33, 5],
  [33, 7, 1000],
  [1, 1000, 33],
  [65, 97, 300],
  [130, 50, 7],
  [13, 200, 0], // K = 0: C = beta*C
  // Narrow C (LoRA's rank-wide products): computed as Cᵀ then added back transposed; N <= 4 goes through the GEMV.
  [512, 8, 300],
  [700, 3, 64],
  [300, 20, 33],
];

const CASES: Case[] = [];
for (const [M, N, K] of SHAPES) {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      CASES.push({ M, N, K, transA, transB, alpha: 1, beta: 0, batch: 1, broadcastB: false, pad: 0, off: 0 });
      CASES.push({ M, N, K, transA, transB, alpha: 0.5, beta: 0.75, batch: 3, broadcastB: true, pad: 3, off: 11 });
    }
  }
}
CASES.push({ M: 8, N: 8, K: 64, transA: false, transB: true, alpha: 1, beta: 1, batch: 40, broadcastB: false, pad: 0, off: 2 });
CASES.push({ M: 300, N: 5, K: 77, transA: true, transB: false, alpha: 0.5, beta: 0.75, batch: 1, broadcastB: false, pad: 3, off: 11 });
CASES.push({ M: 260, N: 12, K: 40, transA: false, transB: true, alpha: -1, beta: 1, batch: 1, broadcastB: false, pad: 1, off: 5 });
CASES.push({ M: 512, N: 96, K: 768, transA: false, transB: false, alpha: 1, beta: 0, batch: 1, broadcastB: false, pad: 0, off: 0 });
// Deep products split by depth on 2 threads (K > 2M where rows would be split, K > 2N where columns would): odd
// halves, transposes, beta, padded rows.
CASES.push({ M: 100, N: 50, K: 701, transA: true, transB: false, alpha: 0.5, beta: 0.75, batch: 1, broadcastB: false, pad: 3, off: 11 });
CASES.push({ M: 100, N: 50, K: 700, transA: false, transB: true, alpha: 1, beta: 0, batch: 1, broadcastB: false, pad: 0, off: 0 });
CASES.push({ M: 8, N: 200, K: 1001, transA: false, transB: false, alpha: -1, beta: 1, batch: 1, broadcastB: false, pad: 1, off: 5 });

describe.runIf(PATHS.length > 0).each(PATHS)('native gemm (%s)', (simd) => {
  for (const [threads, sharedB] of [[1, false], [2, false], [2, true]] as const) {
    it(`matches the TS reference on odd shapes, transposes, offsets, batches (${threads} thread${threads > 1 ? 's' : ''}${sharedB ? ', shared B' : ''})`, () => {
      usePath(simd, threads, sharedB ? 'gemm, shared B' : 'gemm');
      setNativeGemmSharedB(sharedB);
      const nb = native();
      CASES.forEach((c, i) => {
        const { p, cRef } = build(c, 100 + i);
        nb.gemm(p);
        tsBackend.gemm({ ...p, c: cRef });
        // f32 accumulation over K terms of size ~1: error grows like sqrt(K) ulps; bound it generously by K.
        expectClose(p.c, cRef, 1e-5, 2e-6 * Math.max(1, c.K), `gemm ${JSON.stringify(c)}`);
      });
      setNativeGemmSharedB(false);
    });
  }

  it('adds a bias row as C is first written: the bits of filling C with it and accumulating', () => {
    // Shapes through every path: packed with edge tiles and several depth steps, the GEMV (M <= 4), the
    // transposed narrow product (N < NR/2, M >= 256), K = 0, a batch; padded rows and offsets. An alpha of
    // 0.3 (inexact, unlike 0.5) shows a bias added with another rounding than the fill path's.
    const shapes: [number, number, number, number][] = [
      [65, 97, 1100, 1], [512, 96, 768, 1], [3, 700, 64, 1], [1, 50, 300, 1], [300, 5, 77, 1], [33, 7, 0, 1], [40, 70, 33, 3],
    ];
    for (const threads of [1, 2]) {
      usePath(simd, threads, 'gemm bias');
      const nb = native();
      shapes.forEach(([M, N, K, batch], i) => {
        for (const transB of [false, true]) {
          const c = { M, N, K, transA: i % 2 === 1, transB, alpha: i % 3 ? 1 : 0.3, beta: 0, batch, broadcastB: false, pad: 3, off: 7 };
          const { p } = build(c, 300 + i);
          const bias = randn(N + 9, 400 + i);
          nb.gemm({ ...p, bias, biasOff: 9 });
          // The same product with C's rows holding the bias and beta = 1.
          const filled = p.c.slice();
          for (let bi = 0; bi < batch; bi++)
            for (let r = 0; r < M; r++) filled.set(bias.subarray(9, 9 + N), p.cOff + bi * p.strideC + r * p.ldc);
          nb.gemm({ ...p, c: filled, beta: 1 });
          const what = `bias ${JSON.stringify(c)}`;
          for (let bi = 0; bi < batch; bi++)
            for (let r = 0; r < M; r++)
              for (let j = 0; j < N; j++) {
                const at = p.cOff + bi * p.strideC + r * p.ldc + j;
                if (!Object.is(p.c[at], filled[at])) throw new Error(`${what}: C[${bi}, ${r}, ${j}] ${p.c[at]} != ${filled[at]}`);
              }
          // The TS twin gives the same within rounding.
          const ref = build(c, 300 + i).p;
          tsBackend.gemm({ ...ref, bias, biasOff: 9 });
          expectClose(p.c, ref.c as Float32Array, 1e-5, 2e-6 * Math.max(1, K), what);
        }
      });
      const { p } = build({ M: 8, N: 8, K: 8, transA: false, transB: false, alpha: 1, beta: 0, batch: 1, broadcastB: false, pad: 0, off: 0 }, 1);
      for (const be of [nb, tsBackend]) {
        let msg = '';
        try {
          be.gemm({ ...p, bias: new Float32Array(8), beta: 1 });
        } catch (e) {
          msg = String(e);
        }
        if (!/beta/.test(msg)) throw new Error(`${be.name}: a bias with beta 1 was not refused (${msg})`);
        msg = '';
        try {
          be.gemm({ ...p, bias: new Float32Array(8), biasOff: 1 });
        } catch (e) {
          msg = String(e);
        }
        if (!/bias/.test(msg)) throw new Error(`${be.name}: a short bias was not refused (${msg})`);
      }
    }
  });

  it('rejects views that do not fit their buffers', () => {
    usePath(simd, 2, 'gemm bounds');
    const { p } = build({ M: 4, N: 4, K: 4, transA: false, transB: false, alpha: 1, beta: 0, batch: 1, broadcastB: false, pad: 0, off: 0 }, 1);
    const small = new Float32Array(15);
    let threw = false;
    try {
      native().gemm({ ...p, c: small });
    } catch {
      threw = true;
    }
    if (!threw) throw new Error('expected a RangeError for a too-small C');
  });
});
