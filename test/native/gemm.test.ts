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
