import { describe, expect, it } from 'vitest';
import { withAutocast } from '../../src/tensor/autocast.js';
import { addLinear, fromArray, linear, noGrad } from '../../src/tensor/index.js';

const x = () => fromArray(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3]);
const w = () => fromArray(Float32Array.of(0.5, -1, 2, 0.25, 1, -0.5), [2, 3]);

describe('addLinear', () => {
  it('never writes into a tensor the caller passed without inPlace', () => {
    const mem = Float32Array.of(1, 2, 3, 4);
    const out = noGrad(() => addLinear(fromArray(mem, [2, 2]), x(), w(), 2));
    expect([...mem]).toEqual([1, 2, 3, 4]);
    expect([...out.flatBuf()]).toEqual([1 + 2 * 4.5, 2 + 2 * 0.75, 3 + 2 * 9, 4 + 2 * 3]);
  });

  it('with inPlace writes over a fresh intermediate, but still not over caller-owned memory', () => {
    const mem = Float32Array.of(1, 2, 3, 4);
    noGrad(() => addLinear(fromArray(mem, [2, 2]), x(), w(), 2, { inPlace: true }));
    expect([...mem]).toEqual([1, 2, 3, 4]);
    noGrad(() => {
      const acc = fromArray(mem, [2, 2]).mul(1); // a fresh result nobody else reads
      const out = addLinear(acc, x(), w(), 2, { inPlace: true });
      expect(out.storage).toBe(acc.storage);
      expect([...out.flatBuf()]).toEqual([10, 3.5, 21, 10]);
    });
  });

  it('under bf16 autocast equals linear() plus a sum (bf16 operands and product), as before the fusion', () => {
    const acc = fromArray(Float32Array.of(0.1, 0.2, 0.3, 0.4), [2, 2]);
    const xs = fromArray(Float32Array.of(1.001, 2.003, 3.007, 4.011, 5.013, 6.017), [2, 3]);
    const got = withAutocast('bf16', () => noGrad(() => addLinear(acc, xs, w(), 0.37)));
    const want = withAutocast('bf16', () => noGrad(() => acc.add(linear(xs, w(), null, 'out_in').mul(0.37))));
    expect([...got.flatBuf()]).toEqual([...want.flatBuf()]);
    const plain = noGrad(() => addLinear(acc, xs, w(), 0.37));
    expect([...plain.flatBuf()]).not.toEqual([...got.flatBuf()]); // autocast really rounds
  });
});

describe('linear with a bias', () => {
  it('takes a bias of another float dtype, converted to the output as filling the rows converted it', () => {
    const b32 = fromArray(Float32Array.of(0.1, -0.3), [2]);
    const b64 = fromArray(Float64Array.of(0.1, -0.3), [2]);
    for (const layout of ['out_in', 'in_out'] as const) {
      const wl = layout === 'out_in' ? w() : fromArray(Float32Array.of(0.5, 0.25, -1, 1, 2, -0.5), [3, 2]);
      const want = noGrad(() => linear(x(), wl, b32, layout));
      const got = noGrad(() => linear(x(), wl, b64, layout));
      expect(got.dtype).toBe('f32');
      expect([...got.flatBuf()]).toEqual([...want.flatBuf()]);
      // The bias row on every row of x·W.
      const bare = noGrad(() => linear(x(), wl, null, layout)).flatBuf();
      expect([...want.flatBuf()]).toEqual([...bare].map((v, i) => Math.fround(v + (i % 2 ? Math.fround(-0.3) : Math.fround(0.1)))));
    }
  });
});
