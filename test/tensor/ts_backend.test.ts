/**
 * The reference backend against independent naive formulas written here (triple loops, explicit score matrices,
 * log-softmax, rotate_half with full-width tables, the AdamW update written out) and, for every backward kernel,
 * against central finite differences in float64.
 */
import { describe, expect, it } from 'vitest';
import type { AttentionParams, AttnView, BinaryOp, Buf, StridedView, UnaryOp } from '../../src/tensor/backend.js';
import { erf, erfc, tsBackend as B } from '../../src/tensor/ts_backend/index.js';

// ---- helpers ------------------------------------------------------------------------------------------------

/** Deterministic uniform generator (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n values uniform in [-scale, scale). */
function rand(n: number, seed: number, scale = 1): Float64Array {
  const r = rng(seed);
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = (2 * r() - 1) * scale;
  return a;
}

/** Elementwise |a - b| <= atol + rtol·|b|, reporting the first offending index. */
function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol = 0): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    const ok = Object.is(a[i], b[i]) || Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]);
    if (!ok) expect.fail(`index ${i}: got ${a[i]}, expected ${b[i]} (rtol ${rtol}, atol ${atol})`);
  }
}

/** Central differences of the scalar f() with respect to every element of x (x is restored). */
function numGrad(x: Float64Array, f: () => number, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i];
    x[i] = x0 + h;
    const fp = f();
    x[i] = x0 - h;
    const fm = f();
    x[i] = x0;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/** max |analytic - numeric| relative to max |numeric| must be below 1e-6. */
function expectGrad(analytic: ArrayLike<number>, numeric: ArrayLike<number>, tol = 1e-6): void {
  expect(analytic.length).toBe(numeric.length);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < numeric.length; i++) {
    err = Math.max(err, Math.abs(analytic[i] - numeric[i]));
    scale = Math.max(scale, Math.abs(numeric[i]));
  }
  expect(scale).toBeGreaterThan(0);
  expect(err / scale).toBeLessThan(tol);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Offset of flat index i of `shape` in a strided view (independent of the backend's odometer). */
function stridedOffset(i: number, shape: readonly number[], v: { offset: number; strides: readonly number[] }): number {
  let off = v.offset;
  for (let d = shape.length - 1; d >= 0; d--) {
    const c = i % shape[d];
    i = Math.floor(i / shape[d]);
    off += c * v.strides[d];
  }
  return off;
}

const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

// ---- gemm ---------------------------------------------------------------------------------------------------

describe('gemm', () => {
  /** Stores an M×K logical matrix either as is (row stride ld) or transposed (K×M, row stride ld). */
  function naiveGemm(
    tA: boolean,
    tB: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    beta: number,
    a: Buf,
    aOff: number,
    lda: number,
    b: Buf,
    bOff: number,
    ldb: number,
    c0: Buf,
    cOff: number,
    ldc: number,
  ): Float64Array {
    const out = new Float64Array(M * N);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = tA ? a[aOff + k * lda + i] : a[aOff + i * lda + k];
          const bv = tB ? b[bOff + j * ldb + k] : b[bOff + k * ldb + j];
          s += av * bv;
        }
        out[i * N + j] = alpha * s + (beta === 0 ? 0 : beta * c0[cOff + i * ldc + j]);
      }
    }
    return out;
  }

  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [7, 33, 5],
    [33, 7, 1],
    [5, 1, 33],
    [1, 33, 7],
    [7, 7, 7],
  ];
  for (const tA of [false, true]) {
    for (const tB of [false, true]) {
      it(`matches a triple loop (transA=${tA}, transB=${tB}) for odd shapes, padded ld, offsets, beta≠0`, () => {
        let seed = 1;
        for (const [M, N, K] of shapes) {
          const batch = 3;
          // Padded leading dims and a batch stride larger than one matrix exercise every index term.
          const lda = (tA ? M : K) + 2;
          const ldb = (tB ? K : N) + 3;
          const ldc = N + 1;
          const rowsA = tA ? K : M;
          const rowsB = tB ? N : K;
          const strideA = rowsA * lda + 5;
          const strideB = rowsB * ldb + 1;
          const strideC = M * ldc + 2;
          const a = rand(4 + batch * strideA, seed++);
          const b = rand(3 + batch * strideB, seed++);
          const c = rand(6 + batch * strideC, seed++);
          const c0 = c.slice();
          B.gemm({ transA: tA, transB: tB, M, N, K, alpha: 0.7, beta: -1.3, a, aOff: 4, lda, strideA, b, bOff: 3, ldb, strideB, c, cOff: 6, ldc, strideC, batch });
          for (let bt = 0; bt < batch; bt++) {
            const ref = naiveGemm(tA, tB, M, N, K, 0.7, -1.3, a, 4 + bt * strideA, lda, b, 3 + bt * strideB, ldb, c0, 6 + bt * strideC, ldc);
            const got = new Float64Array(M * N);
            for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) got[i * N + j] = c[6 + bt * strideC + i * ldc + j];
            expectClose(got, ref, 1e-12, 1e-13);
          }
          // Padding between rows and batches is untouched.
          for (let bt = 0; bt < batch; bt++) {
            for (let i = 0; i < M; i++) expect(c[6 + bt * strideC + i * ldc + N]).toBe(c0[6 + bt * strideC + i * ldc + N]);
          }
          expect(c[0]).toBe(c0[0]);
        }
      });
    }
  }

  it('broadcasts a matrix over the batch with stride 0, and beta = 0 ignores NaN in C', () => {
    const [M, N, K, batch] = [7, 5, 33, 4];
    const a = rand(M * K, 11); // one A shared by all batches (strideA = 0)
    const b = rand(batch * K * N, 12);
    const c = new Float64Array(batch * M * N).fill(NaN);
    B.gemm({ transA: false, transB: false, M, N, K, alpha: 1, beta: 0, a, aOff: 0, lda: K, strideA: 0, b, bOff: 0, ldb: N, strideB: K * N, c, cOff: 0, ldc: N, strideC: M * N, batch });
    for (let bt = 0; bt < batch; bt++) {
      const ref = naiveGemm(false, false, M, N, K, 1, 0, a, 0, K, b, bt * K * N, N, c, 0, N);
      expectClose(c.subarray(bt * M * N, (bt + 1) * M * N), ref, 1e-12, 1e-13);
    }
  });

  it('works in float32 with one rounding of a double accumulation', () => {
    const [M, N, K] = [9, 11, 64];
    const a = Float32Array.from(rand(M * K, 21));
    const b = Float32Array.from(rand(K * N, 22));
    const c = new Float32Array(M * N);
    B.gemm({ transA: false, transB: true, M, N, K, alpha: 1, beta: 0, a, aOff: 0, lda: K, strideA: 0, b, bOff: 0, ldb: K, strideB: 0, c, cOff: 0, ldc: N, strideC: 0, batch: 1 });
    const ref = naiveGemm(false, true, M, N, K, 1, 0, a, 0, K, b, 0, K, c, 0, N);
    expectClose(c, Float32Array.from(ref), 0, 0);
  });

  it('K = 0 gives beta·C, and too-small buffers throw naming the kernel', () => {
    const c = Float64Array.from([1, 2, 3, 4]);
    const e = new Float64Array(0);
    B.gemm({ transA: false, transB: false, M: 2, N: 2, K: 0, alpha: 1, beta: 2, a: e, aOff: 0, lda: 0, strideA: 0, b: e, bOff: 0, ldb: 2, strideB: 0, c, cOff: 0, ldc: 2, strideC: 0, batch: 1 });
    expect(Array.from(c)).toEqual([2, 4, 6, 8]);
    const a = new Float64Array(5);
    const b = new Float64Array(6);
    expect(() =>
      B.gemm({ transA: false, transB: false, M: 2, N: 2, K: 3, alpha: 1, beta: 0, a, aOff: 0, lda: 3, strideA: 0, b, bOff: 0, ldb: 2, strideB: 0, c, cOff: 0, ldc: 2, strideC: 0, batch: 1 }),
    ).toThrow(/gemm: A/);
    expect(() =>
      B.gemm({ transA: false, transB: false, M: 1, N: 1, K: 1, alpha: 1, beta: 0, a: new Float32Array(1), aOff: 0, lda: 1, strideA: 0, b: new Float64Array(1), bOff: 0, ldb: 1, strideB: 0, c, cOff: 0, ldc: 1, strideC: 0, batch: 1 }),
    ).toThrow(/gemm: mixed/);
  });
});

