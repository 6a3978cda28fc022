// Read-ahead in decode loops (native/src/pool.cpp): while the main thread is away between two matrix-vector
// products, the pool's worker reads the start of the weight that followed the last product the previous time.
// It may change no result, it must actually read when there is time to, and it must never touch memory outside
// the arrays the scope names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GemmArgmaxParams, GemmParams } from '../../src/tensor/backend.js';
import { setNativeReadAhead, setNativeSpinMicros } from '../../src/tensor/native_backend.js';
import { PATHS, expectBitwise, native, randn, usePath } from './helpers.js';

const K = 256;
// The three kinds of decode product that report where they read: a [in, out] weight split over k, an
// [out, in] weight split over columns, and the greedy LM head.
const wIn = randn(K * 512, 1); // K×512
const wOut = randn(1024 * K, 2); // 1024×K, transposed
const head = randn(4096 * K, 3); // 4096×K, transposed
const x = randn(K, 4);

function product(b: Float32Array, N: number, transB: boolean): Float32Array {
  const c = new Float32Array(N);
  const p: GemmParams = {
    transA: false, transB, M: 1, N, K, alpha: 1, beta: 0, a: x, aOff: 0, lda: K, strideA: 0,
    b, bOff: 0, ldb: transB ? K : N, strideB: 0, c, cOff: 0, ldc: N, strideC: 0, batch: 1,
  };
  native().gemm(p);
  return c;
}

function pick(): number {
  const p: GemmArgmaxParams = { transA: false, transB: true, M: 1, N: 4096, K, alpha: 1, a: x, aOff: 0, lda: K, b: head, bOff: 0, ldb: K };
  const out = new Int32Array(1);
  native().gemmArgmax(p, out);
  return out[0]!;
}

/** Busy JS for `ms`: the gap in which the worker reads ahead. */
function away(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* spin */
  }
}

/** Three "tokens" of the three products with gaps between them; what each token computed. */
function decodeLoop(gapMs: number): { a: Float32Array; b: Float32Array; idx: number }[] {
  const out = [];
  for (let t = 0; t < 3; t++) {
    const a = product(wIn, 512, false);
    away(gapMs);
    const b = product(wOut, 1024, true);
    away(gapMs);
    out.push({ a, b, idx: pick() });
    away(gapMs);
  }
  return out;
}

describe.runIf(PATHS.length > 0)('native read-ahead', () => {
  let spin = 0;
  beforeAll(() => {
    usePath(PATHS[0]!, 2, 'read-ahead');
    // Keep the worker spinning (not asleep) through the gaps, as a decode loop does.
    spin = setNativeSpinMicros(200_000);
  });
  afterAll(() => {
    setNativeReadAhead([]);
    setNativeSpinMicros(spin);
  });

  it('reads ahead between the products of a loop and changes none of their results', () => {
    setNativeReadAhead([]);
    const plain = decodeLoop(0);
    setNativeReadAhead([wIn, wOut, head, x]);
    const ahead = decodeLoop(3);
    const read = setNativeReadAhead([]);
    console.log(`read ahead: ${(read / 1024).toFixed(0)} KiB over three tokens`);
    // The first token teaches the order; later ones post a read-ahead after every product, and 3 ms is ample.
    expect(read).toBeGreaterThan(0);
    for (const [t, r] of ahead.entries()) {
      expectBitwise(r.a, plain[t]!.a, `token ${t}, [in, out] product`);
      expectBitwise(r.b, plain[t]!.b, `token ${t}, [out, in] product`);
      expect(r.idx, `token ${t}, greedy pick`).toBe(plain[t]!.idx);
    }
  });

  it('never reads memory outside the arrays of the scope', () => {
    setNativeReadAhead([new Float32Array(1 << 20)]);
    decodeLoop(2);
    expect(setNativeReadAhead([])).toBe(0);
    // And outside any scope nothing is read either.
    decodeLoop(2);
    expect(setNativeReadAhead([])).toBe(0);
  });

  it('rejects anything but an array of typed arrays', () => {
    expect(() => setNativeReadAhead([{} as unknown as Float32Array])).toThrow(/typed arrays/);
    expect(setNativeReadAhead([])).toBe(0);
  });
});
