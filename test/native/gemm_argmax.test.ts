// The greedy LM head: gemmArgmax (the argmax fused into the decode matrix-vector kernel) against the product
// the same backend writes (the same bits, so the same pick), against the TS reference twin, and on the edge
// cases of the pick rule (ties, NaN, -Infinity), under every ISA path and both thread counts.
import { describe, expect, it } from 'vitest';
import type { GemmArgmaxParams } from '../../src/tensor/backend.js';
import { tsBackend } from '../../src/tensor/ts_backend/index.js';
import { firstArgmax } from '../../src/tensor/ts_backend/reduce.js';
import { f32ToBf16 } from '../../src/tensor/half.js';
import { PATHS, native, randn, usePath } from './helpers.js';

interface Case {
  M: number;
  N: number;
  K: number;
  pad: number; // ldb - K: rows of B inside wider rows
  bf16: boolean;
  alpha: number;
}

function build(c: Case, seed: number, edit?: (a: Float32Array, b: Float32Array, ldb: number) => void): GemmArgmaxParams {
  const ldb = c.K + c.pad;
  const a = randn(c.M * c.K + 3, seed);
  const b = randn(c.N * ldb + 5, seed + 1);
  edit?.(a, b, ldb);
  const p: GemmArgmaxParams = { transA: false, transB: true, M: c.M, N: c.N, K: c.K, alpha: c.alpha, a, aOff: 3, lda: c.K, b, bOff: 5, ldb };
  if (c.bf16) {
    const bits = f32ToBf16(b);
    return { ...p, b: new Float32Array(1), bOff: 0, bq: { format: 'bf16', data: bits, off: 5 } };
  }
  return p;
}

/** The rows the backend's own gemm writes, scanned by the reference rule. */
function pickFromWritten(p: GemmArgmaxParams, be = native()): Int32Array {
  const c = new Float32Array(p.M * p.N);
  be.gemm({ ...p, beta: 0, c, cOff: 0, ldc: p.N, strideC: 0, batch: 1, strideA: 0, strideB: 0 });
  return Int32Array.from({ length: p.M }, (_, i) => firstArgmax(c, i * p.N, p.N));
}

function fused(p: GemmArgmaxParams): Int32Array {
  const out = new Int32Array(p.M).fill(-7);
  native().gemmArgmax(p, out);
  return out;
}

const CASES: Case[] = [
  { M: 1, N: 1, K: 1, pad: 0, bf16: false, alpha: 1 },
  { M: 1, N: 7, K: 33, pad: 3, bf16: false, alpha: 1 },
  { M: 2, N: 1000, K: 7, pad: 0, bf16: false, alpha: 0.5 },
  { M: 3, N: 333, K: 64, pad: 1, bf16: true, alpha: 1 },
  { M: 4, N: 5003, K: 96, pad: 0, bf16: false, alpha: -1 },
  { M: 1, N: 50257, K: 48, pad: 0, bf16: true, alpha: 1 },
  { M: 6, N: 129, K: 16, pad: 0, bf16: false, alpha: 1 }, // M > 4: the written product, then the scan
];

describe.runIf(PATHS.length > 0)('native gemmArgmax', () => {
  for (const simd of PATHS) {
    for (const threads of [1, 2]) {
      it(`${simd}, ${threads} thread(s): equals the pick over the written product and the reference's maximum`, () => {
        usePath(simd, threads, 'gemmArgmax');
        CASES.forEach((c, i) => {
          const p = build(c, 11 + i);
          const got = fused(p);
          expect(Array.from(got), `case ${i}`).toEqual(Array.from(pickFromWritten(p)));
          // Against the f64 reference: the pick's value is the row maximum up to f32 rounding of the sums.
          const ref = new Float32Array(c.M * c.N);
          tsBackend.gemm({ ...p, beta: 0, c: ref, cOff: 0, ldc: c.N, strideC: 0, batch: 1, strideA: 0, strideB: 0 });
          const refPick = new Int32Array(c.M);
          tsBackend.gemmArgmax(p, refPick);
          for (let m = 0; m < c.M; m++) {
            const row = ref.subarray(m * c.N, (m + 1) * c.N);
            expect(row[got[m]!]!, `case ${i} row ${m}`).toBeCloseTo(row[refPick[m]!]!, 4);
          }
        });
      });

      it(`${simd}, ${threads} thread(s): ties go to the first index, NaN never wins unless first, all -Infinity gives 0`, () => {
        usePath(simd, threads, 'gemmArgmax edge cases');
        const c: Case = { M: 2, N: 700, K: 8, pad: 0, bf16: false, alpha: 1 };
        // Rows 100, 450 and 699 of B are copies of row 600: equal logits; the largest is made unique to them.
        const ties = build(c, 5, (a, b, ldb) => {
          for (let k = 0; k < c.K; k++) {
            a[3 + k] = 1;
            a[3 + c.K + k] = 1;
            for (const r of [100, 450, 600, 699]) b[5 + r * ldb + k] = 10;
          }
        });
        expect(Array.from(fused(ties))).toEqual([100, 100]);
        // Column 450 NaN (its B row NaN): skipped; the tie at 100 still wins. Column 0 NaN: index 0.
        const nanMid = build(c, 5, (a, b, ldb) => {
          for (let k = 0; k < c.K; k++) for (const r of [100, 600]) b[5 + r * ldb + k] = 10;
          b[5 + 450 * ldb] = NaN;
        });
        expect(Array.from(fused(nanMid))).toEqual(Array.from(pickFromWritten(nanMid)));
        expect(fused(nanMid)[0]).not.toBe(450);
        const nan0 = build(c, 5, (_a, b) => (b[5] = NaN));
        expect(Array.from(fused(nan0))).toEqual([0, 0]);
        // A row of A all NaN: every logit NaN: index 0. Every logit -Infinity: index 0.
        const nanRow = build(c, 5, (a) => a.fill(NaN, 3 + c.K, 3 + 2 * c.K));
        expect(fused(nanRow)[1]).toBe(0);
        const negInf = build({ ...c, K: 1 }, 5, (a, b) => {
          a[3] = 1;
          a[4] = 1;
          b.fill(-Infinity);
        });
        expect(Array.from(fused(negInf))).toEqual([0, 0]);
        expect(Array.from(pickFromWritten(negInf))).toEqual([0, 0]);
      });
    }
  }

  it('checks its operands', () => {
    const p = build({ M: 2, N: 10, K: 4, pad: 0, bf16: false, alpha: 1 }, 1);
    expect(() => native().gemmArgmax({ ...p, b: (p.b as Float32Array).subarray(0, 20) }, new Int32Array(2))).toThrow(/too small/);
    expect(() => native().gemmArgmax(p, new Int32Array(1))).toThrow(/indices for 2 rows/);
    expect(() => tsBackend.gemmArgmax(p, new Int32Array(1))).toThrow(/indices for 2 rows/);
  });
});