// ---- strided elementwise ------------------------------------------------------------------------------------

describe('strided elementwise', () => {
  const unaryRef: Record<UnaryOp, (x: number) => number> = {
    neg: (x) => -x,
    exp: (x) => Math.exp(x),
    log: (x) => Math.log(x),
    sqrt: (x) => Math.sqrt(x),
    rsqrt: (x) => Math.pow(x, -0.5),
    abs: (x) => (x < 0 ? -x : x),
    sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0),
    tanh: (x) => (Math.exp(2 * x) - 1) / (Math.exp(2 * x) + 1),
    sigmoid: (x) => 1 / (1 + Math.exp(-x)),
    relu: (x) => Math.max(x, 0),
    square: (x) => x * x,
    reciprocal: (x) => 1 / x,
    sin: (x) => Math.sin(x),
    cos: (x) => Math.cos(x),
  };
  const positiveOnly = new Set<UnaryOp>(['log', 'sqrt', 'rsqrt']);

  // A transposed, offset view: logical [3, 4, 5] read from a [5, 4, 3] buffer region (reversed strides).
  const shape = [3, 4, 5];
  const xStrides = [1, 3, 12];

  for (const op of Object.keys(unaryRef) as UnaryOp[]) {
    it(`unary ${op} over a permuted, offset view`, () => {
      const data = rand(7 + 60, 31, 2);
      if (positiveOnly.has(op)) for (let i = 0; i < data.length; i++) data[i] = Math.abs(data[i]) + 0.1;
      data[7] = 0; // exercise sign(0) / relu(0)
      const x: StridedView = { data, offset: 7, strides: xStrides };
      const out = new Float64Array(62).fill(-99);
      B.unary(op, shape, x, out, 2);
      const ref = new Float64Array(60);
      for (let i = 0; i < 60; i++) ref[i] = unaryRef[op](data[stridedOffset(i, shape, x)]);
      expectClose(out.subarray(2), ref, 1e-14, 1e-300);
      expect(out[0]).toBe(-99);
    });
  }

  it('unary propagates NaN through relu, abs and sqrt, but sign(NaN) = sign(-0) = +0 as in ATen', () => {
    const out = new Float64Array(3);
    for (const [k, op] of (['relu', 'abs', 'sqrt'] as UnaryOp[]).entries()) {
      B.unary(op, [], { data: Float64Array.of(NaN), offset: 0, strides: [] }, out, k);
    }
    expect(Array.from(out).every(Number.isNaN)).toBe(true);
    B.unary('sign', [2], { data: Float64Array.of(NaN, -0), offset: 0, strides: [1] }, out, 0);
    expect(Object.is(out[0], 0) && Object.is(out[1], 0)).toBe(true);
  });

  it("binary pow follows C's pow: pow(1, NaN) = 1 and pow(-1, ±Infinity) = 1", () => {
    const out = new Float64Array(4);
    const a: StridedView = { data: Float64Array.of(1, -1, -1, 2), offset: 0, strides: [1] };
    const b: StridedView = { data: Float64Array.of(NaN, Infinity, -Infinity, NaN), offset: 0, strides: [1] };
    B.binary('pow', [4], a, b, out, 0);
    expect(Array.from(out.subarray(0, 3))).toEqual([1, 1, 1]);
    expect(out[3]).toBeNaN();
  });

  const binaryRef: Record<BinaryOp, (a: number, b: number) => number> = {
    add: (a, b) => a + b,
    sub: (a, b) => a - b,
    mul: (a, b) => a * b,
    div: (a, b) => a / b,
    pow: (a, b) => Math.exp(b * Math.log(a)),
    max: (a, b) => (a >= b ? a : b),
    min: (a, b) => (a <= b ? a : b),
    eq: (a, b) => Number(a === b),
    gt: (a, b) => Number(a > b),
    lt: (a, b) => Number(a < b),
  };

  for (const op of Object.keys(binaryRef) as BinaryOp[]) {
    it(`binary ${op} with broadcasting (stride 0) on both sides`, () => {
      // a: [3, 1, 5] broadcast to [3, 4, 5]; b: [4, 1] broadcast to [3, 4, 5], stored with a row padding.
      const shp = [3, 4, 5];
      const ad = rand(15, 41, 2);
      const bd = rand(8, 42, 2);
      if (op === 'pow') for (let i = 0; i < ad.length; i++) ad[i] = Math.abs(ad[i]) + 0.1;
      // Equal values somewhere so eq/max/min see ties.
      bd[0] = ad[0];
      const a: StridedView = { data: ad, offset: 0, strides: [5, 0, 1] };
      const b: StridedView = { data: bd, offset: 0, strides: [0, 2, 0] };
      const out = new Float64Array(60);
      B.binary(op, shp, a, b, out, 0);
      const ref = new Float64Array(60);
      for (let i = 0; i < 60; i++) ref[i] = binaryRef[op](ad[stridedOffset(i, shp, a)], bd[stridedOffset(i, shp, b)]);
      expectClose(out, ref, 1e-14);
    });
  }

  it('binary max/min propagate NaN like torch.maximum', () => {
    const out = new Float64Array(4);
    const nan: StridedView = { data: Float64Array.of(NaN), offset: 0, strides: [0] };
    const one: StridedView = { data: Float64Array.of(1), offset: 0, strides: [0] };
    B.binary('max', [1], nan, one, out, 0);
    B.binary('max', [1], one, nan, out, 1);
    B.binary('min', [1], nan, one, out, 2);
    B.binary('min', [1], one, nan, out, 3);
    expect(Array.from(out).every(Number.isNaN)).toBe(true);
  });

  it('affine over an 8-dim view with a scalar-like broadcast dim', () => {
    const shp = [2, 1, 3, 2, 1, 2, 2, 3];
    const n = prod(shp);
    const data = rand(200, 51);
    // Contiguous strides of a different permutation, plus a 0 stride on a size-1 dim.
    const strides = [1, 0, 2, 6, 0, 12, 24, 48];
    const x: StridedView = { data, offset: 3, strides };
    const out = new Float64Array(n);
    B.affine(shp, x, 2.5, -1, out, 0);
    const ref = new Float64Array(n);
    for (let i = 0; i < n; i++) ref[i] = data[stridedOffset(i, shp, x)] * 2.5 - 1;
    expectClose(out, ref, 0);
  });

  it('copyStrided writes a slice of a larger destination and nothing else', () => {
    // Copy a [4, 3] transposed source into columns 2..4 of a [4, 6] destination (like a cat along dim 1).
    const shp = [4, 3];
    const src: StridedView = { data: rand(12, 61), offset: 0, strides: [1, 4] };
    const dd = new Float64Array(24).fill(7);
    const dst: StridedView = { data: dd, offset: 2, strides: [6, 1] };
    B.copyStrided(shp, src, dst);
    for (let r = 0; r < 4; r++) {
      for (let col = 0; col < 6; col++) {
        const want = col >= 2 && col < 5 ? src.data[r + 4 * (col - 2)] : 7;
        expect(dd[r * 6 + col]).toBe(want);
      }
    }
  });

  it('handles scalar and empty shapes, and rejects bad views', () => {
    const out = new Float64Array(1);
    B.affine([], { data: Float64Array.of(3), offset: 0, strides: [] }, 2, 1, out, 0);
    expect(out[0]).toBe(7);
    B.unary('exp', [0, 5], { data: new Float64Array(0), offset: 0, strides: [5, 1] }, new Float64Array(0), 0);
    expect(() => B.unary('exp', [2, 3], { data: new Float64Array(5), offset: 0, strides: [3, 1] }, new Float64Array(6), 0)).toThrow(/unary: x/);
    expect(() => B.unary('exp', [6], { data: new Float64Array(6), offset: 0, strides: [1] }, new Float64Array(5), 0)).toThrow(/unary: out/);
    expect(() => B.unary('exp', [1, 1, 1, 1, 1, 1, 1, 1, 1], { data: new Float64Array(1), offset: 0, strides: new Array(9).fill(0) }, new Float64Array(1), 0)).toThrow(/at most 8/);
    expect(() => B.unary('exp', [2], { data: new Float64Array(2), offset: 0, strides: [1, 1] }, new Float64Array(2), 0)).toThrow(/strides/);
  });

  it('axpy, fill and sumSquares', () => {
    const x = rand(10, 71);
    const y = rand(12, 72);
    const y0 = y.slice();
    B.axpy(8, -0.5, x, 2, y, 3);
    for (let i = 0; i < 12; i++) expect(y[i]).toBeCloseTo(i >= 3 && i < 11 ? y0[i] - 0.5 * x[i - 1] : y0[i], 15);
    const f = new Float32Array(6);
    B.fill(3, 2.5, f, 2);
    expect(Array.from(f)).toEqual([0, 0, 2.5, 2.5, 2.5, 0]);
    const s = Float32Array.from(rand(100, 73));
    let ref = 0;
    for (let i = 5; i < 100; i++) ref += s[i] ** 2;
    expect(B.sumSquares(95, s, 5)).toBeCloseTo(ref, 12);
  });
});

