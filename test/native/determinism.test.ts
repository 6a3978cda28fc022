// Static partitioning means a run reproduces bitwise for a given shape and thread count: the same calls twice
// with 2 threads must give identical bits (this is what lets a resumed training run reproduce its losses).
import { describe, it } from 'vitest';
import type { AttnView } from '../../src/tensor/backend.js';
import { setNativeGemmSharedB } from '../../src/tensor/native_backend.js';
import { PATHS, expectBitwise, native, randn, usePath } from './helpers.js';

function workload(): Float32Array[] {
  const nb = native();
  const out: Float32Array[] = [];
  // GEMMs that take each threading mode: split by columns, by rows, whole matrices per thread, and by depth
  // (K > 2M where rows would be split, K > 2N where columns would).
  for (const [M, N, K, batch] of [[512, 768, 768, 1], [700, 40, 300, 1], [64, 64, 64, 24], [96, 40, 901, 1], [8, 200, 1000, 1]]) {
    const a = randn(M * K * batch, M), b = randn(K * N * batch, N), c = new Float32Array(M * N * batch);
    nb.gemm({ transA: false, transB: true, M, N, K, alpha: 1, beta: 0, a, aOff: 0, lda: K, strideA: M * K, b, bOff: 0, ldb: K, strideB: N * K, c, cOff: 0, ldc: N, strideC: M * N, batch });
    out.push(c);
  }
  const N = 256, C = 768;
  const x = randn(N * C, 1), dout = randn(N * C, 2), w = randn(C, 3);
  const o = new Float32Array(N * C), mean = new Float32Array(N), rstd = new Float32Array(N);
  nb.layerNormForward(N, C, 1e-5, x, w, null, o, mean, rstd);
  const dx = new Float32Array(N * C), dw = new Float32Array(C), db = new Float32Array(C);
  nb.layerNormBackward(N, C, dout, x, w, mean, rstd, dx, dw, db);
  out.push(o, dx, dw, db);
  const B = 2, H = 4, T = 64, D = 32;
  const view = (data: Float32Array): AttnView => ({ data, off: 0, sb: H * T * D, sh: T * D, st: D });
  const q = view(randn(B * H * T * D, 4)), k = view(randn(B * H * T * D, 5)), v = view(randn(B * H * T * D, 6));
  const p = { B, H, Hkv: H, T, S: T, D, scale: 0.2, causal: true, window: 0, q, k, v, mask: null };
  const ao = view(new Float32Array(B * H * T * D)), lse = new Float32Array(B * H * T);
  nb.attentionForward(p, ao, lse);
  const g = view(randn(B * H * T * D, 7));
  const dq = view(new Float32Array(B * H * T * D)), dk = view(new Float32Array(B * H * T * D)), dv = view(new Float32Array(B * H * T * D));
  nb.attentionBackward(p, ao, lse, g, dq, dk, dv);
  out.push(ao.data as Float32Array, lse, dq.data as Float32Array, dk.data as Float32Array, dv.data as Float32Array);
  const ids = new Int32Array(1000).map((_, i) => (i * 7) % 50);
  const dE = new Float32Array(50 * 64);
  nb.embeddingBackward(1000, 64, ids, randn(1000 * 64, 8), dE);
  out.push(dE, new Float32Array([nb.sumSquares(N * C, x, 0)]));
  return out;
}

describe.runIf(PATHS.length > 0).each(PATHS)('native determinism (%s)', (simd) => {
  it('two runs with 2 threads are bitwise identical', () => {
    usePath(simd, 2, 'determinism');
    const first = workload();
    const second = workload();
    first.forEach((a, i) => expectBitwise(a, second[i], `output ${i}`));
  });

  it('two runs with 2 threads and a shared packed B are bitwise identical (and equal to the 1-thread GEMM)', () => {
    usePath(simd, 2, 'determinism, shared B');
    setNativeGemmSharedB(true);
    try {
      const first = workload();
      const second = workload();
      first.forEach((a, i) => expectBitwise(a, second[i], `output ${i}`));
      usePath(simd, 1, 'determinism, 1 thread');
      const single = workload();
      // The GEMM outputs (0..2): row and column splits in whole micro-tiles do not change any element's sums.
      for (let i = 0; i < 3; i++) expectBitwise(first[i], single[i], `gemm output ${i} vs 1 thread`);
    } finally {
      setNativeGemmSharedB(false);
    }
  });
});
