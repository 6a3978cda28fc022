/**
 * The GEMM benchmark: fp32 C = A·B at M = 512 and GPT-2's K×N shapes, timed like the peer (3 warm-up products,
 * then 20 timed, GFLOP/s = 2·M·K·N·reps / time), plus the FMA peak measured in this process with the same ISA
 * path and thread count, so `peak_fraction` says how close the kernel runs to what this core can do right now.
 */
import { nativeFmaPeak, nativeInfo } from '../tensor/native_backend.js';
import type { GemmParams } from '../tensor/backend.js';
import { benchBackend, cpuModel, engineName, peakRssMib, round, type BenchRecord } from './common.js';

export const GEMM_M = 512;
export const GEMM_SHAPES: [number, number][] = [
  [768, 768],
  [768, 3072],
  [3072, 768],
];

function randomBuffer(n: number, seed: number): Float32Array {
  // Uniform in [-1, 1): the values do not matter for speed, only that they are ordinary normal floats.
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2147483648 - 1;
  }
  return a;
}

export interface GemmBenchOptions {
  backend: 'native' | 'ts';
  reps?: number;
}

export function runGemmBench(o: GemmBenchOptions): BenchRecord {
  const reps = o.reps ?? 20;
  const be = benchBackend(o.backend);
  let simd = 'none';
  let threads = 1;
  let peak = NaN;
  if (o.backend === 'native') {
    const info = nativeInfo();
    simd = info.simd;
    threads = info.threads;
    peak = nativeFmaPeak(0.5);
  }
  const gflops: Record<string, number> = {};
  let minFrac = Infinity;
  for (const [K, N] of GEMM_SHAPES) {
    const M = GEMM_M;
    const a = randomBuffer(M * K, K);
    const b = randomBuffer(K * N, N);
    const c = new Float32Array(M * N);
    const p: GemmParams = {
      transA: false, transB: false, M, N, K, alpha: 1, beta: 0,
      a, aOff: 0, lda: K, strideA: 0, b, bOff: 0, ldb: N, strideB: 0, c, cOff: 0, ldc: N, strideC: 0, batch: 1,
    };
    const r = o.backend === 'ts' ? 1 : reps; // the reference backend is ~100x slower; one product is enough
    for (let i = 0; i < (o.backend === 'ts' ? 1 : 3); i++) be.gemm(p);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < r; i++) be.gemm(p);
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    const g = (2 * M * K * N * r) / dt / 1e9;
    gflops[`${M}x${K}x${N}`] = round(g, 1);
    minFrac = Math.min(minFrac, g / peak);
  }
  return {
    task: 'gemm',
    engine: engineName(o.backend),
    threads,
    cpu: cpuModel(),
    simd,
    dtype: 'fp32',
    shape: `M${GEMM_M}`,
    gflops,
    fma_peak_gflops: Number.isFinite(peak) ? round(peak, 1) : null,
    peak_fraction: Number.isFinite(minFrac) ? round(minFrac, 3) : null,
    peak_rss_mib: peakRssMib(),
  };
}