// ---- reductions ---------------------------------------------------------------------------------------------

describe('reductions', () => {
  it('reduceSum over [outer, axis, inner] matches a naive sum', () => {
    const [O, A, I] = [3, 7, 5];
    const x = rand(2 + O * A * I, 81);
    const out = new Float64Array(1 + O * I);
    B.reduceSum(O, A, I, x, 2, out, 1);
    for (let o = 0; o < O; o++) {
      for (let i = 0; i < I; i++) {
        let s = 0;
        for (let a = 0; a < A; a++) s += x[2 + (o * A + a) * I + i];
        expect(out[1 + o * I + i]).toBeCloseTo(s, 14);
      }
    }
    // In place (out starting at x's own offset) gives the same sums.
    const y = x.slice();
    B.reduceSum(O, A, I, y, 2, y, 2);
    expectClose(y.subarray(2, 2 + O * I), out.subarray(1), 1e-15);
  });

  it('reduceMax returns the first index of the max, and the first NaN wins', () => {
    // [outer 1, axis 5, inner 4]; column 0: tie → first; column 1: NaN later; column 2: NaN first; column 3 plain.
    const cols = [
      [1, 3, 3, 2, 0],
      [1, 5, NaN, 9, NaN],
      [NaN, 5, 7, NaN, 1],
      [-4, -2, -3, -1, -5],
    ];
    const x = new Float64Array(20);
    for (let a = 0; a < 5; a++) for (let i = 0; i < 4; i++) x[a * 4 + i] = cols[i][a];
    const out = new Float64Array(4);
    const idx = new Int32Array(4);
    B.reduceMax(1, 5, 4, x, 0, out, 0, idx);
    expect(Array.from(idx)).toEqual([1, 2, 0, 3]);
    expect(out[0]).toBe(3);
    expect(out[1]).toBeNaN();
    expect(out[2]).toBeNaN();
    expect(out[3]).toBe(-1);
  });

  it('reduceMax matches a naive max on random data without idx', () => {
    const [O, A, I] = [4, 9, 3];
    const x = Float32Array.from(rand(O * A * I, 82));
    const out = new Float32Array(O * I);
    B.reduceMax(O, A, I, x, 0, out, 0, null);
    for (let o = 0; o < O; o++) {
      for (let i = 0; i < I; i++) {
        let m = -Infinity;
        for (let a = 0; a < A; a++) m = Math.max(m, x[(o * A + a) * I + i]);
        expect(out[o * I + i]).toBe(m);
      }
    }
    expect(() => B.reduceMax(2, 0, 2, x, 0, out, 0, null)).toThrow(/reduceMax/);
  });
});

// ---- norms --------------------------------------------------------------------------------------------------

