// The benchmark records carry the PyTorch peer's fields (so the two can be compared line by line) plus the
// GEMM-specific gflops per shape and peak_fraction.
import { describe, expect, it } from 'vitest';
import { runGemmBench } from '../../src/bench/gemm.js';
import { PATHS, usePath } from './helpers.js';

describe.runIf(PATHS.length > 0)('bench --task gemm', () => {
  it("reports the peer's fields, gflops per shape and a peak fraction", () => {
    usePath(PATHS[0]!, 2, 'bench');
    const r = runGemmBench({ backend: 'native', reps: 2 });
    for (const k of ['task', 'engine', 'threads', 'cpu', 'simd', 'dtype', 'shape', 'peak_rss_mib']) expect(r).toHaveProperty(k);
    expect(r).toMatchObject({ task: 'gemm', shape: 'M512', dtype: 'fp32', simd: PATHS[0], threads: 2 });
    expect(Object.keys(r.gflops as object)).toEqual(['512x768x768', '512x768x3072', '512x3072x768']);
    expect(r.peak_fraction).toBeGreaterThan(0);
    expect(r.fma_peak_gflops).toBeGreaterThan(0);
  });
});