describe('layer norm', () => {
  const [N, C, eps] = [4, 7, 1e-5];

  for (const affine of [true, false]) {
    it(`forward matches the formula (affine=${affine})`, () => {
      const x = rand(N * C, 91, 3);
      for (let i = 0; i < N * C; i++) x[i] += 100; // a large mean tests the two-pass variance
      const w = affine ? rand(C, 92) : null;
      const b = affine ? rand(C, 93) : null;
      const out = new Float64Array(N * C);
      const mean = new Float64Array(N);
      const rstd = new Float64Array(N);
      B.layerNormForward(N, C, eps, x, w, b, out, mean, rstd);
      for (let n = 0; n < N; n++) {
        const row = Array.from(x.subarray(n * C, (n + 1) * C));
        const mu = row.reduce((s, v) => s + v, 0) / C;
        const vr = row.reduce((s, v) => s + (v - mu) ** 2, 0) / C;
        expect(mean[n]).toBeCloseTo(mu, 12);
        expect(rstd[n]).toBeCloseTo(1 / Math.sqrt(vr + eps), 10);
        for (let i = 0; i < C; i++) {
          const y = ((row[i] - mu) / Math.sqrt(vr + eps)) * (w ? w[i] : 1) + (b ? b[i] : 0);
          expect(out[n * C + i]).toBeCloseTo(y, 10);
        }
      }
    });

    it(`backward matches finite differences (affine=${affine}); dw/db accumulate`, () => {
      const x = rand(N * C, 94, 2);
      const w = affine ? rand(C, 95) : null;
      const b = affine ? rand(C, 96) : null;
      const G = rand(N * C, 97); // loss = Σ G ⊙ out
      const loss = (): number => {
        const out = new Float64Array(N * C);
        B.layerNormForward(N, C, eps, x, w, b, out, new Float64Array(N), new Float64Array(N));
        return dot(G, out);
      };
      const out = new Float64Array(N * C);
      const mean = new Float64Array(N);
      const rstd = new Float64Array(N);
      B.layerNormForward(N, C, eps, x, w, b, out, mean, rstd);
      const dx = new Float64Array(N * C);
      const dw = affine ? new Float64Array(C).fill(0.25) : null;
      const db = affine ? new Float64Array(C).fill(-0.5) : null;
      B.layerNormBackward(N, C, G, x, w, mean, rstd, dx, dw, db);
      expectGrad(dx, numGrad(x, loss));
      if (affine) {
        expectGrad(dw!.map((v) => v - 0.25), numGrad(w!, loss));
        expectGrad(db!.map((v) => v + 0.5), numGrad(b!, loss));
      }
    });
  }

  it('rejects short buffers', () => {
    expect(() => B.layerNormForward(2, 3, eps, new Float64Array(5), null, null, new Float64Array(6), new Float64Array(2), new Float64Array(2))).toThrow(
      /layerNormForward: x needs 6/,
    );
  });
});

describe('RMS norm', () => {
  const [N, C, eps] = [3, 9, 1e-6];
  for (const withW of [true, false]) {
    it(`forward matches the formula and backward matches finite differences (weight=${withW})`, () => {
      const x = rand(N * C, 101, 2);
      const w = withW ? rand(C, 102) : null;
      const out = new Float64Array(N * C);
      const rstd = new Float64Array(N);
      B.rmsNormForward(N, C, eps, x, w, out, rstd);
      for (let n = 0; n < N; n++) {
        let ms = 0;
        for (let i = 0; i < C; i++) ms += x[n * C + i] ** 2 / C;
        for (let i = 0; i < C; i++) expect(out[n * C + i]).toBeCloseTo((x[n * C + i] / Math.sqrt(ms + eps)) * (w ? w[i] : 1), 12);
      }
      const G = rand(N * C, 103);
      const loss = (): number => {
        const o = new Float64Array(N * C);
        B.rmsNormForward(N, C, eps, x, w, o, new Float64Array(N));
        return dot(G, o);
      };
      const dx = new Float64Array(N * C);
      const dw = withW ? new Float64Array(C).fill(1) : null;
      B.rmsNormBackward(N, C, G, x, w, rstd, dx, dw);
      expectGrad(dx, numGrad(x, loss));
      if (withW) expectGrad(dw!.map((v) => v - 1), numGrad(w!, loss));
    });
  }
});

// ---- activations --------------------------------------------------------------------------------------------

describe('erf', () => {
  // Reference values of erf / erfc (tabulated, e.g. Abramowitz & Stegun; extended precision).
  const erfTable: [number, number][] = [
    [0, 0],
    [0.1, 0.1124629160182849],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [1.5, 0.9661051464753108],
    [2, 0.9953222650189527],
    [3, 0.9999779095030014],
  ];
  const erfcTable: [number, number][] = [
    [2, 0.004677734981047266],
    [3, 2.209049699858544e-5],
    [5, 1.5374597944280349e-12],
    [10, 2.088487583762545e-45],
  ];
  it('matches tabulated values (odd symmetry, erfc tail with full relative precision)', () => {
    for (const [x, v] of erfTable) {
      expect(Math.abs(erf(x) - v)).toBeLessThan(2e-16);
      expect(Math.abs(erf(-x) + v)).toBeLessThan(2e-16);
    }
    for (const [x, v] of erfcTable) {
      expect(Math.abs(erfc(x) - v) / v).toBeLessThan(1e-13);
      expect(Math.abs(erfc(-x) - (2 - v))).toBeLessThan(4e-16);
    }
    expect(erf(Infinity)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
  });

  it('has derivative 2/√π·exp(-x²) everywhere, across the series / continued-fraction seam at 2', () => {
    for (let x = -5; x <= 5; x += 0.173) {
      const h = 1e-5;
      const fd = (erf(x + h) - erf(x - h)) / (2 * h);
      const d = (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x);
      expect(Math.abs(fd - d)).toBeLessThan(1e-9);
    }
    for (const x of [1.9999999, 2, 2.0000001]) expect(Math.abs(erf(x) - erf(2) - (2 / Math.sqrt(Math.PI)) * Math.exp(-4) * (x - 2))).toBeLessThan(1e-15);
  });
});

describe('GELU and SiLU', () => {
  const n = 41;
  // Spread over [-6, 6] so both tails and the middle are covered.
  const xs = (): Float64Array => Float64Array.from({ length: n }, (_, i) => -6 + (12 * i) / (n - 1) + 0.013);

  it('GELU tanh form matches 0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))', () => {
    const x = xs();
    const out = new Float64Array(n);
    B.geluForward(n, true, x, out);
    for (let i = 0; i < n; i++) {
      const v = x[i];
      const ref = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
      expect(out[i]).toBeCloseTo(ref, 14);
    }
  });

  it('GELU exact form matches x·Φ(x) by numerical integration of the normal density', () => {
    const x = Float64Array.of(-3, -1, -0.25, 0.5, 2.5);
    const out = new Float64Array(5);
    B.geluForward(5, false, x, out);
    for (let i = 0; i < 5; i++) {
      // Φ(x) = ½ + ∫₀ˣ φ, Simpson's rule with 2000 panels.
      const m = 2000;
      const hh = x[i] / m;
      let s = 0;
      for (let k = 0; k <= m; k++) {
        const t = k * hh;
        const wgt = k === 0 || k === m ? 1 : k % 2 ? 4 : 2;
        s += wgt * Math.exp(-t * t / 2);
      }
      const Phi = 0.5 + (s * hh) / 3 / Math.sqrt(2 * Math.PI);
      expect(out[i]).toBeCloseTo(x[i] * Phi, 12);
    }
  });

  for (const approximate of [true, false]) {
    it(`GELU backward (approximate=${approximate}) matches finite differences, in place on dout`, () => {
      const x = xs();
      const G = rand(n, 111);
      const loss = (): number => {
        const o = new Float64Array(n);
        B.geluForward(n, approximate, x, o);
        return dot(G, o);
      };
      const num = numGrad(x, loss);
      const d = G.slice();
      B.geluBackward(n, approximate, x, d, d); // dx aliases dout
      expectGrad(d, num);
      // out aliasing x in the forward gives the same values as a separate out.
      const sep = new Float64Array(n);
      B.geluForward(n, approximate, x, sep);
      const inPlace = x.slice();
      B.geluForward(n, approximate, inPlace, inPlace);
      expect(Array.from(inPlace)).toEqual(Array.from(sep));
    });
  }

  it('SiLU forward matches x/(1+e^-x) and backward matches finite differences', () => {
    const x = xs();
    x[0] = -800; // exp(800) would overflow in a naive sigmoid; the result must still be (-)0-ish, not NaN
    const out = new Float64Array(n);
    B.siluForward(n, x, out);
    for (let i = 1; i < n; i++) expect(out[i]).toBeCloseTo(x[i] / (1 + Math.exp(-x[i])), 14);
    expect(Math.abs(out[0])).toBeLessThan(1e-300);
    x[0] = -6.5;
    const G = rand(n, 112);
    const loss = (): number => {
      const o = new Float64Array(n);
      B.siluForward(n, x, o);
      return dot(G, o);
    };
    const dx = new Float64Array(n);
    B.siluBackward(n, x, G, dx);
    expectGrad(dx, numGrad(x, loss));
  });
});

describe('softmax', () => {
  const [N, C] = [3, 11];
  it('forward matches exp/sum (stable for large logits, in place)', () => {
    const x = rand(N * C, 121, 4);
    for (let i = 0; i < C; i++) x[C + i] += 1000; // row 1 would overflow exp without the max shift
    const ref = new Float64Array(N * C);
    for (let r = 0; r < N; r++) {
      const shift = r === 1 ? 1000 : 0;
      let s = 0;
      for (let i = 0; i < C; i++) s += Math.exp(x[r * C + i] - shift);
      for (let i = 0; i < C; i++) ref[r * C + i] = Math.exp(x[r * C + i] - shift) / s;
    }
    B.softmaxForward(N, C, x, x);
    expectClose(x, ref, 1e-12);
  });

  it('a row holding NaN, or all -Infinity, becomes all NaN (as in PyTorch); other rows are unaffected', () => {
    const x = Float64Array.of(1, NaN, 2, -Infinity, -Infinity, -Infinity, 0, 0, Math.log(2));
    const y = new Float64Array(9);
    B.softmaxForward(3, 3, x, y);
    expect(Array.from(y.subarray(0, 6)).every(Number.isNaN)).toBe(true);
    expectClose(y.subarray(6), [0.25, 0.25, 0.5], 1e-15);
  });

  it('backward matches finite differences, in place on dy', () => {
    const x = rand(N * C, 122, 2);
    const G = rand(N * C, 123);
    const loss = (): number => {
      const y = new Float64Array(N * C);
      B.softmaxForward(N, C, x, y);
      return dot(G, y);
    };
    const y = new Float64Array(N * C);
    B.softmaxForward(N, C, x, y);
    const d = G.slice();
    B.softmaxBackward(N, C, y, d, d);
    expectGrad(d, numGrad(x, loss));
  });
});

// ---- cross-entropy and embedding ---------------------------------------------------------------------------

describe('cross-entropy', () => {
  const [N, V, ignore] = [5, 13, -100];
  const targets = Int32Array.of(3, 0, ignore, 12, 7);

  it('forward matches -log_softmax[target]; ignored rows give 0; lse is the log-sum-exp', () => {
    const logits = rand(N * V, 131, 3);
    for (let j = 0; j < V; j++) logits[3 * V + j] -= 700; // stability far from 0
    const losses = new Float64Array(N).fill(NaN);
    const lse = new Float64Array(N);
    B.crossEntropyForward(N, V, ignore, logits, targets, losses, lse);
    for (let n = 0; n < N; n++) {
      const row = Array.from(logits.subarray(n * V, (n + 1) * V));
      const c = n === 3 ? -700 : 0;
      const l = c + Math.log(row.reduce((s, v) => s + Math.exp(v - c), 0));
      expect(lse[n]).toBeCloseTo(l, 10);
      if (targets[n] === ignore) expect(losses[n]).toBe(0);
      else expect(losses[n]).toBeCloseTo(-(row[targets[n]] - l), 10);
    }
  });

  it('backward matches finite differences of Σ scale·loss, in place over the logits', () => {
    const logits = rand(N * V, 132, 2);
    const scale = rand(N, 133);
    const loss = (): number => {
      const ls = new Float64Array(N);
      B.crossEntropyForward(N, V, ignore, logits, targets, ls, new Float64Array(N));
      return dot(scale, ls);
    };
    const num = numGrad(logits, loss);
    const lse = new Float64Array(N);
    B.crossEntropyForward(N, V, ignore, logits, targets, new Float64Array(N), lse);
    const d = logits.slice();
    B.crossEntropyBackward(N, V, ignore, d, targets, lse, scale, d);
    expectGrad(d, num);
    for (let j = 0; j < V; j++) expect(d[2 * V + j]).toBe(0);
  });

  it('throws on a target out of range', () => {
    expect(() => B.crossEntropyForward(1, 3, -100, new Float64Array(3), Int32Array.of(3), new Float64Array(1), new Float64Array(1))).toThrow(
      /crossEntropyForward: target 3/,
    );
  });
});

describe('embedding', () => {
  it('forward gathers rows; backward accumulates repeated ids; bad ids throw', () => {
    const [rows, C] = [6, 4];
    const w = rand(rows * C, 141);
    const ids = Int32Array.of(2, 5, 2, 0);
    const out = new Float64Array(ids.length * C);
    B.embeddingForward(ids.length, C, ids, w, out);
    for (let n = 0; n < ids.length; n++) for (let i = 0; i < C; i++) expect(out[n * C + i]).toBe(w[ids[n] * C + i]);
    const dout = rand(ids.length * C, 142);
    const dw = new Float64Array(rows * C).fill(1);
    B.embeddingBackward(ids.length, C, ids, dout, dw);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < C; i++) {
        let s = 1;
        for (let n = 0; n < ids.length; n++) if (ids[n] === r) s += dout[n * C + i];
        expect(dw[r * C + i]).toBeCloseTo(s, 15);
      }
    }
    expect(() => B.embeddingForward(1, C, Int32Array.of(6), w, new Float64Array(C))).toThrow(/embeddingForward: id 6/);
    expect(() => B.embeddingBackward(1, C, Int32Array.of(-1), dout, dw)).toThrow(/embeddingBackward: id -1/);
  });
});

// ---- attention ----------------------------------------------------------------------------------------------

describe('attention', () => {
  interface Cfg {
    B: number;
    H: number;
    Hkv: number;
    T: number;
    S: number;
    D: number;
    causal: boolean;
    window: number;
    mask: 'none' | 'padding' | 'per-batch';
  }

  /** Builds the inputs with q, k, v sliced out of one fused [B, S, 3, Hmax, D]-like buffer (strided views). */
  function setup(c: Cfg, seed: number) {
    const Hm = Math.max(c.H, c.Hkv);
    const L = Math.max(c.T, c.S);
    const tokStride = 3 * Hm * c.D;
    const fused = rand(c.B * L * tokStride, seed);
    const view = (slot: number): AttnView => ({ data: fused, off: slot * Hm * c.D, sb: L * tokStride, sh: c.D, st: tokStride });
    let mask: AttentionParams['mask'] = null;
    if (c.mask !== 'none') {
      const md = new Float64Array(c.B * c.T * c.S);
      const r = rng(seed + 1);
      for (let i = 0; i < md.length; i++) md[i] = r() < 0.25 ? -Infinity : r() - 0.5;
      // 'padding' shares one [T, S] mask across the batch (sb = 0); 'per-batch' has its own per batch.
      mask = c.mask === 'padding' ? { data: md, off: 0, sb: 0, st: c.S } : { data: md, off: 0, sb: c.T * c.S, st: c.S };
    }
    const p: AttentionParams = { B: c.B, H: c.H, Hkv: c.Hkv, T: c.T, S: c.S, D: c.D, scale: 1 / Math.sqrt(c.D), causal: c.causal, window: c.window, q: view(0), k: view(1), v: view(2), mask };
    return { p, fused };
  }

  const at = (v: AttnView, b: number, h: number, t: number, d: number): number => v.data[v.off + b * v.sb + h * v.sh + t * v.st + d];

  /** Explicit [T, S] score matrix → masked softmax → weighted sum, per (b, h). */
  function naive(p: AttentionParams): { out: Float64Array; lse: Float64Array } {
    const { B: Bn, H, Hkv, T, S, D } = p;
    const out = new Float64Array(Bn * H * T * D);
    const lse = new Float64Array(Bn * H * T);
    for (let b = 0; b < Bn; b++) {
      for (let h = 0; h < H; h++) {
        const g = h / (H / Hkv) | 0;
        for (let i = 0; i < T; i++) {
          const scores: number[] = [];
          for (let j = 0; j < S; j++) {
            let s = 0;
            for (let d = 0; d < D; d++) s += at(p.q, b, h, i, d) * at(p.k, b, g, j, d);
            s *= p.scale;
            const qpos = i + S - T;
            if (p.causal && j > qpos) s = -Infinity;
            if (p.window > 0 && j <= qpos - p.window) s = -Infinity;
            if (p.mask) s += p.mask.data[p.mask.off + b * p.mask.sb + i * p.mask.st + j];
            scores.push(s);
          }
          const m = Math.max(...scores);
          const o = ((b * H + h) * T + i) * D;
          if (m === -Infinity) {
            lse[(b * H + h) * T + i] = -Infinity;
            continue;
          }
          const e = scores.map((s) => Math.exp(s - m));
          const z = e.reduce((a, x) => a + x, 0);
          lse[(b * H + h) * T + i] = m + Math.log(z);
          for (let j = 0; j < S; j++) for (let d = 0; d < D; d++) out[o + d] += (e[j] / z) * at(p.v, b, g, j, d);
        }
      }
    }
    return { out, lse };
  }

  const contiguous = (data: Float64Array, H: number, L: number, D: number, off = 0): AttnView => ({ data, off, sb: H * L * D, sh: L * D, st: D });

  const cfgs: [string, Cfg][] = [
    ['plain MHA', { B: 2, H: 2, Hkv: 2, T: 4, S: 4, D: 5, causal: false, window: 0, mask: 'none' }],
    ['causal GQA (4 query heads on 2 kv heads)', { B: 1, H: 4, Hkv: 2, T: 5, S: 5, D: 4, causal: true, window: 0, mask: 'none' }],
    ['causal with a cached prefix (S > T), MQA', { B: 2, H: 3, Hkv: 1, T: 3, S: 7, D: 4, causal: true, window: 0, mask: 'none' }],
    ['causal sliding window', { B: 1, H: 2, Hkv: 1, T: 6, S: 8, D: 3, causal: true, window: 3, mask: 'none' }],
    ['additive mask shared over the batch (sb = 0)', { B: 2, H: 2, Hkv: 2, T: 4, S: 6, D: 3, causal: false, window: 0, mask: 'padding' }],
    ['causal + per-batch mask + GQA', { B: 2, H: 4, Hkv: 2, T: 5, S: 6, D: 4, causal: true, window: 0, mask: 'per-batch' }],
    ['window without causal + mask (window only bounds keys from below)', { B: 1, H: 2, Hkv: 2, T: 4, S: 6, D: 3, causal: false, window: 2, mask: 'padding' }],
  ];

  for (const [name, c] of cfgs) {
    it(`forward matches explicit scores → softmax → sum: ${name}`, () => {
      const { p } = setup(c, 151);
      const outBuf = new Float64Array(c.B * c.H * c.T * c.D + 3).fill(NaN);
      const lse = new Float64Array(c.B * c.H * c.T);
      B.attentionForward(p, contiguous(outBuf, c.H, c.T, c.D, 3), lse);
      const ref = naive(p);
      expectClose(outBuf.subarray(3), ref.out, 1e-12, 1e-14);
      expectClose(lse, ref.lse, 1e-12, 1e-14);
    });

    it(`backward matches finite differences: ${name}`, () => {
      const { p, fused } = setup(c, 161);
      const nOut = c.B * c.H * c.T * c.D;
      const G = rand(nOut, 162);
      const loss = (): number => {
        const o = new Float64Array(nOut);
        B.attentionForward(p, contiguous(o, c.H, c.T, c.D), new Float64Array(c.B * c.H * c.T));
        return dot(G, o);
      };
      const out = new Float64Array(nOut);
      const lse = new Float64Array(c.B * c.H * c.T);
      B.attentionForward(p, contiguous(out, c.H, c.T, c.D), lse);
      // Gradients land in a buffer laid out like the fused input, so dq/dk/dv views mirror q/k/v exactly;
      // prefilled with garbage to check that they are overwritten, not accumulated.
      const grads = new Float64Array(fused.length).fill(123);
      const gv = (v: AttnView): AttnView => ({ ...v, data: grads });
      B.attentionBackward(p, contiguous(out, c.H, c.T, c.D), lse, contiguous(G, c.H, c.T, c.D), gv(p.q), gv(p.k), gv(p.v));
      // Finite differences over the whole fused buffer; entries outside every view have gradient 0 there, and
      // must keep the garbage in `grads` — compare only entries covered by some view.
      const num = numGrad(fused, loss);
      const covered = new Uint8Array(fused.length);
      const cover = (v: AttnView, heads: number, len: number) => {
        for (let b = 0; b < c.B; b++) for (let h = 0; h < heads; h++) for (let t = 0; t < len; t++) for (let d = 0; d < c.D; d++) covered[v.off + b * v.sb + h * v.sh + t * v.st + d] = 1;
      };
      cover(p.q, c.H, c.T);
      cover(p.k, c.Hkv, c.S);
      cover(p.v, c.Hkv, c.S);
      const a: number[] = [];
      const nm: number[] = [];
      for (let i = 0; i < fused.length; i++) {
        if (covered[i]) {
          a.push(grads[i]);
          nm.push(num[i]);
        } else {
          expect(grads[i]).toBe(123);
        }
      }
      expectGrad(a, nm);
    });
  }

  it('float32 buffers agree with the float64 explicit formula to f32 precision', () => {
    const c: Cfg = { B: 1, H: 4, Hkv: 2, T: 6, S: 9, D: 8, causal: true, window: 4, mask: 'per-batch' };
    const { p } = setup(c, 191);
    const ref = naive(p);
    const f = (v: AttnView): AttnView => ({ ...v, data: Float32Array.from(v.data) });
    const p32: AttentionParams = { ...p, q: f(p.q), k: f(p.k), v: f(p.v), mask: { ...p.mask!, data: Float32Array.from(p.mask!.data) } };
    const out = new Float32Array(c.H * c.T * c.D);
    const lse = new Float32Array(c.H * c.T);
    B.attentionForward(p32, { data: out, off: 0, sb: 0, sh: c.T * c.D, st: c.D }, lse);
    expectClose(out, ref.out, 1e-5, 1e-6);
    expectClose(lse, ref.lse, 1e-6, 1e-6);
  });

  it('a fully masked row gives zeros, lse = -Infinity, and no gradient', () => {
    // Causal with T > S: the first T - S queries see no key at all; plus a mask row of all -Infinity.
    const c: Cfg = { B: 1, H: 2, Hkv: 1, T: 4, S: 3, D: 3, causal: true, window: 0, mask: 'none' };
    const { p } = setup(c, 171);
    const md = new Float64Array(c.T * c.S);
    md.fill(-Infinity, 2 * c.S, 3 * c.S); // query 2 fully masked by the mask
    p.mask = { data: md, off: 0, sb: 0, st: c.S };
    const n = c.H * c.T * c.D;
    const out = new Float64Array(n).fill(NaN);
    const lse = new Float64Array(c.H * c.T);
    B.attentionForward(p, contiguous(out, c.H, c.T, c.D), lse);
    const ref = naive(p);
    expectClose(out, ref.out, 1e-12, 1e-14);
    for (let h = 0; h < c.H; h++) {
      expect(lse[h * c.T + 0]).toBe(-Infinity); // query 0 sits at key position -1
      expect(lse[h * c.T + 2]).toBe(-Infinity);
      expect(Number.isFinite(lse[h * c.T + 3])).toBe(true);
      for (const i of [0, 2]) for (let d = 0; d < c.D; d++) expect(out[(h * c.T + i) * c.D + d]).toBe(0);
    }
    const G = rand(n, 172);
    const dq = new Float64Array(n).fill(5);
    const dk = new Float64Array(c.S * c.D).fill(5);
    const dv = new Float64Array(c.S * c.D).fill(5);
    B.attentionBackward(p, contiguous(out, c.H, c.T, c.D), lse, contiguous(G, c.H, c.T, c.D), contiguous(dq, c.H, c.T, c.D), contiguous(dk, 1, c.S, c.D), contiguous(dv, 1, c.S, c.D));
    for (let h = 0; h < c.H; h++) for (const i of [0, 2]) for (let d = 0; d < c.D; d++) expect(dq[(h * c.T + i) * c.D + d]).toBe(0);
    expect(dk.every(Number.isFinite)).toBe(true);
  });

  it('rejects H not a multiple of Hkv and views that overrun their buffer', () => {
    const c: Cfg = { B: 1, H: 3, Hkv: 2, T: 2, S: 2, D: 2, causal: false, window: 0, mask: 'none' };
    const { p } = setup(c, 181);
    expect(() => B.attentionForward(p, contiguous(new Float64Array(12), 3, 2, 2), new Float64Array(6))).toThrow(/multiple of Hkv/);
    p.Hkv = 3;
    p.H = 3;
    expect(() => B.attentionForward(p, contiguous(new Float64Array(11), 3, 2, 2), new Float64Array(6))).toThrow(/attentionForward: out/);
  });
});

// ---- rope ---------------------------------------------------------------------------------------------------

describe('rope', () => {
  const [rows, D, P] = [6, 8, 10];
  const half = D / 2;
  const tables = () => {
    const cos = new Float64Array(P * half);
    const sin = new Float64Array(P * half);
    for (let pos = 0; pos < P; pos++) {
      for (let i = 0; i < half; i++) {
        const th = pos * Math.pow(10000, (-2 * i) / D);
        cos[pos * half + i] = Math.cos(th);
        sin[pos * half + i] = Math.sin(th);
      }
    }
    return { cos, sin };
  };
  const rowPos = Int32Array.of(0, 3, 9, 1, 1, 7);

  it('forward matches x·cos + rotate_half(x)·sin with full-width tables', () => {
    const { cos, sin } = tables();
    const x = rand(2 + rows * D, 191);
    const out = new Float64Array(1 + rows * D);
    B.rope(rows, D, x, 2, rowPos, cos, sin, false, out, 1);
    for (let r = 0; r < rows; r++) {
      const xr = Array.from(x.subarray(2 + r * D, 2 + (r + 1) * D));
      const rot = [...xr.slice(half).map((v) => -v), ...xr.slice(0, half)]; // rotate_half
      for (let i = 0; i < D; i++) {
        const c = cos[rowPos[r] * half + (i % half)];
        const s = sin[rowPos[r] * half + (i % half)];
        expect(out[1 + r * D + i]).toBeCloseTo(xr[i] * c + rot[i] * s, 14);
      }
    }
  });

  it('inverse undoes forward (in place), and is the backward (finite differences)', () => {
    const { cos, sin } = tables();
    const x = rand(rows * D, 192);
    const y = x.slice();
    B.rope(rows, D, y, 0, rowPos, cos, sin, false, y, 0);
    expect(Math.max(...y.map((v, i) => Math.abs(v - x[i])))).toBeGreaterThan(1e-3);
    B.rope(rows, D, y, 0, rowPos, cos, sin, true, y, 0);
    expectClose(y, x, 1e-12, 1e-14);

    const G = rand(rows * D, 193);
    const loss = (): number => {
      const o = new Float64Array(rows * D);
      B.rope(rows, D, x, 0, rowPos, cos, sin, false, o, 0);
      return dot(G, o);
    };
    const dx = new Float64Array(rows * D);
    B.rope(rows, D, G, 0, rowPos, cos, sin, true, dx, 0);
    expectGrad(dx, numGrad(x, loss));
  });

  it('throws on a position outside the tables and on odd D', () => {
    const { cos, sin } = tables();
    expect(() => B.rope(1, D, new Float64Array(D), 0, Int32Array.of(P), cos, sin, false, new Float64Array(D), 0)).toThrow(/rope: position 10/);
    expect(() => B.rope(1, 3, new Float64Array(3), 0, Int32Array.of(0), cos, sin, false, new Float64Array(3), 0)).toThrow(/even/);
  });
});

// ---- AdamW --------------------------------------------------------------------------------------------------

describe('adamw', () => {
  it('three steps match the PyTorch formula written out by hand', () => {
    const n = 17;
    const [lr, b1, b2, eps, wd] = [1e-2, 0.9, 0.999, 1e-8, 0.1];
    const param = rand(n, 201);
    const m = new Float64Array(n);
    const v = new Float64Array(n);
    // Hand-written reference state.
    const rp = Array.from(param);
    const rm = new Array<number>(n).fill(0);
    const rv = new Array<number>(n).fill(0);
    for (let t = 1; t <= 3; t++) {
      const grad = rand(n, 210 + t);
      B.adamw(n, param, grad, m, v, lr, b1, b2, eps, wd, t);
      for (let i = 0; i < n; i++) {
        rp[i] = rp[i] - lr * wd * rp[i];
        rm[i] = b1 * rm[i] + (1 - b1) * grad[i];
        rv[i] = b2 * rv[i] + (1 - b2) * grad[i] * grad[i];
        const mHat = rm[i] / (1 - b1 ** t);
        const vHat = rv[i] / (1 - b2 ** t);
        rp[i] = rp[i] - (lr * mHat) / (Math.sqrt(vHat) + eps);
      }
      expectClose(m, rm, 1e-13, 1e-16);
      expectClose(v, rv, 1e-13, 1e-18);
      expectClose(param, rp, 1e-13, 1e-15);
    }
  });

  it('rejects a 0-based step', () => {
    const a = new Float64Array(1);
    expect(() => B.adamw(1, a, a, a, a, 1e-3, 0.9, 0.999, 1e-8, 0, 0)).toThrow(/adamw: step/);
  });
});

// ---- float32 ------------------------------------------------------------------------------------------------

describe('float32 buffers', () => {
  // The same generic code runs on f32: each kernel on f32-rounded inputs must agree with its own f64 run on the
  // same (rounded) values to f32 precision — catching any path that only works, or only rounds right, in f64.
  const [N, C] = [3, 10];
  const x64 = Float64Array.from(Float32Array.from(rand(N * C, 301, 2)));
  const w64 = Float64Array.from(Float32Array.from(rand(C, 302)));
  const g64 = Float64Array.from(Float32Array.from(rand(N * C, 303)));
  type Run = (x: Buf, w: Buf, g: Buf, mk: (n: number) => Buf) => Buf[];
  const kernels: [string, Run][] = [
    ['layerNorm fwd+bwd', (x, w, g, mk) => {
      const [out, mean, rstd, dx, dw, db] = [mk(N * C), mk(N), mk(N), mk(N * C), mk(C), mk(C)];
      B.layerNormForward(N, C, 1e-5, x, w, w, out, mean, rstd);
      B.layerNormBackward(N, C, g, x, w, mean, rstd, dx, dw, db);
      return [out, dx, dw, db];
    }],
    ['rmsNorm fwd+bwd', (x, w, g, mk) => {
      const [out, rstd, dx, dw] = [mk(N * C), mk(N), mk(N * C), mk(C)];
      B.rmsNormForward(N, C, 1e-6, x, w, out, rstd);
      B.rmsNormBackward(N, C, g, x, w, rstd, dx, dw);
      return [out, dx, dw];
    }],
    ['gelu/silu fwd+bwd', (x, _w, g, mk) => {
      const r = [mk(N * C), mk(N * C), mk(N * C), mk(N * C), mk(N * C), mk(N * C)];
      B.geluForward(N * C, true, x, r[0]);
      B.geluForward(N * C, false, x, r[1]);
      B.geluBackward(N * C, true, x, g, r[2]);
      B.geluBackward(N * C, false, x, g, r[3]);
      B.siluForward(N * C, x, r[4]);
      B.siluBackward(N * C, x, g, r[5]);
      return r;
    }],
    ['softmax + cross-entropy fwd+bwd', (x, _w, g, mk) => {
      const [y, dx, losses, lse, dl] = [mk(N * C), mk(N * C), mk(N), mk(N), mk(N * C)];
      B.softmaxForward(N, C, x, y);
      B.softmaxBackward(N, C, y, g, dx);
      const t = Int32Array.of(1, 9, 4);
      B.crossEntropyForward(N, C, -1, x, t, losses, lse);
      const sc = mk(N);
      sc.fill(1 / N);
      B.crossEntropyBackward(N, C, -1, x, t, lse, sc, dl);
      return [y, dx, losses, lse, dl];
    }],
    ['rope + adamw', (x, w, g, mk) => {
      const out = mk(N * C);
      const cs = mk(4 * 5);
      const sn = mk(4 * 5);
      for (let i = 0; i < 20; i++) [cs[i], sn[i]] = [Math.cos(i * 0.37), Math.sin(i * 0.37)];
      B.rope(N, C, x, 0, Int32Array.of(3, 0, 2), cs, sn, false, out, 0);
      const p = mk(C);
      p.set(w);
      const [m, v] = [mk(C), mk(C)];
      for (let t = 1; t <= 2; t++) B.adamw(C, p, g, m, v, 1e-2, 0.9, 0.999, 1e-8, 0.01, t);
      return [out, p, m, v];
    }],
  ];
  for (const [name, run] of kernels) {
    it(name, () => {
      const r64 = run(x64, w64, g64, (n) => new Float64Array(n));
      const r32 = run(Float32Array.from(x64), Float32Array.from(w64), Float32Array.from(g64), (n) => new Float32Array(n));
      r32.forEach((a, k) => {
        expect(a).toBeInstanceOf(Float32Array);
        expectClose(a, r64[k], 2e-5, 2e-6);
      });
    });
  }
});
